// Rendering of an end-to-end remote check, shared by 'mlo fsck --remote'
// (cmd/maint.cpp) and 'mlo push --verify' (cmd/remote.cpp).
#pragma once
#include "command.h"
#include "app/verify_remote.h"

namespace mlo::cli {

// The check as JSON (for --json output).
nlohmann::json remote_check_json(const app::RemoteCheck& c);
// Prints what is missing or damaged (text mode) and sets exit code 1 when
// the check failed, with a hint that says how to repair the remote.
void report_remote_check(Context& ctx, const app::RemoteCheck& c, bool print_json);

}  // namespace mlo::cli
