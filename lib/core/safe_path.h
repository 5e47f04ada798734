// The one place where paths that come from outside mlo's own process — a run
// record, manifest, recipe, pack listing, tag message, pointer file or remote
// listing — are checked, and where files are written beneath a root without
// ever following a symbolic link out of it.
//
// Every writer that takes a path from such input calls checked_relative() on
// it, then writes through a TreeWriter rooted at the repository (or the cache,
// or a remote folder). The threat is a teammate's commit or a pushed object:
// a path like "../../home/x", "/etc/x", or a committed symlink "data -> /tmp"
// must never make mlo create, overwrite or delete anything outside the root.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>

#include "core/fs.h"

namespace mlo {

// Returns `rel` when it is a safe relative path: not empty, not absolute, no
// "." / ".." / empty components, no NUL, no backslash, no control characters,
// at most kMaxPathBytes long and kMaxPathDepth components deep. Otherwise
// throws InputError "WHERE: unsafe path 'REL' (WHY)". `where` names the input
// it came from (a file, object or remote listing).
inline constexpr std::size_t kMaxPathBytes = 4096;
inline constexpr std::size_t kMaxPathDepth = 255;
const std::string& checked_relative(const std::string& rel, std::string_view where);
// The same test without throwing; `why` (when given) receives the reason.
bool is_checked_relative(std::string_view rel, std::string* why = nullptr);

// Writes, creates and deletes beneath `root` only. Each operation takes a path
// relative to the root (checked with checked_relative) and refuses, with an
// InputError naming the path, when any existing component of it is a symlink
// or not a folder. The last component itself is never followed either: a
// symlink there is replaced or removed as a link, never written through.
class TreeWriter {
 public:
  explicit TreeWriter(fs::path root, std::string where = "");
  const fs::path& root() const { return root_; }

  // Opens the folder at `rel` ("" = the root), creating missing folders when
  // `create`; every component is opened with O_NOFOLLOW | O_DIRECTORY.
  UniqueFd open_dir(std::string_view rel, bool create) const;
  // Throws when an existing component of `rel`'s parent folders is a symlink or
  // not a folder; creates the missing parents when `create`.
  void check_parents(std::string_view rel, bool create = false) const;
  // Moves the file `temp` (anywhere on the same file system) to `rel`,
  // replacing what is there (a file or a symlink; a folder is an error).
  void place(const fs::path& temp, std::string_view rel) const;
  // Writes `data` atomically to `rel` (temp file in the same folder, fsync when durable).
  void write_file(std::string_view rel, std::string_view data, int mode = 0644, bool durable = false) const;
  // Removes `rel` and, if it is a real folder, everything inside it; a symlink
  // is removed as a link. Absent is fine. Returns true when something was removed.
  bool remove_all(std::string_view rel) const;
  // Absolute path of `rel` under the root, after checking it (for reading).
  fs::path resolve(std::string_view rel) const;

 private:
  fs::path root_;
  std::string where_;
};

}  // namespace mlo
