#!/usr/bin/env bash
# The work a pull does per file, counted in system calls (issue 14: a pull of
# 10,000 files made about 36 calls a file: a reflink tried and failed for every
# file with a second temp file after it, every fetched object read and hashed
# again by the checkout, a chmod, stats and getpid per object). Counts do not
# move with load, so this is a test, not a benchmark (tests/bench/pull.sh
# times it against cp -r and rsync -a).
source "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || fail "strace is needed (.ci/debian-packages.txt)"
FILES=400

new_repo a
/usr/bin/python3 - "$FILES" <<'PY'
import os, sys
for i in range(int(sys.argv[1])):
    d = f"data/d{i % 4}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i}.bin", "wb") as f:
        f.write(os.urandom(2048))
PY
# The add, counted too: each small file is opened, read once (its size is
# known: no read for end-of-file), copied into a temp object created
# read-only (no chmod) and renamed into place. 11.6 calls a file at 400
# files (with the fan-out folders and the index), 13.6 before; the total
# allows 13 a file and 200 for threads and folders.
strace -f -c -S calls -o "$TEST_TMP/add_strace.txt" "$MLO" -q data add data || fail "add under strace"
pass
# strace_count FILE NAME [errors]: how many NAME calls (or how many failed)
# an `strace -c` summary in FILE counts.
strace_count() { awk -v n="$2" -v col="${3:-calls}" '$NF == n { print (col == "errors" ? (NF == 6 ? $5 : 0) : $4); f = 1 }
                                                  END { if (!f) print 0 }' "$1"; }
add_calls() { strace_count "$TEST_TMP/add_strace.txt" "$@"; }
echo "add of $FILES files: $(add_calls total) system calls"
[ "$(add_calls chmod)" -le 4 ] || fail "$(add_calls chmod) chmod calls in the add"
pass
# One read a file plus the index's and the runtime's own (437 here, 465 under
# ASan; two a file was 800+).
[ "$(add_calls read)" -le $((FILES * 3 / 2)) ] || fail "$(add_calls read) read calls in the add (a second read a file?)"
pass
if ! sanitized_build; then
  [ "$(add_calls total)" -le $((FILES * 13 + 200)) ] || fail "$(add_calls total) system calls to add $FILES files:
$(head -20 "$TEST_TMP/add_strace.txt")"
  pass
fi
expect_ok remote add origin "$TEST_TMP/remote"
git add -A && git commit -qm data || fail "commit"
expect_ok push
git clone -q "$TEST_TMP/a" "$TEST_TMP/b" && cd "$TEST_TMP/b" || fail "clone"

strace -f -c -S calls -o "$TEST_TMP/strace.txt" "$MLO" -q pull || fail "pull under strace"
pass
expect_eq "$(cd data && find . -type f -exec sha256sum {} + | sort)" \
          "$(cd "$TEST_TMP/a/data" && find . -type f -exec sha256sum {} + | sort)" "pulled files"
expect_ok data status --exit-code

calls() { strace_count "$TEST_TMP/strace.txt" "$@"; }  # the pull's
total=$(calls total)
echo "pull of $FILES files: $total system calls ($((total / FILES)) a file)"
# Per file now: fetch (stat, open, write, close, rename) and checkout (two
# opens, fstat, copy, two closes, rename) plus planning; 36 before.
if sanitized_build; then
  echo "sanitizer build: the total is not checked (the runtime's own calls)"
else
  [ "$total" -le $((FILES * 18)) ] || fail "$total system calls for $FILES files (more than 18 a file):
$(head -20 "$TEST_TMP/strace.txt")"
  pass
fi
# A file system without reflinks is learned once, not once per file (each
# of the parallel workers may try before the first failure is known).
[ "$(calls ioctl errors)" -le 16 ] || fail "$(calls ioctl errors) failed ioctl calls (FICLONE retried per file)"
pass
# Objects are written read-only from the start (no chmod per object), and
# the checkout does not read back what the fetch just verified: the only
# reads of objects are the kernel's copies (copy_file_range).
[ "$(calls chmod)" -le 4 ] || fail "$(calls chmod) chmod calls"
pass
[ "$(calls read)" -le $((FILES / 2)) ] || fail "$(calls read) read calls (objects read back after the fetch?)"
pass
[ "$(calls getpid)" -le 40 ] || fail "$(calls getpid) getpid calls (one a temp file?)"
pass

# A second pull into a fresh workspace from the same cache still checks the
# objects it did not fetch (a damaged cache object is found, not copied).
rm -rf data
obj=$(find .mlo/cache/objects -type f -size 2048c | head -1)
chmod u+w "$obj" && printf 'damaged' >"$obj"
expect_rc 3 data checkout
expect_err_contains "corrupt"
done_testing
