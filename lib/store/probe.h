// Which link modes work between two folders (the work tree and the cache),
// found by trying each one on a small scratch file. Used by `mlo doctor`.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "store/cache.h"

namespace mlo {

struct LinkProbe {
  LinkMode mode;
  bool works = false;
  std::string detail;  // why not (the system error), or a remark
};

// Creates a scratch file in `from_dir`, then tries to reflink, hardlink,
// symlink and copy it into `to_dir`; removes everything it made. Throws
// InputError when from_dir can not be written at all.
std::vector<LinkProbe> probe_link_modes(const std::filesystem::path& from_dir, const std::filesystem::path& to_dir);

// The file system type of a path ("ext4", "btrfs", "xfs", "tmpfs", ... or a
// hex magic number).
std::string filesystem_type(const std::filesystem::path& path);

}  // namespace mlo
