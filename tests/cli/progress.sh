#!/usr/bin/env bash
# Progress of long data commands (issue 25): on a terminal (a pseudo-terminal
# made by script(1)) a progress line per phase with counts, cleared before
# the summary; through a pipe, with -q or --json nothing but the summary; no
# escape codes under TERM=dumb; plain lines and ::group:: blocks in CI logs.
source "$(dirname "$0")/lib.sh"

command -v script >/dev/null || skip "script(1) is not installed (bsdutils)"
# make_tree DIR [PER_FOLDER] : 20 folders of small files (150 each: 3000).
make_tree() {
  local d f
  for d in $(seq 1 20); do
    mkdir -p "$1/d$d"
    for f in $(seq 1 "${2:-150}"); do echo "$1 $d $f" >"$1/d$d/f$f"; done
  done
}
ESC=$'\e'
# Draw at once: the default start delay (0.3 s) keeps quick phases silent,
# which is checked at the end.
export MLO_PROGRESS_DELAY=0

new_repo a
make_tree big
on_tty data add big
# A first add stores files as its scan meets them (lib/data/first_add.h):
# one phase that counts them and their bytes, with no total to reach.
[[ "$OUT" == *"hash: "*" files, "*"B"* ]] || fail "no hash progress with counts on a terminal: $OUT"
expect_out_contains "hash: 3000 files"
# The last progress line is erased, and the summary is what stays on screen.
[[ "$OUT" == *$'\r\e[KAdded big (3000 files'* ]] || fail "summary not on a cleared line: $OUT"
[[ "${OUT##*Added big}" != *"hash: "* ]] || fail "progress drawn after the summary: $OUT"
git commit -qm big
pass

# Through a pipe: the summary only, nothing on stderr, no escape codes.
make_tree big2 15
expect_ok data add big2
expect_eq "$ERR" "" "stderr through a pipe"
[[ "$OUT" != *"$ESC"* && "$OUT" != *$'\r'* ]] || fail "escape codes through a pipe: $OUT"
expect_out_contains "Added big2 (300 files"
git commit -qm big2

