#!/usr/bin/env bash
# mlo data add / status / commit / diff / checkout / ls / rm: the happy paths,
# with files on disk and what git has staged.
source "$(dirname "$0")/lib.sh"
new_repo

mkdir -p data/images/sub
printf 'id,label\n1,cat\n2,dog\n' > data/train.csv
for i in 1 2 3; do echo "image $i" > data/images/img$i.png; done
echo "deep" > data/images/sub/deep.png
# Files written this very moment are "racily clean" and get re-hashed; date
# them back so the stat cache can answer for them.
find data -type f -exec touch -d '1 minute ago' {} +

# add a file and a folder
expect_ok data add data/train.csv data/images
expect_out_contains "Added data/train.csv"
expect_out_contains "data/images (4 files"
expect_file data/train.csv.mlo
expect_file data/images.mlo
grep -q '^path: train.csv$' data/train.csv.mlo || fail "pointer lacks path"
grep -q '^type: dir$' data/images.mlo || fail "dir pointer lacks type"
grep -q '^files: 4$' data/images.mlo || fail "dir pointer lacks files: 4"
sha=$(sha256sum data/train.csv | cut -d' ' -f1)
grep -q "^sha256: $sha$" data/train.csv.mlo || fail "pointer hash is not the file's sha256"
pass
# the content is in the cache, the data ignored, pointer + .gitignore staged
expect_file ".mlo/cache/objects/${sha:0:2}/${sha:2}"
expect_same_file data/train.csv ".mlo/cache/objects/${sha:0:2}/${sha:2}"
grep -qx '/train.csv' data/.gitignore || fail ".gitignore lacks /train.csv"
grep -qx '/images' data/.gitignore || fail ".gitignore lacks /images"
git check-ignore -q data/train.csv || fail "data/train.csv not ignored"
staged=$(git diff --cached --name-only | sort | tr '\n' ' ')
expect_eq "$staged" "data/.gitignore data/images.mlo data/train.csv.mlo " "staged files"
# workspace files are intact (copy mode by default)
expect_eq "$(cat data/images/img1.png)" "image 1" "workspace content"

# adding again is harmless; --json shape
expect_ok --json data add data/train.csv
expect_json "d['added'][0]['path']=='data/train.csv' and d['added'][0]['changed'] is False and d['added'][0]['type']=='file'"
expect_json "d['added'][0]['hashed']==0"
expect_eq "$(grep -c '/train.csv' data/.gitignore)" "1" "gitignore line added once"

git commit -qm "v1 data" || fail "git commit"
V1=$(git rev-parse HEAD)

# clean status
expect_ok data status
expect_out_contains "up to date (2 paths)"
expect_ok data status --exit-code
expect_ok data status --porcelain
expect_eq "$OUT" "" "porcelain of a clean tree"
expect_ok --json data status
expect_json "d['clean'] is True and len(d['entries'])==2 and d['entries'][0]['status']=='clean'"

# modify: a file, and inside the folder add/remove/modify
printf 'id,label\n1,cat\n2,dog\n3,bird\n' > data/train.csv
echo "new" > data/images/img4.png
rm data/images/img2.png
echo "changed" > data/images/img3.png
expect_ok data status
expect_out_contains "modified:   data/train.csv"
expect_out_contains "modified:   data/images/ (1 added, 1 removed, 1 modified)"
expect_out_contains "added:      data/images/img4.png"
expect_rc 1 data status --exit-code
expect_ok data status --porcelain
expect_eq "$OUT" "A data/images/img4.png
D data/images/img2.png
M data/images/img3.png
M data/train.csv" "porcelain"
expect_ok --json data status data/images
expect_json "d['clean'] is False and len(d['entries'])==1 and d['entries'][0]['added']==['data/images/img4.png'] and d['entries'][0]['removed']==['data/images/img2.png']"

