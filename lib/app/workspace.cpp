#include "app/workspace.h"

#include "pipeline/lock_file.h"
#include "repo/repo.h"

namespace mlo::app {

StatusResult workspace_status(Repo& repo, const std::vector<std::string>& paths) {
  return data_status(repo, paths, lock_outputs(repo.root()));
}

CheckoutResult workspace_checkout(Repo& repo, const std::vector<std::string>& paths, CheckoutOptions options) {
  options.outputs = lock_outputs(repo.root());
  return data_checkout(repo, paths, options);
}

}  // namespace mlo::app
