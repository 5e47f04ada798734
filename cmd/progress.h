// Where the library's progress goes (issue 25): decided here, from the
// global flags and whether stderr is a terminal, never inside lib/.
#pragma once
#include "command.h"

namespace mlo::cli {

// Points the process-wide reporter at stderr: redrawn in place on a
// terminal (no escape codes under TERM=dumb), plain lines in CI
// (CI=true or GITHUB_ACTIONS=true, with ::group:: log groups in the latter),
// off under -q, --json and on a pipe.
void configure_progress(const GlobalOptions& global);

}  // namespace mlo::cli
