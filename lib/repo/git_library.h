// Whether libgit2 can be loaded. On x86-64 Linux it is loaded on first use
// (git_loader.cpp), and a missing library ends the process at the first git
// call; `mlo doctor` asks here first so that it can report it instead.
#pragma once
#include <optional>
#include <string>

namespace mlo {

// Why libgit2 cannot be loaded ("libgit2.so.1.5: cannot open ..."), or
// nothing when it can (or is linked, and so already loaded).
std::optional<std::string> libgit2_load_error();

}  // namespace mlo
