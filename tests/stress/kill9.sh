#!/usr/bin/env bash
# kill -9 harness (issue 11): random SIGKILLs during 'mlo data add',
# 'mlo data checkout', 'mlo pull' and 'mlo push' (directory remote). After
# each kill: 'mlo fsck' passes, 'mlo data status' answers, no temp file is
# left inside tracked data, the re-run succeeds, and the bytes are right.
# MLO_STRESS_KILLS (default 20) sets the kills per command.
source "$(dirname "$0")/../cli/lib.sh"

KILLS=${MLO_STRESS_KILLS:-20}
declare -A MID_RUN=() FINISHED=()

# A folder of small files and one chunked (> 2 MiB) file, in NAME.
make_data() {
  local dir=$1 seed=$2
  mkdir -p "$dir/sub"
  for i in $(seq 1 60); do printf 'file %s seed %s\n' "$i" "$seed" >"$dir/f$i.txt"; done
  for i in $(seq 1 20); do head -c $((i * 997)) /dev/urandom >"$dir/sub/r$i.bin"; done
  head -c 3000000 /dev/urandom >"$dir/big.bin"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# kill_during LABEL MAX_MS CMD... : starts mlo CMD, SIGKILLs it after a random
# delay up to MAX_MS, and counts whether it was still running.
kill_during() {
  local label=$1 max=$2; shift 2
  "$MLO" "$@" >/dev/null 2>&1 &
  local pid=$! delay=$((RANDOM % (max + 1)))
  sleep "$(printf '0.%03d' "$delay")"
  if kill -9 "$pid" 2>/dev/null; then
    MID_RUN[$label]=$((${MID_RUN[$label]:-0} + 1))
  else
    FINISHED[$label]=$((${FINISHED[$label]:-0} + 1))
  fi
  wait "$pid" 2>/dev/null
}

# How long a command takes here (ms, at least 20, at most 999): kills are
# spread over its whole run.
duration_of() {
  local start
  start=$(now_ms)
  "$MLO" "$@" >/dev/null 2>&1 || fail "mlo $* failed while measuring"
  local took=$(($(now_ms) - start))
  ((took < 20)) && took=20
  ((took > 999)) && took=999
  echo "$took"
}

no_temp_inside() {
  local left
  left=$(find "$1" -name '.*.tmp.*' 2>/dev/null | head -3)
  [ -z "$left" ] || fail "$2: temp files left inside tracked data: $left"
  pass
}

after_kill() {  # LABEL DATA_DIR [missing-ok]: the repository answers and is not damaged
  run_mlo fsck
  # A killed pull may not have fetched everything yet: missing is expected
  # there, a corrupt object never.
  if [ "${3:-}" = missing-ok ] && [ "$RC" = 1 ]; then
    [[ "$OUT" == *" 0 corrupt, "* ]] || fail "$1: fsck after a kill: $OUT"
  else
    [ "$RC" = 0 ] || fail "$1: fsck exited $RC after a kill: $OUT $ERR"
  fi
  pass
  run_mlo data status
  [ "$RC" = 0 ] || [ "$RC" = 1 ] || fail "$1: data status exited $RC after a kill: $ERR"
  pass
  [ -d "$2" ] && no_temp_inside "$2" "$1"
}

new_repo a
expect_ok remote add origin "$TEST_TMP/remote" --default
make_data data 0
expect_ok data add data
git add -A && git commit -qm v0 || fail "commit"

# ---- add: the folder changes each round -----------------------------------
max=$(duration_of data add data)
for round in $(seq 1 "$KILLS"); do
  printf 'round %s\n' "$round" >>data/f1.txt
  head -c 5000 /dev/urandom >"data/sub/new$round.bin"
  kill_during add "$max" data add data
  after_kill add data
  expect_ok data add data
  expect_ok data status --exit-code
done
rm -rf "$TEST_TMP/expect" && cp -a data "$TEST_TMP/expect"
rm -rf data && expect_ok data checkout
diff -r data "$TEST_TMP/expect" >/dev/null || fail "add: checkout after the kills differs from the data added"
pass
git add -A && git commit -qm v1 || fail "commit v1"
expect_ok push

# ---- checkout: switch between two versions --------------------------------
cp -a data "$TEST_TMP/v1"
make_data data 2
expect_ok data add data
git add -A && git commit -qm v2 || fail "commit v2"
cp -a data "$TEST_TMP/v2"
git checkout -q HEAD~1 -- data.mlo || fail "git checkout of the pointer"
max=$(duration_of data checkout)  # a real switch, v2 -> v1
for round in $(seq 1 "$KILLS"); do
  want=v$((round % 2 + 1))
  git checkout -q "HEAD$([ "$want" = v1 ] && echo '~1')" -- data.mlo || fail "git checkout of the pointer"
  kill_during checkout "$max" data checkout
  after_kill checkout data
  expect_ok data checkout
  diff -r data "$TEST_TMP/$want" >/dev/null || fail "checkout round $round: data differs from $want"
  pass
done
git checkout -q HEAD -- data.mlo && expect_ok data checkout
expect_ok push

# ---- pull: a fresh clone's cache and data each round ----------------------
cd "$TEST_TMP" && git clone -q a b && cd b || fail "clone"
max=$(duration_of pull)
for round in $(seq 1 "$KILLS"); do
  rm -rf .mlo/cache data
  kill_during pull "$max" pull
  after_kill pull data missing-ok
  expect_ok pull
  diff -r data "$TEST_TMP/v2" >/dev/null || fail "pull round $round: data differs"
  pass
done

# ---- push: new data each round, pushed from a ----------------------------
cd "$TEST_TMP/a" || fail "cd a"
mkdir -p more/r0 && head -c 2500000 /dev/urandom >more/r0/big.bin
expect_ok data add more/r0
max=$(duration_of push)  # a push with new data
for round in $(seq 1 "$KILLS"); do
  mkdir -p "more/r$round" && head -c 40000 /dev/urandom >"more/r$round/x.bin"
  head -c 2500000 /dev/urandom >"more/r$round/big.bin"
  expect_ok data add "more/r$round"
  kill_during push "$max" push
  after_kill push data
  expect_ok push
done
git add -A && git commit -qm more || fail "commit more"
cd "$TEST_TMP" && git clone -q a c && cd c || fail "clone c"
expect_ok pull
diff -r more "$TEST_TMP/a/more" >/dev/null || fail "push: a fresh clone pulled different bytes"
pass
expect_ok data status --exit-code

for op in add checkout pull push; do
  echo "kill9 $op: $((${MID_RUN[$op]:-0} + ${FINISHED[$op]:-0})) SIGKILLs, ${MID_RUN[$op]:-0} while running," \
    "${FINISHED[$op]:-0} after it had exited"
done
done_testing
