#!/usr/bin/env bash
# A push after one changed file names only the changed folders' objects
# (issue 24): folder objects an earlier push put on the remote in full are
# not walked again (.mlo/cache/remotes/<id>/pushed-trees). Counted in
# objects the push looked at (pushed + already there), which do not move
# with load. And the shortcut is safe: the record is voided when any pack it
# counted on is gone (data lost on the store, a remote gc), and a push that
# could not send everything records nothing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote.sh"
command -v strace >/dev/null || fail "strace is needed (.ci/debian-packages.txt)"

# 300 files in 30 folders (data/dNN/fNNNN.txt).
new_repo a
/usr/bin/python3 - <<'PY'
import os
for i in range(300):
    d = f"data/d{i % 30:02d}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i:04d}.txt", "w") as f:
        f.write(f"file {i}\n")
PY
expect_ok data add data
expect_ok remote add origin "$TEST_TMP/remote" --default
git add -A && git commit -qm data || fail "commit"
expect_ok --json push
expect_json 'd["objects"] == 331 and d["up_to_date"] == 0'  # 300 files, 30 folders, the root

# fresh_clone_matches WHEN : a fresh clone of a pulls exactly a's data.
fresh_clone_matches() {
  cd "$TEST_TMP" && rm -rf c && git clone -q a c && cd c || fail "clone"
  expect_ok pull
  diff -r "$TEST_TMP/a/data" data >/dev/null || fail "a fresh clone's data differs $1"
  pass
  cd "$TEST_TMP/a" || fail "cd a"
}

# change FILE TEXT : rewrites one tracked file, re-adds, commits.
change() {
  echo "$2" >"$1.new" && mv "$1.new" "$1"
  expect_ok data add data
  git commit -qam "$1: $2" || fail "commit"
}

# One file changed: the file, its folder and the root are sent; of what was
# there, only the other 9 files of that folder are looked at (331 before).
change data/d07/f0007.txt "changed once"
expect_ok --json push
expect_json 'd["objects"] == 3 and d["up_to_date"] <= 9'
pass
change data/d07/f0037.txt "changed twice"
expect_ok --json push
expect_json 'd["objects"] == 3 and d["up_to_date"] <= 9'

# status --remote after that push: the tree was pushed in full from here and
# a status found its objects in the cache with none removed since, so no
# object is looked up one by one and no pack index is read.
expect_ok data status --exit-code
expect_ok data status --exit-code
strace -f -o "$TEST_TMP/strace-remote.txt" -e trace=openat "$MLO" -q --json data status --remote --exit-code \
  >"$TEST_TMP/remote.json" || fail "status --remote under strace"
OUT=$(cat "$TEST_TMP/remote.json")
expect_json 'd["entries"][0]["objects"] == 331 and d["entries"][0]["missing_remote"] == 0 and d["entries"][0]["missing_cache"] == 0'
idx_reads=$(grep -c '\.idx"' "$TEST_TMP/strace-remote.txt" || true)
[ "$idx_reads" = 0 ] || fail "status --remote read $idx_reads pack indexes for a tree pushed in full"
pass
# An object gone from the cache: looked up again, and named.
lost=$(sha256sum data/d03/f0003.txt | cut -c1-64)
chmod u+w ".mlo/cache/objects/${lost:0:2}" 2>/dev/null
mv ".mlo/cache/objects/${lost:0:2}/${lost:2}" "$TEST_TMP/lost-object"
expect_rc 1 --json data status --remote --exit-code
expect_json 'd["entries"][0]["missing_cache"] == 1 and d["entries"][0]["cache_lacks"] == ["data/d03/f0003.txt"]'
expect_json 'd["entries"][0]["missing_remote"] == 0'
mv "$TEST_TMP/lost-object" ".mlo/cache/objects/${lost:0:2}/${lost:2}"
# A change added and not pushed: only the objects outside the folders
# pushed in full are looked up on the remote (the changed file, its folder,
# the root); a lost object in an unchanged folder is still named.
echo "not pushed yet" >data/d05/f0005.txt.new && mv data/d05/f0005.txt.new data/d05/f0005.txt
expect_ok data add data
mv ".mlo/cache/objects/${lost:0:2}/${lost:2}" "$TEST_TMP/lost-object"
expect_rc 1 --json data status --remote --exit-code
expect_json 'd["entries"][0]["objects"] == 331 and d["entries"][0]["missing_remote"] == 3'
expect_json 'd["entries"][0]["remote_lacks"] == ["data/d05/f0005.txt"] and d["entries"][0]["cache_lacks"] == ["data/d03/f0003.txt"]'
mv "$TEST_TMP/lost-object" ".mlo/cache/objects/${lost:0:2}/${lost:2}"
git commit -qam "d05" || fail "commit"
expect_ok --json push
expect_json 'd["objects"] == 3'
expect_ok data status --remote --exit-code

