#pragma once
// A file with no name yet (O_TMPFILE), made in the folder it will be linked
// into. Why: a pull writes tens of thousands of small files, and staging
// each under a temp name in one shared folder made every thread take that
// folder's lock twice (create, then a rename out of it, which across
// folders also takes the file system's rename lock). An unnamed file locks
// no folder until it is linked, and a kill leaves nothing behind.
#include <sys/types.h>

#include <string>

#include "core/fs.h"

namespace mlo {

struct UnnamedFile {
  // Opens for writing in the folder open as `dir_fd` (AT_FDCWD: `dir` is a
  // path); on failure fd is empty and error holds errno.
  UnnamedFile(int dir_fd, const char* dir, mode_t mode);
  // Links the file in as `name` relative to `dir_fd`. Never replaces:
  // false with errno EEXIST when the name is taken.
  bool link_as(int dir_fd, const char* name) const;
  // True when `error` says the file system has no unnamed files (the caller
  // then writes a named temp file, and need not try again).
  bool unsupported() const;

  UniqueFd fd;
  int error = 0;
};

}  // namespace mlo
