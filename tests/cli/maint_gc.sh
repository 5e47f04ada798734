#!/usr/bin/env bash
# mlo gc: what it keeps (work tree, branches, tags, all commits, grace period),
# --dry-run, --json, and its refusals (broken manifest, lock held, bad options).
source "$(dirname "$0")/lib.sh"
new_repo

obj() { echo ".mlo/cache/objects/${1:0:2}/${1:2}"; }
count_objects() { find .mlo/cache/objects -type f | wc -l; }

mkdir -p data/images
echo "v1" > data/a.csv
for i in 1 2; do echo "image $i" > data/images/$i.png; done
expect_ok data add data/a.csv data/images
git commit -qm v1 || fail "commit v1"
V1=$(sha256sum data/a.csv | cut -d' ' -f1)
git branch old
echo "v2" > data/a.csv
expect_ok data add data/a.csv
git commit -qm v2 || fail "commit v2"
V2=$(sha256sum data/a.csv | cut -d' ' -f1)
expect_file "$(obj "$V1")"

# Objects stored within the grace period (default 1h) are kept.
expect_ok gc
expect_out_contains "Removed 0 objects"
expect_out_contains "stored within the last 1h"
expect_file "$(obj "$V1")"

# Dry run lists what would go and deletes nothing.
expect_ok gc --dry-run --grace 0
expect_out_contains "would remove $V1"
expect_out_contains "Would remove 1 object"
expect_file "$(obj "$V1")"
expect_ok --json gc -n --grace 0
expect_json "d['dry_run'] is True and d['removed_count']==1 and d['removed'][0]['hash']=='$V1' and d['removed_bytes']==3"
expect_json "d['kept']==4 and d['scope']['workspace'] is True and d['skipped_broken']==[]"

# Branches, tags and all commits keep older versions.
expect_ok --json gc -n --grace 0 --all-branches
expect_json "d['removed_count']==0 and d['revisions']==2"
git tag -a t1 -m t1 HEAD~1
git branch -D -q old
expect_ok --json gc -n --grace 0 --all-branches
expect_json "d['removed_count']==1"
expect_ok --json gc -n --grace 0 --all-tags
expect_json "d['removed_count']==0"
expect_ok --json gc -n --grace 0 --all-commits
expect_json "d['removed_count']==0"
expect_ok --json gc -n --grace 0 --rev HEAD~1
expect_json "d['removed_count']==0"

# The real thing: v1 goes, everything the work tree needs stays.
expect_ok gc --grace 0
expect_out_contains "Removed 1 object"
expect_no_file "$(obj "$V1")"
expect_file "$(obj "$V2")"
expect_ok data status --exit-code
# v1 is gone from the cache: checking it out says so (and loses nothing).
git checkout -q t1 -- data/a.csv.mlo
run_mlo data checkout data/a.csv
[ "$RC" != 0 ] || fail "checkout of a collected object succeeded"
expect_err_contains "missing"
expect_eq "$(cat data/a.csv)" "v2" "workspace kept"
git checkout -q HEAD -- data/a.csv.mlo

# Stale temp files go; fresh ones stay.
mkdir -p .mlo/cache/tmp
echo old > .mlo/cache/tmp/.obj.tmp.1.1 && touch -d '3 hours ago' .mlo/cache/tmp/.obj.tmp.1.1
echo new > .mlo/cache/tmp/.obj.tmp.1.2
expect_ok --json gc --grace 0
expect_json "d['temp_files']==1"
expect_no_file .mlo/cache/tmp/.obj.tmp.1.1
expect_file .mlo/cache/tmp/.obj.tmp.1.2

# A corrupted manifest: gc refuses before deleting anything.
echo junk > junk.txt && expect_ok data add junk.txt && expect_ok data rm junk.txt
MAN=$(grep '^sha256:' data/images.mlo | cut -d' ' -f2)
chmod u+w "$(obj "$MAN")" && echo '{ "damaged' > "$(obj "$MAN")"
before=$(count_objects)
expect_rc 3 gc --grace 0
expect_err_contains "gc stopped before deleting anything"
expect_err_contains "data/images"
expect_err_contains "--skip-broken"
expect_eq "$(count_objects)" "$before" "objects after a refused gc"
expect_rc 3 gc -n --grace 0
# --skip-broken proceeds, says what it skipped, and keeps the manifest itself.
expect_ok gc --grace 0 --skip-broken
expect_err_contains "skipped"
expect_file "$(obj "$MAN")"
[ "$(count_objects)" -lt "$before" ] || fail "--skip-broken deleted nothing"
pass

