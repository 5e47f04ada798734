// Diagnostics to stderr, filtered by the global -q/-v level. Results a command
// prints go through cmd/, never through here.
#pragma once
#include <string>

namespace mlo::log {

enum class Level { quiet = 0, normal = 1, verbose = 2 };

void set_level(Level level);
Level level();
void set_color(bool enabled);
bool color();

void warn(const std::string& message);   // shown unless -q
void info(const std::string& message);   // shown unless -q
void debug(const std::string& message);  // shown with -v

}  // namespace mlo::log
