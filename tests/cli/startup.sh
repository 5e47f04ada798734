#!/usr/bin/env bash
# Start-up (issue 14): what the dynamic loader must map on every start, and the
# fast paths keep their output. Fails if OpenSSL (or, where the static archives
# exist, sqlite3/yaml-cpp/zstd/libstdc++) comes back as a shared library.
source "$(dirname "$0")/lib.sh"
command -v readelf >/dev/null || skip "readelf (binutils) is not installed"
needed=$(readelf -d "$MLO" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
for lib in libcrypto libssl libcurl libgit2; do
  [[ "$needed" != *"$lib"* ]] || fail "mlo links $lib at start-up (load it on first use): $needed"
  pass
done
libdir=$(dirname "$(gcc -print-file-name=libc.so 2>/dev/null || echo /usr/lib/x86_64-linux-gnu/libc.so)")
if [ -e "$libdir/libsqlite3.a" ] && [ -e "$libdir/libyaml-cpp.a" ] && [ -e "$libdir/libzstd.a" ]; then
  static_libs="libsqlite3 libyaml-cpp libzstd"
  # Sanitizer and fuzz builds keep the shared libstdc++ (CMakeLists.txt).
  cache=${MLO_BUILD_DIR:-}/CMakeCache.txt
  grep -qE '^MLO_SANITIZE:STRING=.+|^MLO_FUZZ:BOOL=ON' "$cache" 2>/dev/null || static_libs+=" libstdc++"
  for lib in $static_libs; do
    [[ "$needed" != *"$lib"* ]] || fail "mlo links $lib dynamically although its static archive exists: $needed"
    pass
  done
fi

# `mlo --version` answers before the command table exists; with other words it
# still goes through the parser.
expect_ok --version
expect_eq "$OUT" "mlo $(sed -n 's/^project(mlo VERSION \([0-9.]*\).*/\1/p' "$MLO_SOURCE_DIR/CMakeLists.txt")" "--version"
expect_ok --version -q
expect_out_contains "mlo "
# Summary-only commands carry no -h of their own, yet the top help keeps -h
# first and every command's own help still works.
expect_ok --help
first_option=$(printf '%s\n' "$OUT" | sed -n '/^Options:/{n;p;q}')
[[ "$first_option" == *"-h,--help"* ]] || fail "mlo --help lists '$first_option' first, not -h,--help"
pass
expect_out_contains "data"
# The command list (cmd/command.h HelpFormatter): one "Subcommands:" block,
# every declared command in it once, the hidden helpers left out.
expect_ok help
expect_eq "$(grep -c '^Subcommands:$' <<<"$OUT")" "1" "Subcommands: headers in mlo help"
[[ "$OUT" != *"__complete"* ]] || fail "mlo help lists the hidden __complete"
pass
for word in init data run register deploy monitor; do
  expect_eq "$(grep -c "^  $word  " <<<"$OUT")" "1" "lines for '$word' in mlo help"
done
# `mlo help` lists summaries CLI11 never saw (HelpFormatter::list_only);
# `mlo --help` and `mlo help` print the same text.
help_text=$OUT
expect_ok --help
expect_eq "$OUT" "$help_text" "mlo --help against mlo help"
# help runs after -C is applied: a bad directory is an error, no help printed.
expect_rc 3 -C "$TEST_TMP/no-such-dir" help
expect_err_contains "cannot change to directory"
expect_eq "$OUT" "" "stdout of help with a bad -C"
expect_ok runs -h
expect_out_contains "mlo runs"
expect_ok help runs
expect_out_contains "mlo runs"
expect_rc 2 datta
expect_err_contains "did you mean 'mlo data'"
# A subcommand asked for is built without its siblings (cmd/command.h): its
# help is whole, a typo still gets "did you mean", the group's help lists
# them all, and a sibling's name after it is an argument, as before.
expect_ok data status -h
expect_out_contains "Usage: mlo data status"
expect_out_contains "Limit to these tracked paths"
expect_ok data -h
expect_out_contains "commit"
expect_out_contains "schema"
expect_rc 2 data chekout
expect_err_contains "did you mean 'mlo data checkout'"
new_repo r
expect_rc 3 data status add
expect_err_contains "add: not tracked by mlo"
# With nothing tracked, status opens neither the index nor the cache.
rm -f .mlo/index.db .mlo/index.db-wal .mlo/index.db-shm
expect_ok data status
expect_out_contains "up to date (0 paths)"
expect_no_file .mlo/index.db
# One tracked file: the index is opened (and made again), status is right.
echo one >one.txt
expect_ok data add one.txt
expect_ok --json data status
expect_json "d['clean'] and len(d['entries']) == 1"
expect_file .mlo/index.db
done_testing
