#!/usr/bin/env bash
# Peak memory of `data add`, `push`, a fresh clone's `pull`, a `data
# status` with nothing or one file changed, a `data checkout` of a removed
# folder and a pull at 10,000 and 40,000 files grows by a bounded number of bytes a file
# (issue 24). Each runs at 1,000 files (the
# fixed base: binary, libraries, SQLite, thread stacks) and at 10,000 files,
# under GNU time; the slope (difference / 9,000) must stay under a bound
# that main met with margin when the test was written. Peak RSS does not
# move with load much (malloc's per-thread arenas spread it by ~100 B a file).
source "$(dirname "$0")/lib.sh"
[ -x /usr/bin/time ] || fail "GNU time is needed (Debian package 'time', .ci/debian-packages.txt)"
sanitized_build && skip "peak memory means nothing under the sanitizers' runtime"

# peak_kb CMD... : runs mlo CMD (must succeed) and prints its peak RSS in KiB.
peak_kb() {
  /usr/bin/time -o "$TEST_TMP/time.txt" -f '%M' "$MLO" -q "$@" >"$TEST_TMP/out.txt" 2>"$TEST_TMP/err.txt" \
    || fail "mlo $* failed: $(cat "$TEST_TMP/err.txt")"
  tail -1 "$TEST_TMP/time.txt"
}
# (called as ADD=$(peak_kb ...): a failure there ends only the subshell, so
# each result is checked to be a number.)
number() { [[ "$1" =~ ^[0-9]+$ ]] || fail "$2: no peak RSS measured"; }

