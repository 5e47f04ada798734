// Content hashes of deps and outs, behind a small interface so the stat
// cache can be swapped for the data module's one without touching callers.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "data/manifest.h"

namespace mlo {

class Repo;

struct PathHash {
  std::string sha256;      // a file's bytes, or a folder's tree manifest's root (data/tree.h)
  std::uint64_t size = 0;  // bytes (all files of a folder)
  bool dir = false;
  std::uint64_t files = 0;  // folders: number of files
  bool executable = false;  // files
};

class PathHasher {
 public:
  virtual ~PathHasher() = default;
  // Hash of the file or folder at repo-relative `rel`; nullopt when it does
  // not exist. Unchanged files (same inode, mtime_ns, size) are not re-read.
  // Thread-safe.
  virtual std::optional<PathHash> hash(const std::string& rel) = 0;
  // A folder's manifest (files relative to it, with their hashes).
  virtual Manifest manifest(const std::string& rel) = 0;
  // The hash of a folder's flat (version 1) manifest, as mlo 0.2 and earlier
  // recorded folder deps and outs in mlo.lock, so an unchanged folder still
  // matches such a lock; nullopt for a file or nothing. Asked only when the
  // tree hash does not match (it walks the folder again).
  virtual std::optional<std::string> flat_hash(const std::string& rel) = 0;
  // Writes what was learnt back to the stat cache.
  virtual void flush() = 0;
};

// Backed by the data module's stat cache (lib/data/stat_cache.h). Paths are
// looked up under `root` (the work tree when empty). With write_back=false
// nothing learnt is saved (sweeps hash scratch trees). `db_mutex`, when given,
// guards every use of repo.index() (shared with the caller's own queries).
// MLO_FLAT_STAGE_MANIFESTS=1: hash and store stage folders as mlo 0.2 did
// (one flat manifest each), to build the locks of earlier releases in tests.
bool flat_stage_manifests();
// MLO_HASH_STATS=1: each hasher prints, when it is destroyed, how many flat
// manifest hashes it computed (tests check that a tree lock needs none).

std::unique_ptr<PathHasher> make_path_hasher(Repo& repo, std::filesystem::path root = {}, bool write_back = true,
                                             std::mutex* db_mutex = nullptr);

}  // namespace mlo
