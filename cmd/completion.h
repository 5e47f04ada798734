// Shared by completion (cmd/completion.cpp) and main's "did you mean" for options.
#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace mlo::cli {

// The option names of `app` as typed: --long and -s (no positionals).
std::vector<std::string> option_names(const CLI::App& app);

}  // namespace mlo::cli
