#include "app/workspace.h"

#include <optional>

#include "pipeline/lock_file.h"
#include "repo/lock.h"
#include "repo/repo.h"

namespace mlo::app {

StatusResult workspace_status(Repo& repo, const std::vector<std::string>& paths) {
  return data_status(repo, paths, lock_outputs(repo.root()));
}

CheckoutResult workspace_checkout(Repo& repo, const std::vector<std::string>& paths, CheckoutOptions options) {
  // Not while a `mlo run` writes the outputs and mlo.lock: wait for it, then
  // read mlo.lock again. Without outputs, pointer data needs no such wait.
  std::optional<RepoLock> pipeline;
  if (!lock_outputs(repo.root()).empty()) {
    pipeline.emplace(repo.tmp_dir(), "pipeline", repo.lock_timeout_ms());
    options.outputs = lock_outputs(repo.root());
  }
  return data_checkout(repo, paths, options);
}

}  // namespace mlo::app
