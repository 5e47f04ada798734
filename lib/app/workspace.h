// `mlo data status`, `mlo data checkout` and the checkout step of `mlo pull`
// over everything a commit pins: pointer data and the stage outputs that
// mlo.lock records (a pipeline's outputs are data too, as in DVC).
#pragma once
#include <string>
#include <vector>

#include "data/data.h"

namespace mlo {
class Repo;
}

namespace mlo::app {

StatusResult workspace_status(Repo& repo, const std::vector<std::string>& paths);
// `options.outputs` is replaced by what mlo.lock records.
CheckoutResult workspace_checkout(Repo& repo, const std::vector<std::string>& paths, CheckoutOptions options);

}  // namespace mlo::app
