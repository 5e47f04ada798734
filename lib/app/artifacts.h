// Registered model artifacts in any clone. A version registered in a
// teammate's clone names its artifact by hash; the bytes are on the remote.
// Commands that need them (deploy, batch scoring, `mlo models get`, monitor's
// reference by lineage) ask Repo::ensure_objects, and the fetcher installed
// here downloads what the cache lacks from the default remote, verified like
// every download (git's promisor remotes work the same way).
#pragma once
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>

namespace mlo {
class Repo;
}

namespace mlo::app {

// Installs the object fetcher (Repo::ensure_objects) that downloads from the
// repository's default remote. Cheap: it opens nothing until first called.
void install_remote_fetcher();

struct ModelGetResult {
  std::string name, version, tag;
  std::string sha256;
  std::string type;               // "file" or "dir"
  std::filesystem::path path;     // what was written
  std::uint64_t bytes = 0;        // bytes written
  std::size_t files = 0;          // files written
  std::size_t fetched = 0;        // objects downloaded from the remote
};

// `mlo models get REF [-o OUT]`, like `mlflow artifacts download` / `dvc get`:
// writes the exact registered bytes of REF's artifact to OUT (default: the
// artifact's own name in the current folder; into OUT when OUT is an existing
// folder). Refuses to overwrite an existing file or non-empty folder unless
// `force`. Throws InputError for an unknown ref, a version without a
// recorded artifact hash, or an existing OUT; RemoteError when the remote
// lacks the bytes.
ModelGetResult get_model(Repo& repo, const std::string& ref, const std::filesystem::path& out, bool force);

}  // namespace mlo::app
