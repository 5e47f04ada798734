#!/usr/bin/env bash
# `kill -9` of `mlo run` during a long stage: the stage's processes (its
# children too) must not outlive mlo and keep writing outputs; the next
# `mlo run` works.
source "$(dirname "$0")/lib.sh"
new_repo k
export TEST_TMP
cat > mlo.yaml <<'YAML'
stages:
  long:
    cmd: sleep ${SLEEP_S:-300} & echo $! > "$TEST_TMP/child.pid"; echo started > "$TEST_TMP/started"; wait; echo done > out.txt
    outs: [out.txt]
YAML
# Gone: no such process, or a zombie nobody reaped yet (not running).
gone() {
  local state
  state=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null)
  [ -z "$state" ] || [ "$state" = Z ]
}
"$MLO" run > "$TEST_TMP/run.out" 2>&1 &
pid=$!
for _ in $(seq 1 200); do [ -f "$TEST_TMP/started" ] && break; sleep 0.1; done
[ -f "$TEST_TMP/started" ] || fail "the stage did not start"
child=$(cat "$TEST_TMP/child.pid")
gone "$child" && fail "the stage's child is not running"
kill -9 "$pid"
wait "$pid" 2>/dev/null
for _ in $(seq 1 10); do gone "$child" && break; sleep 0.1; done
gone "$child" || { kill -9 "$child"; fail "the stage's child outlived 'kill -9' of mlo run by a second"; }
pass
expect_no_file out.txt

# The next run works (and runs the stage to the end).
rm -f "$TEST_TMP/started"
export SLEEP_S=0
expect_ok run
expect_out_contains "Running long"
expect_eq "$(cat out.txt)" "done" "the stage's output"
done_testing
