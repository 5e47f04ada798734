/* Fault injector for tests/cli/data_faults.sh (LD_PRELOAD): write() or
 * copy_file_range() to a file whose path contains $ENOSPC_PATH_MATCH fails
 * with ENOSPC, as on a full disk.
 * The only fake in the data tests: everything else is the real mlo. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_copy_file_range)(int, off_t *, int, off_t *, size_t, unsigned int);

static int disk_full_for(int fd) {
  const char *match = getenv("ENOSPC_PATH_MATCH");
  if (!match || !*match) return 0;
  char link[64], target[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t len = readlink(link, target, sizeof target - 1);
  if (len <= 0) return 0;
  target[len] = 0;
  return strstr(target, match) != NULL;
}

ssize_t write(int fd, const void *buf, size_t count) {
  if (!real_write) real_write = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
  if (disk_full_for(fd)) {
    errno = ENOSPC;
    return -1;
  }
  return real_write(fd, buf, count);
}

ssize_t copy_file_range(int in_fd, off_t *in_off, int out_fd, off_t *out_off, size_t len, unsigned int flags) {
  if (!real_copy_file_range)
    real_copy_file_range = (ssize_t(*)(int, off_t *, int, off_t *, size_t, unsigned int))dlsym(RTLD_NEXT, "copy_file_range");
  if (disk_full_for(out_fd)) {
    errno = ENOSPC;
    return -1;
  }
  return real_copy_file_range(in_fd, in_off, out_fd, out_off, len, flags);
}
