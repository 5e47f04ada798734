#include "core/log.h"

#include <cstdio>
#include <mutex>

namespace mlo::log {
namespace {
Level g_level = Level::normal;
bool g_color = false;
std::mutex g_mutex;

void emit(const char* prefix, const char* colour, const std::string& message) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_color && colour)
    std::fprintf(stderr, "%s%s\033[0m%s\n", colour, prefix, message.c_str());
  else
    std::fprintf(stderr, "%s%s\n", prefix, message.c_str());
}
}  // namespace

void set_level(Level level) { g_level = level; }
Level level() { return g_level; }
void set_color(bool enabled) { g_color = enabled; }
bool color() { return g_color; }

void warn(const std::string& message) {
  if (g_level >= Level::normal) emit("warning: ", "\033[33m", message);
}
void info(const std::string& message) {
  if (g_level >= Level::normal) emit("", nullptr, message);
}
void debug(const std::string& message) {
  if (g_level >= Level::verbose) emit("debug: ", "\033[2m", message);
}

}  // namespace mlo::log
