#!/usr/bin/env bash
# `data status` and `data add` with one file changed do work for the change,
# not for the whole dataset (issue 24): a folder whose recorded objects were
# all found in the cache before, with no object removed since, is not checked
# object by object again (both stat'ed every file's object: 100k calls at 100k
# files). Counted in system calls, which do not move with load. And the
# shortcut is safe: once an object goes, status names it and add restores it.
source "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || fail "strace is needed (.ci/debian-packages.txt)"
FILES=300

# tracked_repo NAME FILES FOLDERS : a repo whose data/ holds FILES small
# files in FOLDERS folders (dNN/fNNNN.txt), added, committed, and found clean.
tracked_repo() {
  new_repo "$1"
  /usr/bin/python3 - "$2" "$3" <<'PY'
import sys, os
n, folders = int(sys.argv[1]), int(sys.argv[2])
for i in range(n):
    d = f"data/d{i % folders}"
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
}

tracked_repo a "$FILES" 3

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

# Re-add: the changed file's object, its folder's and the root's, and the
# old folder objects read to know the rest is stored (300 before).
strace -f -o "$TEST_TMP/strace-add.txt" -e trace=stat,lstat,newfstatat,statx,access,faccessat,faccessat2,openat \
  "$MLO" -q data add data || fail "add under strace"
touched=$(grep -cE '\.mlo/cache/objects/[0-9a-f]{2}/' "$TEST_TMP/strace-add.txt" || true)
echo "add with one file changed touched $touched cache objects ($FILES files)"
[ "$touched" -le 20 ] || fail "add touched $touched cache objects for one changed file (at most 20 expected)"
pass
expect_ok data status --exit-code
changed=$(sha256sum data/d1/f0001.txt | cut -c1-64)
expect_file ".mlo/cache/objects/${changed:0:2}/${changed:2}"

# Safe: an object of an unchanged file removed from the cache is reported,
# and a re-add stores it again.
gone=$(sha256sum data/d2/f0002.txt | cut -c1-64)
chmod u+w ".mlo/cache/objects/${gone:0:2}" 2>/dev/null
rm -f ".mlo/cache/objects/${gone:0:2}/${gone:2}"
[ ! -e ".mlo/cache/objects/${gone:0:2}/${gone:2}" ] || fail "could not remove the object"
run_mlo --json data status
expect_json 'not d["entries"][0]["in_cache"] and "data/d2/f0002.txt" in d["entries"][0]["missing"]'
expect_ok data add data
expect_file ".mlo/cache/objects/${gone:0:2}/${gone:2}"
expect_ok data status --exit-code

# An old root manifest damaged in place (its folder's mtime unchanged, so the
# cache looks as complete as before) does not stop a re-add.
expect_ok data status --exit-code
expect_ok data status --exit-code
root=$(sed -n 's/^sha256: *//p' data.mlo)
[ ${#root} = 64 ] || fail "no sha256 in data.mlo"
chmod u+w ".mlo/cache/objects/${root:0:2}/${root:2}" && echo garbage >>".mlo/cache/objects/${root:0:2}/${root:2}" \
  || fail "could not damage the root manifest"
rm -f data/d0/f0003.txt && echo "changed again" >data/d0/f0003.txt
expect_ok data add data
expect_ok data status --exit-code

# Status reads the recorded tree only where it differs from the work tree:
# with 40 folders and one file changed, the root's object and that folder's
# (it read all 41 and compared every file's entry before).
tracked_repo wide 400 40
rm -f data/d7/f0007.txt && echo "changed" >data/d7/f0007.txt
strace -f -o "$TEST_TMP/strace-wide.txt" -e trace=openat "$MLO" -q --json data status >"$TEST_TMP/wide.json" \
  || fail "status under strace"
OUT=$(cat "$TEST_TMP/wide.json")
expect_json 'd["entries"][0]["status"] == "modified" and d["entries"][0]["modified"] == ["data/d7/f0007.txt"]'
expect_json 'not d["entries"][0]["added"] and not d["entries"][0]["removed"]'
read_objects=$(grep -E '\.mlo/cache/objects/[0-9a-f]{2}/' "$TEST_TMP/strace-wide.txt" | grep -vc ENOENT || true)
echo "status with one file changed in 40 folders read $read_objects cache objects"
[ "$read_objects" -le 4 ] || fail "status read $read_objects cache objects for one changed file in 40 folders (at most 4 expected)"
pass
# Re-add compares the same way: it reads the recorded root and the changed
# folder's object, not all 41 (it read every folder object and compared
# every file's entry before, to know which files the cache holds); the
# recorded root once more to check that the unchanged folders standing in
# by their objects are the recorded ones.
strace -f -o "$TEST_TMP/strace-wide-add.txt" -e trace=openat "$MLO" -q --json data add data >"$TEST_TMP/wide-add.json" \
  || fail "add under strace"
read_objects=$(grep -E '\.mlo/cache/objects/[0-9a-f]{2}/' "$TEST_TMP/strace-wide-add.txt" | grep -v ENOENT \
  | grep -c O_RDONLY || true)
echo "add with one file changed in 40 folders read $read_objects cache objects"
[ "$read_objects" -le 5 ] || fail "add read $read_objects cache objects for one changed file in 40 folders (at most 5 expected)"
pass
OUT=$(cat "$TEST_TMP/wide-add.json")
expect_json 'd["added"][0]["manifests_written"] == 2 and d["added"][0]["hashed"] == 1'
expect_ok data status --exit-code
changed=$(sha256sum data/d7/f0007.txt | cut -c1-64)
expect_file ".mlo/cache/objects/${changed:0:2}/${changed:2}"
# A new file in a new folder and a removed folder are listed too.
mkdir -p data/zz && echo new >data/zz/n.txt && rm -rf data/d3
run_mlo --json data status
expect_json 'd["entries"][0]["added"] == ["data/zz/n.txt"]'
expect_json 'len(d["entries"][0]["removed"]) == 10'

# `data diff` against the workspace compares the same way: the workspace is
# built as status builds it (unchanged folders standing in by their
# recorded objects), and only the recorded folders whose hashes differ are
# read: HEAD's root and the changed folder's (all 41, parsed into one flat
# list, before).
expect_ok data add data
git add -A && git commit -qm "one folder added, one removed" || fail "commit"
expect_ok data status --exit-code
expect_ok data status --exit-code
rm -f data/d9/f0009.txt && echo "changed" >data/d9/f0009.txt
mkdir -p data/zy && echo new >data/zy/m.txt && rm -rf data/d4
strace -f -o "$TEST_TMP/strace-diff.txt" -e trace=openat "$MLO" -q --json data diff >"$TEST_TMP/diff.json" \
  || fail "diff under strace"
OUT=$(cat "$TEST_TMP/diff.json")
expect_json '[c["path"] for c in d["modified"]] == ["data/d9/f0009.txt"] and [c["path"] for c in d["added"]] == ["data/zy/m.txt"]'
expect_json 'len(d["deleted"]) == 10 and all(c["path"].startswith("data/d4/") for c in d["deleted"]) and not d["unknown"]'
read_objects=$(grep -E '\.mlo/cache/objects/[0-9a-f]{2}/' "$TEST_TMP/strace-diff.txt" | grep -v ENOENT \
  | grep -c O_RDONLY || true)
echo "diff with one file changed, one folder added and one removed read $read_objects cache objects"
[ "$read_objects" -le 4 ] || fail "diff read $read_objects cache objects (at most 4 expected: the root, d4, d9)"
pass

done_testing
