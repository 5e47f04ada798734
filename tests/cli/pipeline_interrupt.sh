#!/usr/bin/env bash
# Ctrl-C during `mlo run`: the stage and its children are gone, the run is
# recorded as interrupted, and nothing is half-stored (no output objects,
# no mlo.lock entry, no temp files).
source "$(dirname "$0")/lib.sh"
new_repo i
export TEST_TMP
cat > mlo.yaml <<'YAML'
stages:
  first:
    cmd: echo one > one.txt
    outs: [one.txt]
  long:
    cmd: echo partial-output > out.txt; echo visible-in-log; sleep 300 & echo $! > "$TEST_TMP/child.pid"; echo started > "$TEST_TMP/started"; wait
    deps: [one.txt]
    outs: [out.txt]
YAML
"$MLO" run > "$TEST_TMP/run.out" 2>&1 &
pid=$!
for _ in $(seq 1 200); do [ -f "$TEST_TMP/started" ] && break; sleep 0.1; done
[ -f "$TEST_TMP/started" ] || fail "the stage did not start"
child=$(cat "$TEST_TMP/child.pid")
kill -0 "$child" 2>/dev/null || fail "the stage's child is not running"
kill -INT "$pid"
wait "$pid"
rc=$?
expect_eq "$rc" 130 "exit status after SIGINT"
for _ in $(seq 1 50); do kill -0 "$child" 2>/dev/null || break; sleep 0.1; done
kill -0 "$child" 2>/dev/null && { kill -9 "$child"; fail "the stage's child process survived Ctrl-C"; }
pass

expect_ok --json runs ls --stage long
expect_json "len(d)==1 and d[0]['status']=='interrupted'"
expect_ok --json runs ls --stage first
expect_json "len(d)==1 and d[0]['status']=='succeeded'"
# The finished stage is in mlo.lock; the interrupted one is not, and its output is not stored.
grep -q "first:" mlo.lock || fail "finished stage missing from mlo.lock"
grep -q "long:" mlo.lock && fail "interrupted stage recorded in mlo.lock"
h=$(printf 'partial-output\n' | sha256sum | cut -c1-64)
expect_no_file ".mlo/cache/objects/${h:0:2}/${h:2}"
[ -z "$(ls -A .mlo/cache/tmp 2>/dev/null)" ] || fail "temp files left in the cache"
[ -z "$(ls -A .mlo/tmp/runs 2>/dev/null)" ] || fail "temp files left in .mlo/tmp/runs"
pass
# The log of the interrupted run was kept.
run_mlo --json runs ls --stage long
id=$(printf '%s' "$OUT" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")
expect_ok runs show "$id"
expect_out_contains "interrupted"
expect_ok runs log "$id"
expect_out_contains "visible-in-log"
# Running again finishes the job (first is up to date).
sed -i 's/sleep 300 & echo $! > "$TEST_TMP\/child.pid"; echo started > "$TEST_TMP\/started"; wait/true/' mlo.yaml
expect_ok run
expect_out_contains "first is up to date"
expect_file out.txt
done_testing
