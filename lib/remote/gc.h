// `mlo gc --remote NAME`: removes from a remote what no kept root (see
// data/references.h) needs. Packs younger than the grace period are never
// touched (a concurrent push may be about to reference them); a pack whose
// blobs are all unneeded is removed (index first, so readers stop seeing it,
// then the pack); a pack with some needed blobs is rewritten with only
// those (new pack + index written before the old ones are removed).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/references.h"

namespace mlo {
class Repo;
}

namespace mlo::remote {

struct RemoteGcOptions {
  std::string remote;  // empty: the default remote
  ReferenceScope scope;
  std::vector<ReferenceSource> extra_sources;
  std::int64_t grace_seconds = 24 * 3600;
  bool dry_run = false;
  bool skip_broken = false;
  unsigned jobs = 8;
};

struct RemoteGcResult {
  std::string remote;
  bool dry_run = false;
  std::size_t packs = 0;            // packs on the remote
  std::size_t packs_recent = 0;     // younger than the grace period: untouched
  std::vector<std::string> removed_packs;    // all blobs unneeded
  std::vector<std::string> rewritten_packs;  // some blobs unneeded
  std::size_t blobs_removed = 0;
  std::uint64_t bytes_removed = 0;  // compressed bytes freed on the remote
  std::size_t blobs_kept = 0;
  References refs;
};

RemoteGcResult remote_gc(Repo& repo, const RemoteGcOptions& options);

}  // namespace mlo::remote
