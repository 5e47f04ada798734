#!/usr/bin/env bash
# mlo data status --remote in fresh clones whose caches lack the directory
# manifests: the manifests are fetched from the remote (verified, into the
# cache) so the status names every file the remote or the cache lacks.
source "$(dirname "$0")/lib.sh"

new_repo a
expect_ok remote add origin "$TEST_TMP/remote" --default
mkdir -p data/set && for i in $(seq 1 30); do echo "row $i" >"data/set/$i.csv"; done
echo "weights" >data/model.bin
"$MLO" -q data add data/set data/model.bin || fail "data add"
git add -A && git commit -qm data
expect_ok push
expect_out_contains "Pushed 32 objects"

# Clone b: nothing cached. Every file of data/set is named, counted exactly.
cd "$TEST_TMP" && git clone -q a b && cd b
expect_rc 1 --json data status --remote --exit-code
expect_json "d['manifests_fetched'] == 1 and not d['clean']"
expect_json "[e for e in d['entries'] if e['path'] == 'data/set'][0]['objects'] == 31"
expect_json "[e for e in d['entries'] if e['path'] == 'data/set'][0]['missing_cache'] == 30"
expect_json "[e for e in d['entries'] if e['path'] == 'data/set'][0]['missing_remote'] == 0"
expect_json "sorted([e for e in d['entries'] if e['path'] == 'data/set'][0]['cache_lacks']) == sorted('data/set/%d.csv' % i for i in range(1, 31))"
expect_json "[e for e in d['entries'] if e['path'] == 'data/model.bin'][0]['cache_lacks'] == ['data/model.bin']"
# The manifest is now cached (a second status fetches nothing) and was verified.
expect_rc 1 --json data status --remote --exit-code
expect_json "d['manifests_fetched'] == 0"
expect_rc 1 data status --remote --exit-code
expect_out_contains "not in cache:  data/set (30 of 31 objects)"
expect_out_contains "data/set/17.csv"
expect_out_contains "... and 20 more"
expect_rc 1 -v data status --remote --exit-code
expect_out_contains "data/set/9.csv"
expect_out_not_contains "more (-v lists all)"
# Fetch only part of the folder's files by hand: the status counts the rest.
expect_ok fetch data/model.bin
expect_ok --json data status --remote
expect_json "[e for e in d['entries'] if e['path'] == 'data/model.bin'][0]['missing_cache'] == 0"
expect_ok pull
expect_ok data status --remote --exit-code
expect_out_contains "have all tracked data"

# b changes two files and adds one, commits, does not push: the remote lacks
# exactly those three (and the new manifest).
echo "changed 3" >data/set/3.csv && echo "changed 4" >data/set/4.csv && echo new >data/set/new.csv
"$MLO" -q data add data/set && git commit -qam "b edits"
expect_rc 1 --json data status --remote origin data/set --exit-code
expect_json "d['entries'][0]['missing_remote'] == 4 and d['entries'][0]['missing_cache'] == 0"
expect_json "sorted(d['entries'][0]['remote_lacks']) == ['data/set/3.csv', 'data/set/4.csv', 'data/set/new.csv']"
one_batch=$OUT
# The remote is asked in batches of the walk (fetch_batch): two objects a
# batch gives the same counts and the same files, in the same order.
expect_ok remote modify origin fetch_batch 2 --local
expect_rc 1 --json data status --remote origin --exit-code
expect_json "[e for e in d['entries'] if e['path'] == 'data/set'][0]['missing_remote'] == 4"
expect_rc 1 --json data status --remote origin data/set --exit-code
expect_eq "$OUT" "$one_batch" "status --remote in batches of 2"
expect_ok remote modify origin fetch_batch 524288 --local

# Clone c of b before b pushes: the new manifest is on neither side.
cd "$TEST_TMP" && git clone -q b c && cd c
expect_rc 1 data status --remote origin data/set --exit-code
expect_out_contains "its manifest is on neither the remote nor in the cache"
expect_ok --json data status --remote origin data/set
expect_json "d['manifests_fetched'] == 0 and d['entries'][0]['manifest_known'] == False"
# Once b pushes, c learns the exact files: fetched manifest, 31 files lacking.
(cd "$TEST_TMP/b" && "$MLO" -q push) || fail "push from b"
expect_ok --json data status --remote origin data/set
expect_json "d['manifests_fetched'] == 1 and d['entries'][0]['manifest_known'] and d['entries'][0]['missing_cache'] == 31 and d['entries'][0]['missing_remote'] == 0"
expect_ok pull data/set
diff -r data/set "$TEST_TMP/b/data/set" >/dev/null || fail "data/set differs from b"
pass

# Stage outputs are pushed and pulled like tracked data: the status counts
# them (by output and stage), so a pre-push check cannot miss an unpushed model.
new_repo p
expect_ok remote add origin "$TEST_TMP/remote-p" --default
cat >mlo.yaml <<'YAML'
stages:
  train:
    cmd: mkdir -p models && echo weights > models/model.bin
    outs: [models/model.bin]
YAML
expect_ok run
git add -A && git commit -qm pipeline
expect_rc 1 --json data status --remote --exit-code
expect_json "[e for e in d['entries'] if e['path'] == 'models/model.bin'][0]['missing_remote'] == 1"
expect_json "[e for e in d['entries'] if e['path'] == 'models/model.bin'][0]['pointer'] == 'mlo.lock'"
expect_json "[e for e in d['entries'] if e['path'] == 'models/model.bin'][0]['stage'] == 'train'"
expect_rc 1 data status --remote --exit-code
expect_out_contains "not on remote: models/model.bin (stage train) (1 of 1 objects)"
expect_ok push
expect_ok data status --remote --exit-code
# A fresh clone lacks the output in its cache until it pulls.
cd "$TEST_TMP" && git clone -q p q && cd q
expect_rc 1 data status --remote --exit-code
expect_out_contains "not in cache:  models/model.bin (stage train)"
expect_ok pull
expect_ok data status --remote --exit-code