# Another mlo command holds the data lock: gc waits, then gives up, deleting nothing.
new_repo locked
printf 'core:\n  lock_timeout: 0.3\n' > .mlo/config.local.yaml
echo x > x.txt && expect_ok data add x.txt && expect_ok data rm x.txt
before=$(count_objects)
# The holder execs into sleep, so killing it releases the lock.
bash -c 'exec 9>>.mlo/tmp/data.lock && flock 9 && exec sleep 20' &
holder=$!
sleep 0.3
expect_rc 3 gc --grace 0
expect_err_contains "another mlo command"
expect_eq "$(count_objects)" "$before" "objects while locked"
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
expect_ok gc --grace 0
expect_eq "$(count_objects)" "0" "objects after the lock was released"

# A gc of more objects than it lists (10,000): the counts cover all of
# them, the list and the dry run's lines stop at the cap, every one goes.
mkdir -p many && /usr/bin/python3 -c "
for i in range(10005): open('many/f%05d' % i, 'w').write('many %d' % i)"
expect_ok data add many
rm -f many.mlo && rm -rf many
expect_ok --json gc -n --grace 0
expect_json "d['removed_count'] == 10006 and len(d['removed']) == 10000"
expect_json "d['removed'] == sorted(d['removed'], key=lambda x: x['hash'])"
expect_ok gc -n --grace 0
expect_out_contains "(10000 of 10006 listed)"
expect_out_contains "Would remove 10006 objects"
expect_eq "$(grep -c '^would remove ' <<<"$OUT")" "10000" "dry-run lines"
expect_ok gc --grace 0
expect_out_contains "Removed 10006 objects"
expect_eq "$(count_objects)" "0" "objects after removing more than are listed"

# In passes (gc.pass_objects: needed hashes held at once): the roots are
# walked once for each share of the hashes' first byte, and exactly the
# same objects are kept and removed as in one pass.
new_repo passes
mkdir -p d/sub && for i in $(seq 1 40); do echo "keep $i" >d/k$i; echo "sub $i" >d/sub/s$i; done
expect_ok data add d && git add -A && git commit -qm keep
for i in $(seq 1 30); do echo "new $i" >d/k$i; done
expect_ok data add d
expect_ok --json gc -n --grace 0
echo "$OUT" >"$TEST_TMP/one.json"
printf 'gc:\n  pass_objects: 3\n' >.mlo/config.local.yaml
expect_ok --json gc -n --grace 0
echo "$OUT" >"$TEST_TMP/split.json"
/usr/bin/python3 - "$TEST_TMP/one.json" "$TEST_TMP/split.json" <<'PY' || fail "gc in passes kept or removed other objects"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert a['passes'] == 1 and b['passes'] > 8, (a['passes'], b['passes'])
assert sorted(x['hash'] for x in a['removed']) == sorted(x['hash'] for x in b['removed'])
assert a['removed_count'] == b['removed_count'] == 31, a['removed_count']
assert a['kept'] == b['kept'] and a['kept'] > 80, (a['kept'], b['kept'])
PY
pass
expect_ok gc --grace 0
expect_out_contains "Removed 31 objects"
expect_ok data status --exit-code
rm -rf d && expect_ok data checkout d
expect_eq "$(cat d/k1 d/k40 d/sub/s7 | tr '\n' ' ')" "new 1 keep 40 sub 7 " "files after gc in passes"
# A broken root still stops it before anything is deleted (the committed
# pointer, whose folder object the gc above removed).
git checkout -q HEAD -- d.mlo
before=$(count_objects)
expect_rc 3 gc --grace 0
expect_err_contains "gc stopped before deleting anything"
expect_eq "$(count_objects)" "$before" "objects after a refused gc in passes"
printf 'gc:\n  pass_objects: lots\n' >.mlo/config.local.yaml
expect_rc 3 gc -n
expect_err_contains "gc.pass_objects: expected a whole number"
rm -f .mlo/config.local.yaml

# Bad options and places.
expect_rc 2 gc --grace soon
expect_err_contains "--grace: 'soon' is not a duration"
expect_rc 2 gc --no-such-option
expect_rc 3 gc --rev no-such-rev
expect_err_contains "unknown revision 'no-such-rev'"
mkdir -p "$TEST_TMP/plain" && cd "$TEST_TMP/plain"
expect_rc 3 gc
expect_err_contains "not a git repository"

done_testing
