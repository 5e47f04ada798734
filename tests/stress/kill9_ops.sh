#!/usr/bin/env bash
# kill -9 harness, part 2 (issue 11): random SIGKILLs during 'mlo run' (a
# stage writing 30 outputs), 'mlo register', 'mlo promote', 'mlo gc' and
# 'mlo gc --remote' (directory remote). After each kill: 'mlo fsck' passes,
# 'mlo data status' answers, no temp file is left inside outputs, no stage
# process outlives mlo, a lock left behind never blocks the next command
# without naming itself, the registry read from the tags agrees with the
# index ('mlo models show' before and after 'mlo index rebuild'), the re-run
# succeeds, and the bytes are right. MLO_STRESS_KILLS (default 20) sets the
# kills per command.
source "$(dirname "$0")/../cli/lib.sh"
source "$(dirname "$0")/lib_kill9.sh"

# The next command after a kill must work, or say which lock is in its way.
no_silent_lock() {  # LABEL
  local locks
  locks=$(find .git/refs .mlo -name '*.lock' 2>/dev/null | head -3)
  [ -z "$locks" ] && return
  run_mlo models ls
  [ "$RC" = 0 ] || [[ "$ERR" == *".lock"* ]] || fail "$1: a lock was left ($locks) and the next command says only: $ERR"
  pass
}

# The registry as the index has it and as the tags replay it agree.
registry_agrees() {  # LABEL
  run_mlo --json models show m
  [ "$RC" = 0 ] || fail "$1: models show exited $RC: $ERR"
  local before=$OUT
  expect_ok index rebuild
  run_mlo --json models show m
  [ "$OUT" = "$before" ] || fail "$1: the index said $before, the tags say $OUT"
  pass
}

new_repo a
expect_ok remote add origin "$TEST_TMP/remote" --default

# ---- run: a stage writing 30 files, re-run with a new parameter each round --
cat >gen.sh <<'SH'
echo $$ >>"$STAGE_PIDS"
seed=$(sed -n 's/^seed: //p' params.yaml)
mkdir -p out
for i in $(seq 1 30); do
  printf 'seed %s file %s\n' "$seed" "$i" >out/f$i.txt
  head -c 20000 /dev/zero >>out/f$i.txt
done
printf '{"seed": %s}\n' "$seed" >metrics.json
SH
cat >mlo.yaml <<'YAML'
stages:
  gen:
    cmd: sh gen.sh
    deps: [gen.sh]
    params: [seed]
    outs: [out]
    metrics: [metrics.json]
YAML
export STAGE_PIDS="$TEST_TMP/stage.pids"
echo 'seed: 0' >params.yaml
git add -A && git commit -qm pipeline || fail "commit"
max=$(duration_of run)
for round in $(seq 1 "$KILLS"); do
  echo "seed: $round" >params.yaml
  : >"$STAGE_PIDS"
  kill_during run "$max" run
  after_kill run out
  # The stage dies with mlo (its guard kills the process group).
  for _ in $(seq 1 30); do
    alive=
    while read -r p; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done <"$STAGE_PIDS"
    [ -z "$alive" ] && break
    sleep 0.1
  done
  [ -z "$alive" ] || fail "run round $round: stage process(es)$alive outlived mlo by 3 s"
  pass
  expect_ok run
  head -n1 out/f30.txt | grep -qx "seed $round file 30" || fail "run round $round: out/f30.txt is $(head -n1 out/f30.txt)"
  [ "$(ls out | wc -l)" = 30 ] || fail "run round $round: out holds $(ls out | wc -l) files"
  pass
  expect_ok run
  expect_out_contains "up to date"
done
git add -A && git commit -qm "runs" || fail "commit runs"

# ---- register: a new version each round -----------------------------------
STALE_TAG_LOCKS=0
mkdir -p models && head -c 200000 /dev/urandom >models/m.bin
expect_ok data add models/m.bin
git add -A && git commit -qm model || fail "commit model"
expect_ok register m models/m.bin --version v1.0.0
max=$(duration_of register m models/m.bin --version v1.0.1)
for round in $(seq 2 $((KILLS + 1))); do
  kill_during register "$max" register m models/m.bin --version "v1.0.$round"
  after_kill register models
  no_silent_lock register
  # A kill between libgit2's ref lock and its rename leaves the lock: do what
  # the message says (no git process runs here), then register again.
  if [ -e ".git/refs/tags/m@v1.0.$round.lock" ]; then
    expect_rc 3 register m models/m.bin --version "v1.0.$round"
    expect_err_contains "remove that file, then run this again"
    rm ".git/refs/tags/m@v1.0.$round.lock" && STALE_TAG_LOCKS=$((STALE_TAG_LOCKS + 1))
  fi
  if [ -z "$(git tag -l "m@v1.0.$round")" ]; then expect_ok register m models/m.bin --version "v1.0.$round"; fi
  registry_agrees "register round $round"
  expect_json "len([v for v in d['versions'] if v['active']]) == $((round + 1))"
done

