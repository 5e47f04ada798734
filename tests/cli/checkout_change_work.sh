#!/usr/bin/env bash
# `data checkout` does work for what differs, not for the whole dataset
# (issue 24): when the work tree's folders are known to hold recorded tree
# objects (as status knows them), a checkout to another version of the
# pointer opens only the folder objects that differ between the two, and a
# checkout of a removed folder streams its files from the manifest instead
# of listing them all. Counted in cache objects opened (strace), which does
# not move with load; and every result is checked file by file.
source "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || fail "strace is needed (.ci/debian-packages.txt)"

# data/gG/dD/fNNNN.txt: 400 files, 2 groups of 10 folders of 20 files.
new_repo a
/usr/bin/python3 - <<'PY'
import os
for i in range(400):
    d = f"data/g{i // 200}/d{i // 20 % 10}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i:04d}.txt", "w") as f:
        f.write(f"file {i}\n")
PY
expect_ok data add data
git add -A && git commit -qm v1 || fail "commit v1"
cp -r data "$TEST_TMP/v1"
# v2: one file changed, one added, one folder removed, one folder added.
echo "changed" >data/g0/d1/f0020.txt
echo "new" >data/g0/d1/new.txt
rm -rf data/g1/d5
mkdir -p data/g1/d9/sub && echo "deep" >data/g1/d9/sub/deep.txt
expect_ok data add data
git add -A && git commit -qm v2 || fail "commit v2"
cp -r data "$TEST_TMP/v2"
find "$TEST_TMP/v1" "$TEST_TMP/v2" -type f -exec sha256sum {} + | cut -c1-64 | sort -u >"$TEST_TMP/file-hashes"
# Status twice: the first may find a folder changed within the last tick.
expect_ok data status --exit-code
expect_ok data status --exit-code

# counted_checkout NAME ARGS... : data checkout under strace (JSON in $OUT);
# TOUCHED is the number of cache objects it opened or stat'ed.
counted_checkout() {
  local name=$1; shift
  strace -f -o "$TEST_TMP/strace-$name.txt" -e trace=stat,lstat,newfstatat,statx,access,faccessat,faccessat2,openat \
    "$MLO" -q --json data checkout "$@" >"$TEST_TMP/$name.json" 2>"$TEST_TMP/$name.err" \
    || fail "checkout ($name) failed: $(cat "$TEST_TMP/$name.err")"
  OUT=$(cat "$TEST_TMP/$name.json")
  # Folder objects: those opened that hold no file of either version.
  FOLDERS=$(grep -oE '\.mlo/cache/objects/[0-9a-f]{2}/[0-9a-f]{62}' "$TEST_TMP/strace-$name.txt" \
    | sed -E 's|.*/([0-9a-f]{2})/|\1|' | sort -u | grep -cvxFf "$TEST_TMP/file-hashes" || true)
  echo "checkout ($name) opened $FOLDERS folder objects"
}

# Back to v1: the four changes are undone, nothing else is read.
git checkout -q HEAD~1 -- data.mlo
counted_checkout back-to-v1
expect_json 'sorted(d["updated"]) == ["data/g0/d1/f0020.txt"] + ["data/g1/d5/f%04d.txt" % i for i in range(300, 320)]'
expect_json 'd["updated_count"] == 21'
expect_json 'sorted(d["removed"]) == ["data/g0/d1/new.txt", "data/g1/d9/sub/deep.txt"]'
expect_json 'd["unchanged"] == 379'
diff -r data "$TEST_TMP/v1" >/dev/null || fail "the work tree is not v1 after the checkout"
pass
# The root and both groups on each side, g0/d1 on each side, g1/d5 (wanted
# only), g1/d9 on each side and g1/d9/sub (held only): 11; none of the 17
# folders equal on both sides (main's checkout read all 24 of v1's).
[ "$FOLDERS" -le 11 ] || fail "checkout to v1 opened $FOLDERS folder objects (at most 11 expected)"
pass
expect_ok data status --exit-code

# Forward to v2 again, from the work tree just written (its folders are
# known again only after a status records them: the checkout must be right
# either way).
git checkout -q HEAD -- data.mlo
counted_checkout forward-to-v2
expect_json 'sorted(d["updated"]) == ["data/g0/d1/f0020.txt", "data/g0/d1/new.txt", "data/g1/d9/sub/deep.txt"]'
expect_json 'sorted(d["removed"]) == ["data/g1/d5/f%04d.txt" % i for i in range(300, 320)]'
diff -r data "$TEST_TMP/v2" >/dev/null || fail "the work tree is not v2 after the checkout"
pass
expect_ok data status --exit-code
expect_ok data status --exit-code

# Unsaved work inside a folder that differs is refused, nothing changed.
echo "unsaved" >data/g0/d1/f0021.txt
git checkout -q HEAD~1 -- data.mlo
expect_rc 3 data checkout
expect_err_contains "data/g0/d1/f0021.txt"
[ "$(cat data/g0/d1/f0021.txt)" = unsaved ] && [ -e data/g0/d1/new.txt ] || fail "a refused checkout changed files"
pass
# ... and in a folder equal on both sides too (its digest no longer
# matches, so it is scanned, not stood in for).
echo "21 again" >data/g0/d1/f0021.txt && expect_ok data checkout --force
echo "unsaved" >data/g0/d7/f0140.txt
git checkout -q HEAD -- data.mlo
expect_rc 3 data checkout
expect_err_contains "data/g0/d7/f0140.txt"
expect_ok data checkout --force
diff -r data "$TEST_TMP/v2" >/dev/null || fail "the work tree is not v2 after checkout --force"
pass

# A removed folder is written back from the manifest, file by file.
rm -rf data
counted_checkout removed
expect_json 'd["updated_count"] == 382 and len(d["updated"]) == 382 and d["unchanged"] == 0'
diff -r data "$TEST_TMP/v2" >/dev/null || fail "the removed folder was not restored"
pass
# A file where the folder goes is replaced (it is in the cache: saved).
rm -rf data && cp "$TEST_TMP/v2/g0/d1/f0020.txt" data
expect_ok data checkout
diff -r data "$TEST_TMP/v2" >/dev/null || fail "the file standing for the folder was not replaced"
pass
# A missing object fails before any file is written, naming it.
rm -rf data
obj=$(sha256sum "$TEST_TMP/v2/g1/d9/sub/deep.txt" | cut -c1-64)
mv ".mlo/cache/objects/${obj:0:2}/${obj:2}" "$TEST_TMP/obj"
expect_rc 3 data checkout
expect_err_contains "data/g1/d9/sub/deep.txt"
expect_err_contains "nothing was changed"
expect_no_file data
mv "$TEST_TMP/obj" ".mlo/cache/objects/${obj:0:2}/${obj:2}"
expect_ok data checkout
diff -r data "$TEST_TMP/v2" >/dev/null || fail "checkout after the object came back"
pass
done_testing
