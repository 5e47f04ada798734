/* Fault injector for tests/cli/data_faults.sh (LD_PRELOAD): write() to a file
 * whose path contains $ENOSPC_PATH_MATCH fails with ENOSPC, as on a full disk.
 * The only fake in the data tests: everything else is the real mlo. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ssize_t (*real_write)(int, const void *, size_t);

ssize_t write(int fd, const void *buf, size_t count) {
  if (!real_write) real_write = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
  const char *match = getenv("ENOSPC_PATH_MATCH");
  if (match && *match) {
    char link[64], target[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, target, sizeof target - 1);
    if (len > 0) {
      target[len] = 0;
      if (strstr(target, match)) {
        errno = ENOSPC;
        return -1;
      }
    }
  }
  return real_write(fd, buf, count);
}
