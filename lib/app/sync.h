// Push, fetch and remote status for a repository. This layer decides which
// objects move (pointer files, directory manifests, run records, stage
// outputs); lib/remote only moves the hashes it is handed.
#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "app/pushed_trees.h"
#include "remote/remotes.h"
#include "remote/run_lists.h"
#include "core/hash_set.h"
#include "remote/transfer.h"

namespace mlo {
class Repo;
}

namespace mlo::app {

using remote::RemoteConfig;
using remote::TransferStats;

struct SyncRequest {
  std::string remote;              // empty: the default remote
  std::vector<std::string> paths;  // user paths (data, pointers or folders); empty: everything
  unsigned jobs = 0;               // 0: the remote's `jobs` option, else 8
  bool progress = false;
  // With no paths: also the run records (lib/pipeline/runs.h) with their
  // logs, the outputs of runs that succeeded (the shared run cache) and
  // what mlo.lock names.
  bool runs = true;
  // fetch/pull: also every registered model version's artifact (push always
  // sends the ones this cache holds, when given no paths).
  bool models = false;
};

struct SyncResult {
  RemoteConfig remote;
  std::vector<std::string> pointers;  // repo-relative pointer files involved
  TransferStats stats;
  std::size_t runs = 0;                   // runs pushed / fetched (new to the other side)
  std::uint64_t known_files = 0;          // push: files in folders an earlier push recorded as on the remote (not looked at)
  std::vector<std::string> runs_missing;
  std::size_t model_objects = 0;            // fetch --models: registered artifacts' objects fetched
  std::vector<std::string> models_missing;  // fetch --models: artifact objects the remote lacks  // fetch: run objects the remote lacks (not an error)
};

SyncResult push(Repo& repo, const SyncRequest& request);
// Downloads what the tracked data needs and the cache lacks (manifests
// first, then the files they list).
SyncResult fetch(Repo& repo, const SyncRequest& request);

// Per pointer: what the remote lacks and what the cache lacks. A directory
// whose manifest the cache lacks (a fresh clone) has it fetched from the
// remote first (small, verified like any download), so every file is known.
struct RemoteStatusEntry {
  std::string pointer;
  std::string path;
  std::string stage;                 // a stage output's stage (pointer "mlo.lock"); "" for a pointer file
  std::size_t objects = 0;           // objects it needs (files + the manifest)
  std::size_t missing_remote = 0;    // of those, not on the remote
  std::size_t missing_cache = 0;     // of those, not in the cache
  bool manifest_known = true;        // false: a directory manifest on neither side
  // Data paths (repo-relative) whose bytes the remote (the cache) lacks,
  // the first kMaxListedLacks in walk order; the counts above count all.
  std::vector<std::string> remote_lacks;
  std::vector<std::string> cache_lacks;
};
// A fresh clone's cache lacks every file: the lists stop here.
inline constexpr std::size_t kMaxListedLacks = 10000;
struct RemoteStatus {
  RemoteConfig remote;
  std::vector<RemoteStatusEntry> entries;
  std::size_t manifests_fetched = 0;  // directory manifests downloaded to answer
};
RemoteStatus remote_status(Repo& repo, const SyncRequest& request);

// The pointer files under the given user paths (all when empty), and the
// objects they need that can be known from the cache (a directory whose
// manifest is not cached contributes only the manifest's hash).
struct NeededObjects {
  std::vector<std::string> pointers;
  HashSet objects;  // 32 bytes a hash, one for every file (push walks in batches instead)
  std::map<std::string, std::set<std::string>> by_pointer;  // only when asked for (a second copy of every hash)
  bool whole = true;  // false: a folder object was missing from the cache, so some files are not named
};
NeededObjects needed_objects(Repo& repo, const std::vector<std::string>& paths, bool per_pointer = false);

}  // namespace mlo::app
