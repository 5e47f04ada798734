#!/usr/bin/env bash
# Eight writers at once (issue 11): concurrent 'mlo data add' and then
# 'mlo data commit' processes on different paths of one repository. Every
# one must succeed (they queue on the repository lock), and afterwards fsck
# and status are clean and every pointer names the bytes on disk.
source "$(dirname "$0")/../cli/lib.sh"

WRITERS=${MLO_STRESS_WRITERS:-8}
new_repo w
for n in $(seq 1 "$WRITERS"); do
  mkdir -p "d$n/sub"
  for i in $(seq 1 40); do printf 'writer %s file %s\n' "$n" "$i" >"d$n/f$i.txt"; done
  head -c 300000 /dev/urandom >"d$n/sub/blob.bin"
  head -c 2500000 /dev/urandom >"single$n.bin"
done

# run_all CMD_FOR_N : starts one process per writer, waits, counts failures.
run_all() {
  local pids=() failed=0 n
  for n in $(seq 1 "$WRITERS"); do
    # shellcheck disable=SC2046
    "$MLO" $(eval "echo $1") >"$TEST_TMP/w$n.out" 2>"$TEST_TMP/w$n.err" &
    pids+=($!)
  done
  for n in "${!pids[@]}"; do
    wait "${pids[$n]}" || { failed=$((failed + 1)); cat "$TEST_TMP/w$((n + 1)).err" >&2; }
  done
  echo "$failed"
}

started=$(date +%s%N)
failed=$(run_all 'data add d$n single$n.bin')
expect_eq "$failed" 0 "concurrent data add: failed writers"
for n in $(seq 1 "$WRITERS"); do
  printf 'changed by writer %s\n' "$n" >>"d$n/f1.txt"
  head -c 1000 /dev/urandom >"d$n/sub/new.bin"
  head -c 100 /dev/urandom >>"single$n.bin"
done
failed=$(run_all 'data commit d$n single$n.bin')
expect_eq "$failed" 0 "concurrent data commit: failed writers"
took=$((($(date +%s%N) - started) / 1000000))

expect_ok fsck
expect_ok data status --exit-code
expect_ok --json data ls
expect_json "len(d['entries']) == 2 * $WRITERS"
# The pointers name exactly the bytes on disk: a checkout from the cache
# alone rebuilds them.
mkdir -p "$TEST_TMP/before" && cp -a d* single* "$TEST_TMP/before/"
for n in $(seq 1 "$WRITERS"); do rm -rf "d$n" "single$n.bin"; done
expect_ok data checkout
for n in $(seq 1 "$WRITERS"); do
  diff -r "d$n" "$TEST_TMP/before/d$n" >/dev/null || fail "d$n differs after checkout"
  cmp -s "single$n.bin" "$TEST_TMP/before/single$n.bin" || fail "single$n.bin differs after checkout"
  pass
done
git status --porcelain | grep -q "d1.mlo" || fail "pointers were not staged"
pass
echo "writers: $WRITERS concurrent add + $WRITERS concurrent commit processes, 0 failed, ${took} ms"
done_testing
