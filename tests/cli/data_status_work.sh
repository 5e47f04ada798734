#!/usr/bin/env bash
# `data status` with one file changed does work for the change, not for the
# whole dataset (issue 24): a folder whose recorded objects were all found in
# the cache before, with no object removed since, is not checked object by
# object again (it stat'ed every file's object: 100k calls at 100k files).
# Counted in system calls, which do not move with load. And the shortcut is
# safe: once an object goes, status checks again and names it.
source "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || fail "strace is needed (.ci/debian-packages.txt)"
FILES=300

new_repo a
/usr/bin/python3 - "$FILES" <<'PY'
import sys, os
for i in range(int(sys.argv[1])):
    d = f"data/d{i % 3}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i:04d}.txt", "w") as f:
        f.write(f"file {i}\n")
PY
expect_ok data add data
git add -A && git commit -qm data || fail "commit"
# Warm status records the folder as complete (twice: the first may find an
# object folder changed within the last tick and not trust it).
expect_ok data status --exit-code
expect_ok data status --exit-code

rm -f data/d1/f0001.txt && echo "changed" >data/d1/f0001.txt
strace -f -o "$TEST_TMP/strace.txt" -e trace=stat,lstat,newfstatat,statx,access,faccessat,faccessat2,openat \
  "$MLO" -q --json data status >"$TEST_TMP/status.json" || fail "status under strace"
OUT=$(cat "$TEST_TMP/status.json")
expect_json 'd["entries"][0]["status"] == "modified" and d["entries"][0]["modified"] == ["data/d1/f0001.txt"]'
expect_json 'd["entries"][0]["in_cache"] and not d["entries"][0]["missing"]'
# Objects touched: the recorded folder objects (root and three folders) read
# for the diff, no per-file stat (there were 300 before).
touched=$(grep -cE '\.mlo/cache/objects/[0-9a-f]{2}/' "$TEST_TMP/strace.txt" || true)
echo "status with one file changed touched $touched cache objects ($FILES files)"
[ "$touched" -le 12 ] || fail "status touched $touched cache objects for one changed file (at most 12 expected)"
pass

# Safe: an object of an unchanged file removed from the cache is reported.
gone=$(sha256sum data/d2/f0002.txt | cut -c1-64)
chmod u+w ".mlo/cache/objects/${gone:0:2}" 2>/dev/null
rm -f ".mlo/cache/objects/${gone:0:2}/${gone:2}"
[ ! -e ".mlo/cache/objects/${gone:0:2}/${gone:2}" ] || fail "could not remove the object"
run_mlo --json data status
expect_json 'not d["entries"][0]["in_cache"] and "data/d2/f0002.txt" in d["entries"][0]["missing"]'

done_testing
