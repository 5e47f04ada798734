// A folder's add without holding its files: the first add of a dataset, or
// any add that cannot trust an old tree. The scan hands each stat group to
// be stored in the cache and recorded in the stat cache, then drops it; the
// tree is then built from the stat cache's rows (which come in path order),
// each folder's rows checked against the digest the scan took. Memory is
// one group plus the folders, as for status, however many files there are.
// Internal to lib/data.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "data/scan.h"
#include "store/cache.h"

namespace mlo {

struct StreamedAdd {
  WorkTree tree;  // its folders (each dropped, with its digest) and stale temps; no files
  std::string root;      // the tree object
  std::uint64_t files = 0, bytes = 0;
  std::uint64_t written = 0;  // folder objects the cache lacked
  FolderHashes folders;       // each folder's object
};

// Refuses a repo-relative path that cannot be stored (data.cpp's check).
using NameCheck = std::function<void(const std::string& repo_rel)>;

// Adds the folder `data_rel` under `root`, its files stored with `modes`
// (not the link modes, which replace every workspace file). nullopt when it
// is not a folder (or does not exist), or when the stat cache's rows do not
// give back what the scan saw (a row lost or damaged, a file gone whose row
// stayed): then the caller scans
// again keeping every file; what was stored stays stored (and recorded, so
// that scan reads none of it again). `files_read` counts the files read
// into the cache (new, changed, their executable bit changed, or their
// object gone) either way.
std::optional<StreamedAdd> add_streaming(Cache& cache, StatCache& sc, const std::filesystem::path& root,
                                         const std::string& data_rel, const std::vector<LinkMode>& modes,
                                         unsigned jobs, const NameCheck& check_name, std::uint64_t& files_read);

}  // namespace mlo
