#!/usr/bin/env bash
# Progress of push/pull: on a terminal (a pseudo-terminal made by script(1))
# a progress line with objects, bytes, rate and ETA on stderr; otherwise only
# the one-line summary on stdout; never with --json or -q.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote.sh"

command -v script >/dev/null || skip "script(1) is not installed (bsdutils)"
# Draw at once: the default start delay (0.3 s) would keep these quick transfers silent.
export MLO_PROGRESS_DELAY=0

new_repo a
expect_ok remote add origin "$TEST_TMP/remote" --default
make_data
on_tty push
[[ "$OUT" == *"push: "*"/42 objects"* ]] || fail "no progress line on a terminal: $OUT"
expect_out_contains "ETA"
expect_out_contains "/s, ETA"
expect_out_contains "(100%)"
expect_out_contains "Pushed 42 objects"

# Without a terminal: one summary line on stdout, nothing on stderr.
mkdir -p data/more && for i in $(seq 1 10); do echo "more $i" >"data/more/$i.txt"; done
"$MLO" -q data add data/more && git add -A && git commit -qm more
expect_ok push
expect_eq "$(printf '%s\n' "$OUT" | wc -l)" "1" "lines of output without a terminal"
expect_out_contains "Pushed 11 objects"
expect_eq "$ERR" "" "stderr without a terminal"
[[ "$OUT" != *ETA* ]] || fail "progress without a terminal: $OUT"
pass

# Pull in a clone: the fetch progress on a terminal, the summary otherwise.
cd "$TEST_TMP" && git clone -q a b && cd b
on_tty pull data/small
[[ "$OUT" == *"fetch: "*"/40 objects"*"ETA"* ]] || fail "no fetch progress on a terminal: $OUT"
expect_out_contains "Fetched 41 objects"
expect_ok pull
[[ "$OUT" != *ETA* && "$ERR" != *ETA* ]] || fail "progress without a terminal"
pass

# --json and -q stay clean on a terminal.
cd "$TEST_TMP" && git clone -q a c && cd c
on_tty --json fetch
[[ "$OUT" != *ETA* ]] || fail "progress mixed into --json: $OUT"
printf '%s' "$OUT" | tr -d '\r' | /usr/bin/python3 -c 'import json,sys; json.load(sys.stdin)' || fail "--json output is not JSON on a terminal"
pass
cd "$TEST_TMP" && git clone -q a d && cd d
on_tty -q fetch
expect_eq "$OUT" "" "-q output on a terminal"
done_testing
