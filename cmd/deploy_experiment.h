// mlo deploy experiment plan|status (A/B experiments), added under `mlo deploy`.
#pragma once
#include "command.h"

namespace mlo::cli {
void register_deploy_experiment(CLI::App& deploy, Context& ctx);
}
