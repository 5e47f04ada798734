#!/usr/bin/env bash
# Terminal conventions (issue 15): colour follows --color=always|never|auto,
# --no-color, NO_COLOR (only when set and not empty, as no-color.org says) and
# TERM=dumb; mistyped commands and options get git's "did you mean";
# --porcelain -z for data status and ls keeps file names with newlines whole.
source "$(dirname "$0")/lib.sh"
command -v script >/dev/null || fail "script(1) is not installed (bsdutils)"
ESC=$'\033['
SGR=$'\033''\[[0-9;]*m'  # a colour or bold code (progress lines also erase with ESC[K)

new_repo r
printf 'a\n' >a.txt && "$MLO" -q data add a.txt && git add -A && git commit -qm a
printf 'b\n' >a.txt  # data status has a modified entry, printed in red

# tty ENV... -- ARGS... : mlo ARGS under a pseudo-terminal with ENV set; OUT = what it wrote.
tty() {
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  local cmd="env ${envs[*]} '$MLO'" a
  for a in "$@"; do cmd+=" '$a'"; done
  OUT=$(script -qfec "$cmd" /dev/null </dev/null)
}
coloured() { [[ "$OUT" =~ $SGR ]] || fail "$1: no colour in: $(printf '%q' "$OUT")"; pass; }
plain() { [[ ! "$OUT" =~ $SGR ]] || fail "$1: colour in: $(printf '%q' "$OUT")"; pass; }

tty -u NO_COLOR TERM=xterm -- data status
coloured "a terminal"
tty TERM=xterm NO_COLOR= -- data status
coloured "NO_COLOR set but empty"
tty TERM=xterm NO_COLOR=1 -- data status
plain "NO_COLOR=1"
tty -u NO_COLOR TERM=dumb -- data status
plain "TERM=dumb"
tty -u NO_COLOR TERM=xterm -- --color=never data status
plain "--color=never"
tty -u NO_COLOR TERM=xterm -- --no-color data status
plain "--no-color"
tty TERM=xterm NO_COLOR=1 -- --color=always data status
coloured "--color=always over NO_COLOR"
tty -u NO_COLOR TERM=xterm -- --color=never no-such-command
plain "an error with --color=never"
tty -u NO_COLOR TERM=xterm -- --color never no-such-command
plain "an error with --color never"
# Not a terminal: auto is plain, always colours both streams.
expect_rc 1 --color=auto data status --exit-code
[[ "$OUT$ERR" != *"$ESC"* ]] || fail "colour in a pipe with --color=auto"; pass
expect_rc 1 --color=always data status --exit-code
[[ "$OUT" == *"$ESC"* ]] || fail "--color=always: no colour in a pipe"; pass
expect_rc 2 --color=always no-such-command
[[ "$ERR" == *"${ESC}31m"* ]] || fail "--color=always: the error is not red"; pass
expect_rc 2 --color=sometimes data status
expect_err_contains "sometimes"

# Did you mean: commands (already) and options, the command's or a global one.
expect_rc 2 data stauts
expect_err_contains "did you mean 'mlo data status'?"
expect_rc 2 data status --exit-cod
expect_err_contains "did you mean '--exit-code'?"
expect_rc 2 data status --jsno
expect_err_contains "did you mean '--json'?"
expect_rc 2 --jsno data status
expect_err_contains "did you mean '--json'?"
expect_rc 2 push --remot origin
expect_err_contains "did you mean '--remote'?"
expect_rc 2 data status --zzzzzzzzzz
expect_err_contains "run 'mlo help'"
# --porcelain: git's quoting without -z, NUL-terminated records as they are with -z.
# (mlo refuses to track a name with a control character, but one can appear in a tracked folder.)
mkdir -p dir && printf 2 >'dir/q"uote' && printf 3 >dir/plain
"$MLO" -q data add dir && git add -A && git commit -qm dir
printf 4 >"dir/new
line" && rm dir/plain
expect_ok data status --porcelain
expect_out_contains 'A "dir/new\nline"'
expect_out_contains 'D dir/plain'
expect_ok data ls --porcelain dir
expect_out_contains '"dir/q\"uote"'
"$MLO" data status --porcelain -z >z.out || fail "status -z"
/usr/bin/python3 - <<'PYZ' || fail "status -z records"
recs = open("z.out", "rb").read().split(b"\0")
assert recs[-1] == b"", recs
assert set(recs[:-1]) >= {b"M a.txt", b"A dir/new\nline", b"D dir/plain"}, recs
PYZ
pass
"$MLO" data ls --porcelain -z dir >z.out || fail "ls -z"
/usr/bin/python3 - <<'PYZ' || fail "ls -z records"
recs = [r.split(b"\t") for r in open("z.out", "rb").read().split(b"\0")[:-1]]
assert sorted(r[3] for r in recs) == [b"dir/plain", b'dir/q"uote'], recs
assert all(r[0] == b"file" and len(r[2]) == 64 for r in recs), recs
PYZ
pass
done_testing