# ---- promote: each round's version to the single-holder stage staging ----
max=$(duration_of promote m@v1.0.0 --to staging)
for round in $(seq 1 "$KILLS"); do
  v="v1.0.$((round % (KILLS + 1) + 1))"
  kill_during promote "$max" promote "m@$v" --to staging
  after_kill promote models
  no_silent_lock promote
  locks=$(find .git/refs/tags -name '*.lock' 2>/dev/null)
  if [ -n "$locks" ]; then
    # Named in the log: once (an ASan run, 2026-12-07) the next promote
    # exited 0 beside a lock, not reproduced since; its tag would tell why.
    echo "promote round $round: killed promote left $locks; tags: $(git tag -l 'm#staging*' | sort -t'#' -k3 -n | tail -3 | tr '\n' ' ')"
    # promote's way out of a stale tag lock is --force (no git process runs here)
    expect_rc 3 promote "m@$v" --to staging
    expect_err_contains "run this again with --force"
    expect_ok promote "m@$v" --to staging --force
    STALE_TAG_LOCKS=$((STALE_TAG_LOCKS + 1))
  else
    expect_ok promote "m@$v" --to staging
  fi
  registry_agrees "promote round $round"
  expect_json "d['stages'].get('staging') == ['$v']"
done

# ---- gc: garbage each round, beside tracked data that must survive --------
mkdir -p data && for i in $(seq 1 30); do head -c 30000 /dev/urandom >"data/f$i.bin"; done
expect_ok data add data
git add -A && git commit -qm data || fail "commit data"
rm -rf "$TEST_TMP/expect" && cp -a data "$TEST_TMP/expect"
make_garbage() {  # many small objects: a gc long enough to be killed in
  mkdir -p junk && for i in $(seq 1 120); do printf 'junk %s %s\n' "$i" "$RANDOM$RANDOM" >"junk/f$i.txt"; done
  expect_ok data add junk
  rm -rf junk junk.mlo
}
make_garbage
max=$(duration_of gc --grace 0)
for round in $(seq 1 "$KILLS"); do
  make_garbage
  kill_during gc "$max" gc --grace 0
  after_kill gc data
  expect_ok gc --grace 0
  rm -rf data && expect_ok data checkout
  diff -r data "$TEST_TMP/expect" >/dev/null || fail "gc round $round: checkout after gc differs"
  pass
done

# ---- gc --remote: pushes that mix kept and garbage blobs in one pack ------
expect_ok push
gc_remote=(gc --remote origin --grace 0 --yes --no-fetch-check)
make_garbage_pushed() {  # ROUND: a kept file and garbage, pushed together
  head -c 50000 /dev/urandom >"data/r$1.bin"
  mkdir -p junk && for i in $(seq 1 10); do head -c 30000 /dev/urandom >"junk/f$i.bin"; done
  expect_ok data add data junk
  expect_ok push
  rm -rf junk junk.mlo
  git add -A && git commit -qm "r$1" || fail "commit r$1"
}
make_garbage_pushed 0
STALE_GC_LOCKS=0
max=$(duration_of "${gc_remote[@]}")
for round in $(seq 1 "$KILLS"); do
  make_garbage_pushed "$round"
  kill_during gc_remote "$max" "${gc_remote[@]}"
  after_kill gc_remote data
  # A gc killed while it held the remote's gc lock leaves it. Its holder (this
  # host, a pid now gone) is known dead: the next push does not wait and
  # names the lock, and the next gc removes it.
  lock=$(cd "$TEST_TMP/remote/locks" 2>/dev/null && ls | grep '^gc-.*\.json$' | head -1)
  if [ -n "$lock" ]; then
    STALE_GC_LOCKS=$((STALE_GC_LOCKS + 1))
    head -c 1000 /dev/urandom >"data/wait$round.bin" && expect_ok data add data
    git add -A && git commit -qm "wait $round" || fail "commit wait $round"
    start=$(now_ms)
    run_mlo push
    [ "$RC" = 0 ] && (($(now_ms) - start < 20000)) ||
      fail "gc --remote round $round: a push after the kill: exit $RC after $(($(now_ms) - start)) ms: $ERR"
    [[ "$ERR" == *"ignoring the lock of a killed gc (locks/$lock: its process (pid "*"on this host) is gone)"* ]] ||
      fail "gc --remote round $round: the push does not name the killed gc's lock: $ERR"
    pass
  fi
  expect_ok "${gc_remote[@]}"
  left=$(cd "$TEST_TMP/remote/locks" 2>/dev/null && ls | grep '^gc-.*\.json$')
  [ -z "$left" ] || fail "gc --remote round $round: locks left after the next gc: $left"
  pass
  expect_ok fsck --remote origin
done
rm -rf "$TEST_TMP/expect" && cp -a data "$TEST_TMP/expect"
cd "$TEST_TMP" && git clone -q a fresh && cd fresh || fail "clone"
expect_ok pull
diff -r data "$TEST_TMP/expect" >/dev/null || fail "gc --remote: a fresh clone pulled different bytes"
pass
expect_ok data status --exit-code

print_counts run register promote gc gc_remote
echo "kill9 register/promote: $STALE_TAG_LOCKS killed command(s) left a tag lock (cleared as the message says)"
echo "kill9 gc --remote: $STALE_GC_LOCKS killed gc(s) left the remote's gc lock (a push did not wait; the next gc removed it)"
done_testing
