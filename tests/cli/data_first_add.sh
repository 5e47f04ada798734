#!/usr/bin/env bash
# A folder's first add stores each group of files as the scan meets them
# and builds the tree from the stat cache's rows (lib/data/first_add.h),
# so it never holds every file. Whichever way a file reaches the tree (a
# row written by this add, an older row, or kept in memory because it was
# written just before the add), the tree is the same; rows that no longer
# match the folder (a file deleted since, a folder gone, a changed
# executable bit) never reach it.
source "$(dirname "$0")/lib.sh"

# make_set DIR : 3 levels, 12 folders, 60 files, one executable, one empty,
# names that sort around '/' ("a", "a-b", "a.txt", "a/").
make_set() {
  mkdir -p "$1"
  for g in a a-b b; do
    for d in x y; do
      mkdir -p "$1/$g/$d/deep"
      for i in 1 2 3 4 5 6 7; do echo "$g $d $i" >"$1/$g/$d/f$i.txt"; done
      echo "$g $d deep" >"$1/$g/$d/deep/z.bin"
      echo "same" >"$1/$g/$d/deep/dup.txt"
    done
  done
  echo top >"$1/a.txt" && : >"$1/empty" && printf '#!/bin/sh\n' >"$1/run.sh" && chmod +x "$1/run.sh"
  echo last >"$1/zz"
}

# tree_of : the pointer's tree hash and file count.
tree_of() { /usr/bin/python3 -c 'import re,sys; t=open("data.mlo").read(); print(re.search(r"sha256: (\w+)",t).group(1), re.search(r"files: (\d+)",t).group(1))'; }

new_repo() {
  cd "$TEST_TMP" && rm -rf "$1" && git init -q "$1" && cd "$1" && "$MLO" -q init || fail "init $1"
}

# 1. Every file modified within the stat cache's timestamp granularity of
# its read (here: in the future), so no row can stand for it: all kept.
new_repo fresh
make_set data && find data -exec touch -h -d '+1 hour' {} +
expect_ok --json data add data
expect_json "d['added'][0]['files'] == 58 and d['added'][0]['hashed'] == 58"
want=$(tree_of)
expect_ok data status --exit-code

# 2. Every file old enough for its row: the tree comes from the rows.
new_repo old
make_set data && find data -exec touch -h -d '-10 min' {} +
expect_ok --json data add data
expect_json "d['added'][0]['files'] == 58"
expect_eq "$(tree_of)" "$want" "tree from the rows"
expect_ok data status --exit-code
git add -A && git commit -qm data
# The executable bit and the empty file made the round trip.
rm -rf data && expect_ok data checkout data
[ -x data/run.sh ] || fail "run.sh lost its executable bit"
[ -f data/empty ] && [ ! -s data/empty ] || fail "the empty file did not come back empty"
expect_ok data status --exit-code

# 3. Half old, half too new for a row: rows and kept files merged in path
# order (around "a-b", "a.txt" and "a/").
new_repo mixed
make_set data && find data -exec touch -h -d '-10 min' {} + && find data/a-b data/a.txt data/b/x -exec touch -h -d '+1 hour' {} +
expect_ok --json data add data
expect_eq "$(tree_of)" "$want" "tree from rows and kept files"

# 4. Rows the workspace no longer matches. The pointer is removed, so the
# add cannot trust an old tree and takes the streaming way with the rows of
# the first add still there.
new_repo stale
make_set data && find data -exec touch -h -d '-10 min' {} +
expect_ok data add data
rm -f data.mlo
# a folder gone: its rows are stale and dropped, the tree is built from the rest
rm -rf data/b/y
expect_ok --json data add data
expect_json "d['added'][0]['files'] == 49 and d['added'][0]['hashed'] == 0"
expect_ok data status --exit-code
rm -f data.mlo
# a file deleted from a folder that is still there: its row would put it
# back in the tree; the folder's digest tells, and the add scans again;
# a file added there is read once, by the streamed pass, and counted
rm -f data/a/x/f3.txt && echo new >data/a/x/new.txt && touch -h -d '-10 min' data/a/x/new.txt
expect_ok --json data add data
expect_json "d['added'][0]['files'] == 49 and d['added'][0]['hashed'] == 1"
expect_ok data status --exit-code
git add -A && git commit -qm stale
rm -rf data && expect_ok data checkout data
expect_no_file data/a/x/f3.txt
expect_no_file data/b/y
expect_eq "$(cat data/a/x/f4.txt)" "a x 4" "a file next to the deleted one"
# a changed executable bit (no change to mtime or size: the row still
# matches the stat)
find data -exec touch -h -d '-10 min' {} + && rm -f data.mlo && expect_ok data add data
rm -f data.mlo
chmod -x data/run.sh
# read again (its row had the bit), the row rewritten, the tree from rows
expect_ok --json data add data
expect_json "d['added'][0]['hashed'] == 1"
# and the next first add reads nothing: the rows agree now
rm -f data.mlo
expect_ok --json data add data
expect_json "d['added'][0]['hashed'] == 0"
expect_ok data status --exit-code
# a changed file with an old mtime: its row no longer matches its stat
# (read once, and counted)
rm -f data.mlo
echo "changed" >data/a/y/f1.txt && touch -h -d '-20 min' data/a/y/f1.txt
expect_ok --json data add data
expect_json "d['added'][0]['hashed'] == 1"
rm -rf data && expect_ok data checkout data
expect_eq "$(cat data/a/y/f1.txt)" "changed" "a changed file re-read"
[ -f data/run.sh ] || fail "run.sh missing after checkout"
[ -x data/run.sh ] && fail "run.sh is executable after chmod -x and add"
pass

# 5. Two folders in one add, and a folder added again after a one-file
# change (the re-add's way, from the tree the streaming add recorded).
new_repo two
make_set one && make_set two && find one two -exec touch -h -d '-10 min' {} +
expect_ok --json data add one two
expect_json "[e['files'] for e in d['added']] == [58, 58] and d['added'][0]['sha256'] == d['added'][1]['sha256']"
git add -A && git commit -qm two
echo "new" >one/a/x/f1.txt
expect_ok --json data add one
expect_json "d['added'][0]['hashed'] == 1 and d['added'][0]['changed']"
expect_ok data status --exit-code

# 6. A name that cannot be stored is refused before any pointer is written.
new_repo badname
make_set data && touch "data/a/x/bad$(printf '\001')name"
expect_rc 3 data add data
expect_err_contains "the name can not be tracked"
expect_no_file data.mlo
done_testing