# A teammate's push (new packs) leaves this clone's record good.
cd "$TEST_TMP" && git clone -q a b && cd b
expect_ok pull
diff -r "$TEST_TMP/a/data" data >/dev/null || fail "the clone's data differs after pull"
change data/d11/f0011.txt "from b"
expect_ok --json push
expect_json 'd["objects"] == 3'
cd "$TEST_TMP/a" && git pull -q "$TEST_TMP/b" HEAD 2>/dev/null || fail "git pull from b"
expect_ok pull
# b's changed folder is walked once here (this clone did not push it): its
# 10 files and its folder object, beside the 9 other files of d12.
change data/d12/f0012.txt "from a"
expect_ok --json push
expect_json 'd["objects"] == 3 and d["up_to_date"] <= 20'

# Data lost on the store: every pack goes but the newest. The record counted
# on them, so the next push walks every folder and sends all that is gone.
ls -t "$TEST_TMP"/remote/packs/*.pack | tail -n +2 | while read -r p; do rm -f "$p" "${p%.pack}.idx"; done
expect_rc 1 --json data status --remote --exit-code
expect_json 'd["entries"][0]["missing_remote"] >= 300'
change data/d13/f0013.txt "after the loss"
expect_ok --json push
expect_json 'd["objects"] >= 300'
expect_ok fsck --remote origin
expect_out_contains "all present and intact"
fresh_clone_matches "after the loss was pushed again"

# A pack cut short on the store (a store that kept part of a PUT): its size
# no longer matches the record's, so the record is void; the push walks
# everything and sends again the blobs past the cut.
cd "$TEST_TMP/a"
big=$(ls -S "$TEST_TMP"/remote/packs/*.pack | head -1)
chmod u+w "$big" && truncate -s 100 "$big"
change data/d14/f0014.txt "after a cut pack"
expect_ok --json push
expect_json 'd["objects"] + d["up_to_date"] >= 331 and d["objects"] >= 1'
change data/d15/f0015.txt "after the cut, again"
expect_ok --json push
expect_json 'd["objects"] == 3 and d["up_to_date"] <= 9'
expect_ok fsck --remote origin

# A push that cannot send everything (an object gone from the cache before
# it was pushed) records nothing for it: once the object is back, the next
# push sends it.
echo "never pushed" >data/d16/new.txt
expect_ok data add data
git add -A && git commit -qm "new file" || fail "commit"
gone=$(sha256sum data/d16/new.txt | cut -c1-64)
chmod u+w ".mlo/cache/objects/${gone:0:2}" 2>/dev/null
rm -f ".mlo/cache/objects/${gone:0:2}/${gone:2}"
expect_rc 1 --json push
expect_json '"'"$gone"'" in d["missing"]'
expect_ok data add data
expect_ok --json push
expect_json 'd["objects"] == 1'
fresh_clone_matches "after the object came back"

# A damaged record reads as none: the push walks everything.
cd "$TEST_TMP/a"
record=$(find .mlo -name pushed-trees | head -1)
[ -n "$record" ] || fail "no pushed-trees record in .mlo"
echo "garbage" >"$record"
change data/d17/f0017.txt "after a damaged record"
expect_ok --json push
expect_json 'd["objects"] == 3 and d["up_to_date"] >= 300'

# A push with nothing new looks at nothing and says how much it trusted.
expect_ok push
expect_out_contains "Pushed 0 objects"
expect_out_contains "301 files in folders pushed before"

done_testing
