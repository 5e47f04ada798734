// Where the library's progress goes (issue 25): decided here, from the
// global flags and whether stderr is a terminal, never inside lib/.
#pragma once
#include "command.h"
#include "core/live_status.h"

namespace mlo::cli {

// Points the process-wide reporter at stderr: redrawn in place on a
// terminal (no escape codes under TERM=dumb), plain lines in CI
// (CI=true or GITHUB_ACTIONS=true, with ::group:: log groups in the latter),
// off under -q, --json and on a pipe.
void configure_progress(const GlobalOptions& global);

// The same decision for `mlo run`'s live status line: its style follows
// stderr as above; -v streams the stages' output above the line.
LiveStatusSettings live_status_settings(const GlobalOptions& global);

}  // namespace mlo::cli
