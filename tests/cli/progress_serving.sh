#!/usr/bin/env bash
# Progress of the model commands (issue 25), on a terminal made by script(1):
# `mlo deploy` shows its runners coming up ("waiting for runners: 0/1 ready")
# and erases the line before its result; a runner that dies before it is
# ready fails the deploy with the runner's last log lines; `mlo register` of
# one large artifact counts the bytes it stores; `mlo ui` says it is starting
# before it prints its URL. Through a pipe: none of it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"
command -v script >/dev/null || skip "script(1) is not installed (bsdutils)"
export MLO_PROGRESS_DELAY=0
ESC=$'\e'
new_repo p
linear_model m1.json 1
printf '#!/bin/sh\nsleep 1\nexec "%s" "$@"\n' "$NATIVE" > slow-runner && chmod +x slow-runner
printf '#!/bin/sh\necho "loading weights from m.bin"\necho "fatal: weights truncated at byte 42" >&2\nexit 1\n' > bad-runner
chmod +x bad-runner

# deploy: the runner's start is shown, then erased before the result
on_tty deploy iris@1 --artifact m1.json --env prod --runner "$PWD/slow-runner"
[[ "$OUT" == *"waiting for runners: 0/1 ready"* ]] || fail "no runner progress on a terminal: $OUT"
[[ "${OUT##*waiting for runners}" == *$'\r\e[K'* ]] || fail "the progress line is not erased: $OUT"
[[ "${OUT##*$'\r\e[K'}" != *"waiting for runners"* ]] || fail "progress drawn after the result: $OUT"
pass
# through a pipe: the result only
expect_ok deploy iris@2 --artifact m1.json --env prod --runner "$PWD/slow-runner"
[[ "$ERR" != *"waiting for runners"* && "$OUT$ERR" != *"$ESC"* ]] || fail "progress through a pipe: $OUT $ERR"; pass
# a runner that dies: the deploy fails with its last log lines, the old version serves
expect_rc 5 deploy iris@3 --artifact m1.json --env prod --runner "$PWD/bad-runner"
expect_err_contains "fatal: weights truncated at byte 42"
expect_err_contains "loading weights from m.bin"
expect_ok --json deploy status prod
expect_json "d['versions'][0]['version'] == '2'"
expect_ok deploy stop prod

# register: one large file, its bytes counted as they are stored
head -c $((48 << 20)) /dev/urandom > big.bin
printf 'models:\n  big:\n    path: big.bin\n' > mlo.yaml
on_tty register big
[[ "$OUT" == *"store: 0/1 files"*"/48.0 MiB"* ]] || fail "no byte progress for a large artifact: $OUT"
[[ "${OUT##*$'\r\e[K'}" != *"store: "* ]] || fail "store progress left on screen: $OUT"
expect_ok register big --bump minor --if-changed
[[ "$ERR" != *"store: "* ]] || fail "store progress through a pipe: $ERR"; pass

# ui: "starting" before the URL, erased
OUT=$(script -qfec "timeout -s INT 3 '$MLO' ui --port 0" /dev/null </dev/null)
[[ "$OUT" == *"mlo ui: starting..."*"mlo ui: serving http://127.0.0.1:"* ]] || fail "no start-up line before the URL: $OUT"
pass
OUT=$(timeout -s INT 3 "$MLO" ui --port 0 2>&1 </dev/null)
[[ "$OUT" != *"starting"* ]] || fail "start-up line through a pipe: $OUT"; pass
done_testing