# make_files N : N files of 64 bytes in folders of 500, under data/.
make_files() {
  /usr/bin/python3 - "$1" <<'PY'
import os, sys
n = int(sys.argv[1])
for i in range(n):
    d = "data/g%02d/d%03d" % (i // 10000, i // 500)
    if i % 500 == 0:
        os.makedirs(d, exist_ok=True)
    with open("%s/f%06d.bin" % (d, i), "w") as f:
        f.write(("%06d" % i) * 10 + "abc\n")
PY
}

# measure N : sets ADD PUSH PULL to the peak RSS in KiB with N files.
measure() {
  local n=$1
  new_repo "src$n"
  make_files "$n"
  "$MLO" -q remote add origin "$TEST_TMP/remote$n" --default || fail "remote add"
  ADD=$(peak_kb data add data)
  git add -A && git commit -qm data || fail "commit"
  PUSH=$(peak_kb push)
  cd "$TEST_TMP" && git clone -q "src$n" "clone$n" && cd "clone$n" || fail "clone"
  PULL=$(peak_kb pull)
  number "$ADD" "data add"; number "$PUSH" push; number "$PULL" pull
  [ "$(find data -type f | wc -l)" = "$n" ] || fail "pull did not bring the $n files back"
  cd "$TEST_TMP" && chmod -R u+w "src$n" "clone$n" "remote$n" && rm -rf "src$n" "clone$n" "remote$n"
}

measure 1000
add1=$ADD push1=$PUSH pull1=$PULL
measure 10000
add2=$ADD push2=$PUSH pull2=$PULL

# status_peak N : peak RSS in KiB of a status with nothing changed, then of
# one with one file changed, N files.
status_peak() {
  new_repo "status$1"
  make_files "$1"
  "$MLO" -q data add data && git add -A && git commit -qm data || fail "add"
  # Recorded by add (or else by this first status): each folder's digest.
  "$MLO" -q data status >/dev/null || fail "status after add is not clean"
  local clean changed
  clean=$(peak_kb data status)
  echo "changed" >data/g00/d007/f003500.bin
  changed=$(/usr/bin/time -o "$TEST_TMP/time.txt" -f '%M' "$MLO" -q data status --exit-code >/dev/null 2>&1; echo $?)
  [ "$changed" = 1 ] || fail "status with one file changed exited $changed (1 expected)"
  changed=$(tail -1 "$TEST_TMP/time.txt")
  # The folder removed: checkout writes every file back from the cache.
  rm -rf data
  local restored
  restored=$(peak_kb data checkout data)
  [ "$(find data -type f | wc -l)" = "$1" ] || fail "checkout did not bring the $1 files back"
  # A fresh clone's pull of the whole tree from a directory remote.
  "$MLO" -q remote add origin "$TEST_TMP/remote-status$1" --default && "$MLO" -q push >/dev/null \
    && git add -A && git commit -qm remote || fail "push of $1 files"
  cd "$TEST_TMP" && git clone -q "status$1" "pulled$1" && cd "pulled$1" || fail "clone"
  # Before the pull, with its folder objects fetched (status --remote, exit 1:
  # the files are not in the cache): diff lists every file deleted, as it walks.
  "$MLO" -q data status --remote >/dev/null 2>&1
  local diffed
  /usr/bin/time -o "$TEST_TMP/time.txt" -f '%M' "$MLO" data diff >"$TEST_TMP/out.txt" 2>"$TEST_TMP/err.txt" \
    || fail "mlo data diff failed: $(cat "$TEST_TMP/err.txt")"
  diffed=$(tail -1 "$TEST_TMP/time.txt")
  [ "$(grep -c '^deleted:  data/' "$TEST_TMP/out.txt")" = "$1" ] || fail "data diff before the pull did not list the $1 files"
  local pulled first
  pulled=$(peak_kb pull)
  [ "$(find data -type f | wc -l)" = "$1" ] || fail "pull did not bring the $1 files back"
  first=$(peak_kb data status)
  # fsck of the pulled cache: every object read, more than one batch of 8,192.
  local checked
  checked=$(peak_kb --json fsck)
  /usr/bin/python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(0 if d["ok"] and d["objects"] > int(sys.argv[2]) else 1)' \
    "$TEST_TMP/out.txt" "$1" || fail "fsck of $1 files: $(head -c 300 "$TEST_TMP/out.txt")"
  cd "$TEST_TMP" && chmod -R u+w "status$1" "pulled$1" "remote-status$1" && rm -rf "status$1" "pulled$1" "remote-status$1"
  echo "$clean $changed $restored $pulled $checked $diffed $first"
}
# Between 10,000 and 40,000 files: above 16,384 files the scan's stat group
# stops growing, so what is left is per-file cost.
read -r status1 changed1 checkout1 pulled1 fsck1 diff1 first1 <<<"$(status_peak 10000)"
read -r status2 changed2 checkout2 pulled2 fsck2 diff2 first2 <<<"$(status_peak 40000)"
number "$diff1" "data diff"; number "$diff2" "data diff"
number "$first1" "first status after the pull"; number "$first2" "first status after the pull"
number "$pulled1" "pull"; number "$pulled2" "pull"
number "$fsck1" "fsck"; number "$fsck2" "fsck"
number "$status1" "data status"; number "$status2" "data status"
number "$changed1" "data status, one change"; number "$changed2" "data status, one change"
number "$checkout1" "data checkout"; number "$checkout2" "data checkout"

# check STEP BASE_KB BIG_KB LIMIT [FROM TO] : bytes a file above the base within LIMIT.
check() {
  local from=${5:-1000} to=${6:-10000}
  local per=$((($3 - $2) * 1024 / (to - from)))
  echo "$1: ${2} KiB at $from files, ${3} KiB at $to: $per bytes a file (at most $4)"
  [ "$per" -le "$4" ] || fail "$1 holds $per bytes a file (at most $4 expected)"
  pass
}
# Measured on main at 1a45f03 (2026-12-05): add 491-542, push 1,074-1,137,
# pull 1,259-1,323 B a file; before session 9 push and pull held ~2.1 and
# ~2.6 KB a file at 100k files, which these bounds refuse. Add held 557-612
# in session 10 and 332 in session 22's build; since its scan keeps paths in
# a pool and 72-byte entries (session 23), 243-288. At this size malloc's
# arenas hide that change's ~60 bytes a file (1M files: tests/bench/RESULTS.md), so the
# bound catches only a return to session 10's.
check "data add" "$add1" "$add2" 450
check "push" "$push1" "$push2" 1500
# Status with nothing changed held ~250 B a file before it dropped unchanged
# folders' files (session 14); 100 B is issue 24's target for every command.
check "data status, nothing changed" "$status1" "$status2" 100 10000 40000
# With one file changed it held every file (~300 B each) until the other
# folders stood in by their recorded objects (session 15).
check "data status, one file changed" "$changed1" "$changed2" 100 10000 40000
# A checkout of a removed folder listed every file it was to write (~160 B
# each) until it streamed them from the manifest (session 17).
check "data checkout, folder removed" "$checkout1" "$checkout2" 100 10000 40000
check "pull" "$pull1" "$pull2" 1800
# At this size a pull's per-pack costs still show (340 and 387 B a file on
# main and on session 18's build, alternated); the remote index's 24-byte
# places (session 18: ~226 -> ~134 B a file from 100k to 300k files) show
# only further up, in tests/bench. This bound catches a pull that holds the
# whole list of files again (~1.3 KB each before session 12).
check "pull, 10,000 to 40,000 files" "$pulled1" "$pulled2" 600 10000 40000
# fsck held a 40-byte entry for every cached object (in a vector that
# doubles) beside the referenced hashes until it verified in batches
# (session 22); what is left is the referenced set, 32 B a hash (34 B a
# file measured; the listing on top of it would be about 100).
check "fsck" "$fsck1" "$fsck2" 70 10000 40000
check "data diff before the pull, every file deleted" "$diff1" "$diff2" 100 10000 40000
check "first data status after the pull" "$first1" "$first2" 100 10000 40000
done_testing
