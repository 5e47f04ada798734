/* Fault injector for tests/cli/data_unnamed_fallback.sh (LD_PRELOAD): a file
 * system without unnamed files (UNNAMED_SHIM=no_tmpfile: openat with
 * O_TMPFILE fails with EOPNOTSUPP, as on some network file systems), or a
 * process that may not link a descriptor by AT_EMPTY_PATH
 * (UNNAMED_SHIM=no_empty_path: ENOENT, as without CAP_DAC_READ_SEARCH on
 * older kernels). Each refusal appends a line to $UNNAMED_SHIM_LOG, so the
 * test knows the fault was met. Everything else is the real mlo. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void note(const char *what) {
  const char *log = getenv("UNNAMED_SHIM_LOG");
  if (!log) return;
  FILE *f = fopen(log, "a");
  if (!f) return;
  fprintf(f, "%s\n", what);
  fclose(f);
}

static int mode_is(const char *want) {
  const char *m = getenv("UNNAMED_SHIM");
  return m && strcmp(m, want) == 0;
}

static int refuse_open(int flags) {
  if ((flags & O_TMPFILE) != O_TMPFILE || !mode_is("no_tmpfile")) return 0;
  note("O_TMPFILE refused");
  errno = EOPNOTSUPP;
  return 1;
}

int openat(int dirfd, const char *path, int flags, ...) {
  static int (*real)(int, const char *, int, ...);
  if (!real) real = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat");
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  if (refuse_open(flags)) return -1;
  return real(dirfd, path, flags, mode);
}

/* The same function under its large-file name. */
int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags) {
  static int (*real)(int, const char *, int, const char *, int);
  if (!real) real = (int (*)(int, const char *, int, const char *, int))dlsym(RTLD_NEXT, "linkat");
  if ((flags & AT_EMPTY_PATH) && mode_is("no_empty_path")) {
    note("AT_EMPTY_PATH refused");
    errno = ENOENT;
    return -1;
  }
  return real(olddirfd, oldpath, newdirfd, newpath, flags);
}