# -q and --json on a terminal: nothing drawn.
for f in big2/d1/*; do echo changed >>"$f"; done
on_tty -q data commit big2
expect_eq "$OUT" "" "-q output on a terminal"
on_tty --json data status
[[ "$OUT" != *"check: "* && "$OUT" != *"$ESC"* ]] || fail "progress mixed into --json: $OUT"
pass

# TERM=dumb: redrawn with carriage returns and spaces, never an escape code.
rm -rf big
OUT=$(TERM=dumb script -qfec "'$MLO' data checkout big" /dev/null </dev/null) || fail "checkout under TERM=dumb: $OUT"
[[ "$OUT" == *"write: "*"/3000 files"* ]] || fail "no checkout progress under TERM=dumb: $OUT"
[[ "$OUT" != *"$ESC"* ]] || fail "escape codes under TERM=dumb: $OUT"
expect_eq "$(find big -type f | wc -l)" "3000" "files checked out"

# checkout, status, fsck and gc draw their phases on a terminal.
rm -rf big
on_tty data checkout big
[[ "$OUT" == *"write: "*"/3000 files"* ]] || fail "no checkout progress: $OUT"
on_tty data status
[[ "$OUT" == *"check: "*"/2 paths"* ]] || fail "no status progress: $OUT"
on_tty fsck
[[ "$OUT" == *"verify: "*" objects"*"(100%)"* ]] || fail "no fsck progress: $OUT"
on_tty gc --dry-run
[[ "$OUT" == *"references: "* ]] || fail "no gc progress: $OUT"
pass

# Ctrl-C in the middle: the error starts on an erased line (no progress text
# left in front of it). 20,000 files take seconds to hash, so the signal
# normally lands in the hash phase; when the machine is fast enough to finish
# first there is nothing to check.
/usr/bin/python3 -c "
import os
for i in range(20000):
    d = 'huge/d%03d' % (i % 100); os.makedirs(d, exist_ok=True); open(d + '/f%d' % i, 'w').write('x%d' % i)"
OUT=$(script -qfec "timeout -s INT 1 '$MLO' data add huge" /dev/null </dev/null || true)
if [[ "$OUT" == *"interrupted"* ]]; then
  [[ "$OUT" == *$'\r\e[K'*"mlo: error:"* && "${OUT%%mlo: error:*}" == *$'\r\e[K' ]] ||
    [[ "${OUT%%mlo: error:*}" == *$'\r\e[K\e['*"m" ]] || fail "progress left in front of the interrupt error: $OUT"
  pass
fi
rm -rf huge

# In tmux (a real terminal emulator): the final screen holds the summary
# and no progress line.
if command -v tmux >/dev/null; then
  make_tree big4 50
  tmux -L "mlo-$$" new-session -d -x 150 -y 20 "'$MLO' data add big4; echo finished; sleep 30"
  for _ in $(seq 1 300); do
    screen=$(tmux -L "mlo-$$" capture-pane -p)
    [[ "$screen" == *finished* ]] && break
    sleep 0.1
  done
  tmux -L "mlo-$$" kill-server
  [[ "$screen" == *"Added big4 (1000 files"* ]] || fail "no summary on the tmux screen: $screen"
  [[ "$screen" != *"hash: "* && "$screen" != *"scan: "* && "$screen" != *"store: "* ]] ||
    fail "progress left on the tmux screen: $screen"
  pass
  git reset -q
fi

# CI without a terminal: plain lines on stderr, a log group per long phase
# under GitHub Actions, stdout unchanged.
make_tree big3
OUT=$(CI=true GITHUB_ACTIONS=true MLO_PROGRESS_EVERY=0.001 "$MLO" data add big3 2>"$TEST_TMP/ci.err") ||
  fail "data add in CI: $OUT"
ERR=$(cat "$TEST_TMP/ci.err")
[[ "$ERR" == *"::group::hash"*"hash: "*" files, "*"::endgroup::"*"hash: 3000 files"*" in "*" s"* ]] ||
  fail "no CI progress lines with a log group: $ERR"
[[ "$ERR" != *$'\r'* && "$ERR" != *"$ESC"* ]] || fail "carriage returns or escape codes in a CI log: $ERR"
[[ "$OUT" == "Added big3 (3000 files"* && "$OUT" != *"::"* ]] || fail "CI progress on stdout: $OUT"
ERR=$(CI=true MLO_PROGRESS_EVERY=soon "$MLO" data status 2>&1 >/dev/null) && fail "a bad MLO_PROGRESS_EVERY was accepted"
[[ "$ERR" == *"MLO_PROGRESS_EVERY=soon"* ]] || fail "bad MLO_PROGRESS_EVERY not named: $ERR"
pass

# monitor: rows read (by bytes, with a percentage), then the columns profiled.
seq 1 5000 | awk 'BEGIN{print "x,y"} {print $1 "," $1 % 7}' >"$TEST_TMP/ref.csv"
on_tty monitor --reference "$TEST_TMP/ref.csv" --current "$TEST_TMP/ref.csv"
[[ "$OUT" == *"read: "*" rows, "*"B/"* ]] || fail "no monitor read progress on a terminal: $OUT"
[[ "$OUT" == *"columns: "*"/2 columns"* ]] || fail "no monitor column progress: $OUT"
pass

# The default start delay: a phase must run a moment before a terminal shows
# it, so quick commands never flash a line. A long delay stands in for "quick".
MLO_PROGRESS_DELAY=3600 on_tty data status
[[ "$OUT" != *"check: "* && "$OUT" != *"$ESC[K"* ]] || fail "progress drawn before the start delay: $OUT"
OUT=$(MLO_PROGRESS_DELAY=later script -qfec "'$MLO' data status" /dev/null </dev/null) &&
  fail "a bad MLO_PROGRESS_DELAY was accepted: $OUT"
[[ "$OUT" == *"MLO_PROGRESS_DELAY=later"* ]] || fail "bad MLO_PROGRESS_DELAY not named: $OUT"
pass
done_testing
