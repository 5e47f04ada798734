#!/usr/bin/env bash
# What `mlo run` shows while it works (issue 25), in a real terminal (tmux):
# a ninja-like status line of the running stage before the run ends, a final
# screen with only the result lines and the summary table; -v streams the
# stage's output; a failing stage's last lines are shown even when its output
# was hidden. Through a pipe: the output as before, no escape codes, no
# table; in GitHub Actions one ::group:: block per stage.
source "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null || fail "tmux is not installed (it is in .ci/debian-packages.txt)"
new_repo s
export TEST_TMP
cat > mlo.yaml <<'YAML'
stages:
  prep:
    cmd: echo prep-output; echo data > prep.txt
    outs: [prep.txt]
  train:
    cmd: echo epoch-1-of-2; touch "$TEST_TMP/train.started"; while [ ! -f "$TEST_TMP/train.go" ]; do sleep 0.1; done; echo model > model.txt
    deps: [prep.txt]
    outs: [model.txt]
YAML
git add mlo.yaml && git commit -qm pipeline

# tmux's own server and socket, so nothing outside the test is touched.
TMUX_SOCK="$TEST_TMP/tmux.sock"
export TMUX_SOCK
tm() { tmux -S "$TMUX_SOCK" "$@"; }
trap 'tm kill-server 2>/dev/null' EXIT
screen() { tm capture-pane -p -t run -S -50; }
# run_in_tmux ARGS : mlo ARGS in a 100x30 terminal; its exit code lands in rc.
run_in_tmux() {
  rm -f "$TEST_TMP/rc" "$TEST_TMP/train.started" "$TEST_TMP/train.go"
  local cmd="'$MLO'" a
  for a in "$@"; do cmd+=" '$a'"; done
  tm kill-session -t run 2>/dev/null
  # tmux's server once died as it started ("server exited unexpectedly", the
  # ASan CI run of session 20, with nothing of mlo started yet): try again
  # then. A session that did start stays up after mlo (sleep 600), so a
  # failing mlo is never retried here.
  local try
  for try in 1 2 3; do
    tm new-session -d -s run -x 100 -y 30 "cd '$PWD' && $cmd; echo \$? > '$TEST_TMP/rc'; sleep 600" &&
      tm has-session -t run 2>/dev/null && return 0
    echo "tmux did not start (try $try)" >&2
    sleep 1
  done
  fail "tmux could not start a session in 3 tries"
}
wait_for_file() {
  for _ in $(seq 1 300); do [ -f "$1" ] && return 0; sleep 0.1; done
  fail "timed out waiting for $1; screen: $(screen)"
}
# wait_for_screen TEXT : until the terminal shows TEXT.
wait_for_screen() {
  for _ in $(seq 1 100); do [[ "$(screen)" == *"$1"* ]] && return 0; sleep 0.1; done
  fail "the terminal never showed '$1'; screen: $(screen)"
}

run_in_tmux run
wait_for_file "$TEST_TMP/train.started"
wait_for_screen "[1/2] train ("
S=$(screen)
[[ "$S" == *"done prep"* ]] || fail "the finished stage's result line is missing while train runs: $S"
[[ "$S" != *"epoch-1-of-2"* ]] || fail "stage output shown without -v: $S"
touch "$TEST_TMP/train.go"
wait_for_file "$TEST_TMP/rc"
expect_eq "$(cat "$TEST_TMP/rc")" 0 "exit code of mlo run"
S=$(screen)
[[ "$S" != *"[1/2]"* && "$S" != *"[0/2]"* ]] || fail "the status line stayed on the final screen: $S"
[[ "$S" == *"done train"* ]] || fail "no result line for train: $S"
echo "$S" | grep -Eq '^stage +result +time' || fail "no summary table header: $S"
echo "$S" | grep -Eq '^train +ran +[0-9]+ s' || fail "no summary row for train: $S"
[[ "$S" == *"2 stages: 2 ran in "* ]] || fail "no summary counts: $S"
pass

# -v: the output streams above the status line, whose stage shows its last line.
git add -A && git commit -qm run1
run_in_tmux -v run -f train
wait_for_file "$TEST_TMP/train.started"
wait_for_screen "epoch-1-of-2"
touch "$TEST_TMP/train.go"
wait_for_file "$TEST_TMP/rc"
S=$(screen)
[[ "$S" == *"epoch-1-of-2"* ]] || fail "-v did not show the stage output: $S"
echo "$S" | grep -Eq '^prep +up to date +-' || fail "up-to-date stage missing from the table: $S"
pass

# A failing stage with hidden output: its last lines, and where the rest is.
cat > mlo.yaml <<'YAML'
stages:
  broken:
    cmd: >-
      for i in $(seq 1 30); do echo "noise $i"; done; echo "ValueError: bad column" >&2; exit 3
YAML
run_in_tmux run
wait_for_file "$TEST_TMP/rc"
expect_eq "$(cat "$TEST_TMP/rc")" 5 "exit code of a failed run (5: a stage failed)"
S=$(screen)
[[ "$S" == *"failed broken"* ]] || fail "no failure line: $S"
[[ "$S" == *"ValueError: bad column"* ]] || fail "the failing stage's last line is not shown: $S"
[[ "$S" == *"mlo runs log "* ]] || fail "no pointer to the full log: $S"
[[ "$S" == *"noise 22"* ]] || fail "not the last 10 lines: $S"
[[ "$S" != *"noise 5"$'\n'* ]] || fail "more than the last lines shown: $S"
echo "$S" | grep -Eq '^broken +failed' || fail "no table row for the failed stage: $S"
pass

# Nothing to do draws nothing: every stage up to date, in a pty.
git checkout -q mlo.yaml
touch "$TEST_TMP/train.go"
expect_ok run
on_tty run
[[ "$OUT" != *"[0/"* && "$OUT" != *"[1/"* ]] || fail "a status line flashed on a run with nothing to do: $OUT"
pass

# Through a pipe: the stage output as it comes, no escape codes, no table.
expect_ok run -f prep
[[ "$ERR" == *"prep-output"* ]] || fail "stage output missing through a pipe: $ERR"
[[ "$OUT$ERR" != *$'\e'* && "$OUT$ERR" != *$'\r'* ]] || fail "escape codes through a pipe: $OUT $ERR"
[[ "$OUT" != *"stage  "*"result"* ]] || fail "summary table through a plain pipe: $OUT"
expect_out_contains "Running prep"
pass

# GitHub Actions: the stage output in a ::group:: block, a table at the end.
OUT=$(GITHUB_ACTIONS=true CI=true "$MLO" run -f prep 2>&1) || fail "run under GITHUB_ACTIONS: $OUT"
[[ "$OUT" == *$'::group::prep\nprep-output\n::endgroup::'* ]] || fail "no log group around the stage output: $OUT"
[[ "$OUT" == *"1 stage: 1 ran in"* || "$OUT" == *"stages: 1 ran"* ]] || fail "no summary in CI: $OUT"
pass
