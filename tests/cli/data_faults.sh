#!/usr/bin/env bash
# Failures while versioning data: damaged cache, concurrent commands, Ctrl-C,
# a full disk. Nothing the user has is ever lost, and a re-run finishes.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
new_repo

obj() { echo ".mlo/cache/objects/${1:0:2}/${1:2}"; }

# ---- cache object deleted or corrupted ----
echo "version one" > f.txt
expect_ok data add f.txt
git commit -qm v1
V1=$(git rev-parse HEAD)
H1=$(sha256sum f.txt | cut -d' ' -f1)
echo "version two" > f.txt
expect_ok data commit f.txt
git commit -qm v2
rm -f "$(obj "$H1")"
git checkout -q "$V1" -- f.txt.mlo
expect_ok data status --porcelain
expect_eq "$OUT" "M f.txt
! f.txt" "status reports the missing object"
expect_rc 1 data status --exit-code
expect_ok --json data status
expect_json "d['entries'][0]['in_cache'] is False and d['entries'][0]['missing']==['f.txt']"
expect_rc 3 data checkout
expect_err_contains "content missing from the cache, nothing was changed"
expect_err_contains "f.txt"
expect_err_contains "mlo pull"
expect_eq "$(cat f.txt)" "version two" "workspace untouched after failed checkout"
# corrupted: the object's bytes no longer match its name
git checkout -q HEAD -- f.txt.mlo
H2=$(sha256sum f.txt | cut -d' ' -f1)
echo "version two" > g.txt && expect_ok data add g.txt   # same content, same object
echo "edited g" > g.txt
chmod u+w "$(obj "$H2")" && echo "rotten" > "$(obj "$H2")"
rm f.txt
expect_rc 3 data checkout f.txt
expect_err_contains "corrupt"
expect_err_contains "mlo fsck"
expect_no_file f.txt
expect_rc 3 data checkout --force g.txt
expect_err_contains "corrupt"
expect_eq "$(cat g.txt)" "edited g" "workspace untouched after corrupt-object checkout"
git reset -q --hard && git clean -qfdx -e .mlo

# ---- two mlo data add at once: the repo lock serialises them ----
mkdir -p c1 c2
for i in $(seq 1 200); do echo "a$i" > c1/$i; echo "b$i" > c2/$i; done
"$MLO" data add c1 >"$TEST_TMP/c1.out" 2>&1 & p1=$!
"$MLO" data add c2 >"$TEST_TMP/c2.out" 2>&1 & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
expect_eq "$r1:$r2" "0:0" "both concurrent adds succeed (serially)"
expect_file c1.mlo
expect_file c2.mlo
staged=$(git diff --cached --name-only | sort | tr '\n' ' ')
expect_eq "$staged" ".gitignore c1.mlo c2.mlo " "both staged"
expect_ok data status --exit-code c1 c2
# another command holding the lock past core.lock_timeout: a clean failure
echo "core: {lock_timeout: 0.3}" > .mlo/config.local.yaml
echo x > locked.txt
# The holder keeps the lock until told to let go (flock -o: the lock is flock's
# own, not its child's), and the add starts only once the lock is taken: no
# sleep stands in for either, so a loaded machine cannot reorder them.
flock -o .mlo/tmp/data.lock bash -c 'until [ -e release-lock ]; do sleep 0.05; done' & holder=$!
for _ in $(seq 600); do flock -n .mlo/tmp/data.lock true || break; sleep 0.05; done
flock -n .mlo/tmp/data.lock true && fail "the lock holder did not take .mlo/tmp/data.lock"
expect_rc 3 data add locked.txt
expect_err_contains "another mlo command"
expect_no_file locked.txt.mlo
touch release-lock
wait $holder
rm release-lock
expect_ok data add locked.txt
rm .mlo/config.local.yaml
git commit -qm "concurrent" || fail commit

