#include "core/unnamed_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

namespace mlo {

UnnamedFile::UnnamedFile(int dir_fd, const char* dir, mode_t mode)
    : fd(::openat(dir_fd, dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, mode)), error(fd ? 0 : errno) {}

namespace {
// AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH on older kernels (ENOENT without
// it); /proc's link to the descriptor works for anyone who may write the
// folder. Learned once a process, so a user without it pays no failed call a file.
std::atomic<bool> empty_path_refused{false};
}  // namespace

bool UnnamedFile::link_as(int dir_fd, const char* name) const {
  int first_error = 0;
  if (!empty_path_refused.load(std::memory_order_relaxed)) {
    if (::linkat(fd.get(), "", dir_fd, name, AT_EMPTY_PATH) == 0) return true;
    if (errno == EEXIST) return false;
    first_error = errno;
  }
  char self[64];
  std::snprintf(self, sizeof self, "/proc/self/fd/%d", fd.get());
  if (::linkat(AT_FDCWD, self, dir_fd, name, AT_SYMLINK_FOLLOW) != 0) return false;
  if (first_error == ENOENT) empty_path_refused.store(true);
  return true;
}

bool UnnamedFile::unsupported() const { return error == EOPNOTSUPP || error == EISDIR || error == EINVAL; }

}  // namespace mlo