# A fresh clone's cache lacks every file: counted all, the first 10,000
# listed (a clone of ten million files does not hold every path).
new_repo big
expect_ok remote add origin "$TEST_TMP/remote-big" --default
/usr/bin/python3 - <<'PY'
import os
for d in range(5):
    os.makedirs(f"data/big/d{d}")
    for i in range(2001):
        open(f"data/big/d{d}/{i:05d}.txt", "w").write(f"{d} {i}\n")
PY
"$MLO" -q data add data/big || fail "data add of 10,005 files"
git add -A && git commit -qm big
expect_ok push
cd "$TEST_TMP" && git clone -q big big2 && cd big2
expect_rc 1 --json data status --remote --exit-code
expect_json "d['entries'][0]['missing_cache'] == 10005 and d['entries'][0]['missing_remote'] == 0"
expect_json "d['entries'][0]['cache_lacks'] == ['data/big/d%d/%05d.txt' % (i // 2001, i % 2001) for i in range(10000)]"
expect_rc 1 -v data status --remote --exit-code
expect_out_contains "not in cache:  data/big (10005 of 10011 objects)"
expect_out_contains "data/big/d4/01995.txt"
expect_out_not_contains "data/big/d4/01996.txt"
expect_out_contains "... and more (only the first 10000 are listed)"
expect_rc 1 data status --remote --exit-code
expect_out_contains "... and more (-v lists the first 10000)"
# The plain status of that clone walks the tree (never read whole): the
# same count and the first 10,000 named.
expect_rc 1 --json data status --exit-code --pulled
expect_json "d['entries'][0]['status'] == 'deleted' and d['entries'][0]['missing_count'] == 10005"
expect_json "d['entries'][0]['missing'] == ['data/big/d%d/%05d.txt' % (i // 2001, i % 2001) for i in range(10000)]"
expect_rc 1 data status --exit-code --pulled
expect_out_contains "... and 9985 more (-v lists the first 10000)"
expect_rc 1 -v data status --exit-code --pulled
expect_out_contains "data/big/d4/01995.txt"
expect_out_contains "... and 5 more (only the first 10000 are listed)"
# Pulled, then one folder's objects removed from the cache: counted in place.
expect_ok pull
# The pull also recorded what a status scan records (each folder's digest,
# the folder's stat fingerprint, its objects complete): the first status
# finds all of it as recorded, holding no file, and records nothing new.
status_rows() {
  /usr/bin/python3 -c "
import sqlite3
db = sqlite3.connect('.mlo/index.db')
for t in ('data_folders', 'data_tree', 'data_complete'):
    for r in db.execute('SELECT * FROM %s ORDER BY 1' % t): print(t, *r)"
}
recorded=$(status_rows)
expect_eq "$(printf '%s\n' "$recorded" | grep -c '^data_folders data/big')" 6 "folder digests recorded by the pull"
expect_eq "$(printf '%s\n' "$recorded" | grep -c '^data_tree data/big ')" 1 "fingerprint recorded by the pull"
expect_ok data status --exit-code --pulled
expect_eq "$(status_rows)" "$recorded" "what the first status after the pull records"
# The pull recorded the files it wrote in the stat cache: an add right after
# it reads none of them again; an edit (same size or not) is still seen.
expect_ok --json data add data/big
expect_json "d['added'][0]['hashed'] == 0 and not d['added'][0]['changed']"
expect_ok data status --exit-code --pulled
echo "2 0 edited" >data/big/d2/00000.txt
printf '3 1\r' >data/big/d3/00001.txt
expect_rc 1 --json data status --exit-code
expect_json "sorted(d['entries'][0]['modified']) == ['data/big/d2/00000.txt', 'data/big/d3/00001.txt']"
expect_ok data checkout --force data/big
expect_ok data status --exit-code --pulled
for h in $(/usr/bin/python3 -c "
import hashlib
for i in range(3): print(hashlib.sha256(b'2 %d\\n' % i).hexdigest())"); do
  rm -f ".mlo/cache/objects/${h:0:2}/${h:2}"
done
expect_rc 1 --json data status --exit-code --pulled
expect_json "d['entries'][0]['missing_count'] == 3 and d['entries'][0]['missing'] == ['data/big/d2/00000.txt', 'data/big/d2/00001.txt', 'data/big/d2/00002.txt']"

# The remote's side: an empty remote, asked in batches of 3,000.
cd "$TEST_TMP/big"
expect_ok remote add empty "$TEST_TMP/remote-empty"
expect_ok remote modify empty fetch_batch 3000 --local
expect_rc 1 --json data status --remote empty --exit-code
expect_json "d['entries'][0]['missing_remote'] == 10011 and d['entries'][0]['missing_cache'] == 0"
expect_json "d['entries'][0]['remote_lacks'] == ['data/big/d%d/%05d.txt' % (i // 2001, i % 2001) for i in range(10000)]"

# A corrupt manifest on the remote is reported (exit 4), never cached.
cd "$TEST_TMP" && git clone -q a d && cd d
for f in "$TEST_TMP"/remote/packs/*.pack; do chmod u+w "$f"; /usr/bin/python3 - "$f" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
for i in range(0, len(b), 7):
    b[i] ^= 0xFF
open(p, 'wb').write(bytes(b))
PY
done
expect_rc 4 data status --remote origin data/set
expect_err_contains "remote/packs/"
expect_eq "$(find .mlo/cache/objects -type f | wc -l)" "0" "objects cached from a corrupt remote"
done_testing