# ---- Ctrl-C during add ----
truncate -s 256M big.bin
printf 'marker' | dd of=big.bin bs=1 seek=1000000 conv=notrunc status=none
before=$(stat -c '%s %Y' big.bin)
MLO_JOBS=1 "$MLO" data add big.bin >"$TEST_TMP/int.out" 2>&1 & pid=$!
# wait until the copy into the cache has started, then interrupt
for _ in $(seq 1 500); do
  ls -A .mlo/cache/tmp/ 2>/dev/null | grep -q . && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.01
done
kill -INT $pid 2>/dev/null
wait $pid; rc=$?
if [ $rc = 0 ]; then
  echo "note: add finished before the signal arrived; interrupt case not exercised"
else
  expect_eq "$rc" "130" "interrupted add exits 130"
  grep -q "interrupted" "$TEST_TMP/int.out" || fail "no 'interrupted' message: $(cat "$TEST_TMP/int.out")"
  expect_no_file big.bin.mlo
  expect_eq "$(stat -c '%s %Y' big.bin)" "$before" "workspace file intact"
  expect_eq "$(ls -A .mlo/cache/tmp | wc -l)" "0" "no temp files left in the cache"
  git diff --cached --quiet || fail "something was staged by the interrupted add"
  pass
fi
expect_ok data add big.bin
expect_file big.bin.mlo
expect_ok data status --exit-code big.bin
bighash=$(awk '/^sha256:/{print $2}' big.bin.mlo)
expect_ok data rm --remove-data big.bin
rm -f "$(obj "$bighash")"
git reset -q --hard

# ---- disk full while writing the cache ----
SHIM="$TEST_TMP/enospc.so"
cc -shared -fPIC -o "$SHIM" "$HERE/enospc_shim.c" -ldl || skip "no C compiler for the fault injector"
mkdir -p full && for i in 1 2 3; do echo "full $i" > full/$i.txt; done
echo "single" > one.txt
sum_before=$(cat full/*.txt one.txt | sha256sum)
export ENOSPC_PATH_MATCH="/.mlo/cache/tmp/"
# A large file takes the other copy path (kernel copy_file_range beside the hash).
head -c $((12 * 1024 * 1024)) /dev/urandom > large.bin
large_before=$(sha256sum < large.bin)
printf 'cache:\n  link: copy\n' > .mlo/config.local.yaml
LD_PRELOAD="$SHIM" "$MLO" data add large.bin >"$TEST_TMP/large.out" 2>"$TEST_TMP/large.err"; rc=$?
expect_eq "$rc" "3" "disk full during a large copy exits 3"
grep -q "No space left on device" "$TEST_TMP/large.err" || fail "no ENOSPC message: $(cat "$TEST_TMP/large.err")"
expect_no_file large.bin.mlo
expect_eq "$(sha256sum < large.bin)" "$large_before" "large file intact after disk full"
expect_eq "$(ls -A .mlo/cache/tmp | wc -l)" "0" "no temp files left after a failed large copy"
rm -f .mlo/config.local.yaml large.bin
LD_PRELOAD="$SHIM" "$MLO" data add full one.txt >"$TEST_TMP/full.out" 2>"$TEST_TMP/full.err"; rc=$?
unset ENOSPC_PATH_MATCH
expect_eq "$rc" "3" "disk full exits 3"
grep -q "No space left on device" "$TEST_TMP/full.err" || fail "no ENOSPC message: $(cat "$TEST_TMP/full.err")"
grep -q "hint: free some disk space" "$TEST_TMP/full.err" || fail "no hint: $(cat "$TEST_TMP/full.err")"
pass
expect_no_file full.mlo
expect_no_file one.txt.mlo
expect_eq "$(cat full/*.txt one.txt | sha256sum)" "$sum_before" "workspace intact after disk full"
expect_eq "$(ls -A .mlo/cache/tmp | wc -l)" "0" "no temp files left after disk full"
git diff --cached --quiet || fail "something was staged after disk full"
pass
# with space again, the same command finishes
expect_ok data add full one.txt
expect_file full.mlo
expect_ok data status --exit-code full one.txt

done_testing
