#include "remote/verify.h"

#include <cstdlib>

#include "repo/repo.h"

namespace mlo::remote {

RemoteCheck check_remote(Repo& repo, const SyncRequest& request) {
  RemoteCheck out;
  auto backend = open_remote(repo, request.remote, &out.remote);
  NeededObjects need = needed_objects(repo, request.paths);
  for (const auto& [pointer, hashes] : need.by_pointer)
    for (const auto& h : hashes) out.needed_by.emplace(h, pointer);
  TransferOptions options;
  options.jobs = request.jobs;
  if (options.jobs == 0) {
    int configured = std::atoi(out.remote.option("jobs", "8").c_str());
    options.jobs = configured > 0 ? static_cast<unsigned>(configured) : 8;
  }
  out.report = verify_objects(*backend, index_cache_dir(repo.cache_dir(), out.remote.url), need.objects, options);
  return out;
}

}  // namespace mlo::remote
