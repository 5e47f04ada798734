#!/usr/bin/env bash
# Registry events replay in the order they were recorded (the model's counter),
# whatever the clocks said: MLO_TEST_CLOCK_MS pins the tagger time and mlo's
# millisecond time, here stepping back between commands (a skewed clone, NTP).
# And a tag ref .lock left by a killed promote is named, with the way out.
source "$(dirname "$0")/lib.sh"

new_repo order
printf 'w1' > m.bin
git add -A && git commit -qm base
T=2000000000000
MLO_TEST_CLOCK_MS=$((T + 900)) expect_ok register m m.bin --version v1.0.0
MLO_TEST_CLOCK_MS=$((T + 900)) expect_ok register m m.bin --version v1.1.0
# Promote at 12:00:00.900, demote "earlier" at 11:59:59.100 (the clock stepped back).
MLO_TEST_CLOCK_MS=$((T + 900)) expect_ok promote m@v1.0.0 --to dev
MLO_TEST_CLOCK_MS=$((T - 900)) expect_ok demote m@v1.0.0 --from dev
MLO_TEST_CLOCK_MS=$((T - 900)) expect_rc 3 demote m@v1.0.0 --from dev
expect_ok --json models show m@v1.0.0
expect_json "d['stages'] == []"
# Single holder: v1.0.0 then v1.1.0 into staging with the clock going backwards.
MLO_TEST_CLOCK_MS=$((T + 5000)) expect_ok promote m@v1.0.0 --to staging
MLO_TEST_CLOCK_MS=$((T + 4000)) expect_ok promote m@v1.1.0 --to staging
expect_ok --json models ls
expect_json "d[0]['stages'] == {'staging': ['v1.1.0']}"
expect_ok --json models show m@latest
expect_json "d['version'] == 'v1.1.0'"
# The index rebuilt from the tags keeps the same state.
expect_ok index rebuild
expect_ok --json models ls
expect_json "d[0]['stages'] == {'staging': ['v1.1.0']}"
# The recorded sequence: register tags follow the counter they were made after.
git cat-file -p m@v1.1.0 | grep -q '"seq_n": 2' || fail "register tag lacks its sequence"; pass

# GTO's tags (no sequence in register tags) still replay, by counter and time.
git tag -a 'g@v0.1.0' -m "Registering artifact g version v0.1.0"
git tag -a 'g#prod#1' -m "Assigning stage prod to artifact g version v0.1.0"
git tag -a 'g#prod!#2' -m "Unassigning stage prod"
git tag -a 'g#prod#3' -m "Assigning stage prod"
expect_ok --json models show g@v0.1.0
expect_json "d['stages'] == ['prod']"

# A killed promote leaves refs/tags/NAME.lock (counters so far: 1-5): the next
# promote names it and says how to clear it.
mkdir -p .git/refs/tags
: > ".git/refs/tags/m#production#6.lock"
expect_rc 3 promote m@v1.1.0 --to production
expect_err_contains "m#production#6.lock exists"
expect_err_contains "--force"
[ -e ".git/refs/tags/m#production#6.lock" ] || fail "the lock was removed without --force"; pass
# --force clears a stale lock (no git process holds it here) and promotes.
expect_ok promote m@v1.1.0 --to production --force
[ ! -e ".git/refs/tags/m#production#6.lock" ] || fail "stale lock still there"; pass
expect_ok --json models show m@v1.1.0
expect_json "'production' in d['stages']"
# register has no --force: its hint says to remove the file (was: "run this
# again with --force", a flag register does not have).
: > ".git/refs/tags/m@v1.2.0.lock"
expect_rc 3 register m m.bin --version v1.2.0
expect_err_contains "m@v1.2.0.lock exists"
expect_err_contains "remove that file, then run this again"
[[ "$ERR" != *"--force"* ]] || fail "register's hint names a --force it does not have: $ERR"; pass
rm ".git/refs/tags/m@v1.2.0.lock"
expect_ok register m m.bin --version v1.2.0
done_testing