# diff: HEAD vs workspace
expect_ok data diff
expect_out_contains "added:    data/images/img4.png"
expect_out_contains "modified: data/images/img3.png"
expect_out_contains "modified: data/train.csv"
expect_out_contains "deleted:  data/images/img2.png"

# commit records the new content; staged; then diff between revisions
expect_ok data commit
expect_out_contains "Recorded data/images"
expect_out_contains "Recorded data/train.csv"
staged=$(git diff --cached --name-only | sort | tr '\n' ' ')
expect_eq "$staged" "data/images.mlo data/train.csv.mlo " "staged after commit"
expect_ok data status --exit-code
git commit -qm "v2 data" || fail "git commit v2"
expect_ok --json data diff "$V1" HEAD
expect_json "[c['path'] for c in d['added']]==['data/images/img4.png'] and [c['path'] for c in d['deleted']]==['data/images/img2.png']"
expect_json "sorted(c['path'] for c in d['modified'])==['data/images/img3.png','data/train.csv']"
expect_ok data diff HEAD
expect_out_contains "No data changes"

# back to v1: git checkout of the pointers, then mlo data checkout
git checkout -q "$V1" -- '*.mlo' || fail "git checkout of pointers"
expect_rc 1 data status --exit-code
expect_ok data checkout
expect_out_contains "Updated 3 files, removed 1"
expect_eq "$(cat data/train.csv)" "$(printf 'id,label\n1,cat\n2,dog')" "train.csv back at v1"
expect_file data/images/img2.png
expect_no_file data/images/img4.png
expect_eq "$(cat data/images/img3.png)" "image 3" "img3 back at v1"
expect_ok data status --exit-code
# and forward again
git checkout -q HEAD -- '*.mlo'
expect_ok data checkout data/images
expect_file data/images/img4.png
expect_ok --json data checkout
expect_json "d['updated']==['data/train.csv'] and d['unchanged']==4"

# a deleted tracked folder: status says so, checkout restores it
rm -rf data/images
expect_ok data status --porcelain
expect_eq "$OUT" "D data/images" "deleted dir porcelain"
expect_ok data checkout
expect_file data/images/sub/deep.png

# ls
expect_ok data ls
expect_out_contains "data/images/ (4 files)"
expect_out_contains "data/train.csv"
expect_ok --json data ls data/images
expect_json "[e['path'] for e in d['entries']]==['data/images/img1.png','data/images/img3.png','data/images/img4.png','data/images/sub/deep.png']"
expect_rc 3 data ls nowhere
expect_err_contains "not tracked"

# rm keeps the data, unignores it, stages the removal
expect_ok data rm data/train.csv
expect_out_contains "Stopped tracking data/train.csv"
expect_no_file data/train.csv.mlo
expect_file data/train.csv
git check-ignore -q data/train.csv && fail "data/train.csv still ignored after rm"
git diff --cached --name-status | grep -q "^D.*data/train.csv.mlo" || fail "pointer removal not staged"
pass
# rm --remove-data deletes it too; the last line of .gitignore goes with it
expect_ok data rm --remove-data data/images.mlo
expect_no_file data/images
expect_no_file data/images.mlo
expect_no_file data/.gitignore
expect_rc 3 data rm data/images
expect_err_contains "not tracked by mlo"

# an edited tracked file that is not in the cache blocks rm --remove-data and checkout
echo "precious" > data/p.txt
expect_ok data add data/p.txt
echo "unsaved edit" > data/p.txt
expect_rc 3 data rm --remove-data data/p.txt
expect_err_contains "not in the cache"
expect_eq "$(cat data/p.txt)" "unsaved edit" "rm refused and kept the edit"
expect_rc 3 data checkout data/p.txt
expect_err_contains "would overwrite"
expect_err_contains "data/p.txt"
expect_eq "$(cat data/p.txt)" "unsaved edit" "checkout refused and kept the edit"
expect_ok data checkout --force data/p.txt
expect_eq "$(cat data/p.txt)" "precious" "checkout --force restored"

done_testing
