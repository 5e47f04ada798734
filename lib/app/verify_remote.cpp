#include "app/verify_remote.h"

#include <cstdlib>

#include "repo/repo.h"

namespace mlo::app {

RemoteCheck check_remote(Repo& repo, const SyncRequest& request) {
  RemoteCheck out;
  auto backend = remote::open_remote(repo, request.remote, &out.remote);
  NeededObjects need = needed_objects(repo, request.paths, true);
  for (const auto& [pointer, hashes] : need.by_pointer)
    for (const auto& h : hashes) out.needed_by.emplace(h, pointer);
  remote::TransferOptions options;
  options.jobs = request.jobs;
  if (options.jobs == 0) {
    int configured = std::atoi(out.remote.option("jobs", "8").c_str());
    options.jobs = configured > 0 ? static_cast<unsigned>(configured) : 8;
  }
  std::set<std::string> objects;
  need.objects.for_each([&](const std::string& h) { objects.insert(h); });
  out.report = remote::verify_objects(*backend, remote::index_cache_dir(repo.cache_dir(), out.remote.url), objects, options);
  return out;
}

}  // namespace mlo::app
