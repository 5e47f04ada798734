#!/usr/bin/env bash
# The gc lock of a killed 'mlo gc --remote' (issue 11). The lock names its
# holder (host, boot, pid and the pid's start time) and carries a heartbeat.
# After kill -9 of a gc on this host, a push does not wait (the holder is
# gone: before, it waited 300 s for 6 hours) and says which lock it ignores;
# the next gc removes it. A lock of another host holds while its heartbeat
# is fresh and is ignored once that is older than 120 s; a live process of
# this host holds it, a reused pid does not.
source "$(dirname "$0")/lib.sh"

STORE="$TEST_TMP/store"
lock_keys() { (cd "$STORE/locks" 2>/dev/null && ls -A | sort); }
# plant_lock TIME BODY: a lock written at TIME (unix seconds) with BODY.
plant_lock() {
  mkdir -p "$STORE/locks"
  PLANTED="$STORE/locks/gc-$1-00000000deadbeef.json"
  printf '%s\n' "$2" >"$PLANTED" && touch -d "@$1" "$PLANTED"
}
pid_start() { sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f20; }

new_repo a
expect_ok remote add r "$STORE" --default
git add -A && git commit -qm remote || fail "commit remote"
mkdir -p data
head -c 200000 /dev/urandom >data/keep.bin
"$MLO" -q data add data && git add -A && git commit -qm v1 || fail "commit v1"
expect_ok push
# Garbage for the gc: pushed, then dropped from git (so the gc asks first).
head -c 200000 /dev/urandom >data/keep.bin
"$MLO" -q data add data && git add -A && git commit -qm v2 || fail "commit v2"
expect_ok push
git reset -q --hard HEAD~1 && git reflog expire --expire=now --all && git gc -q --prune=now || fail "drop v2"
"$MLO" -q data checkout --force || fail "checkout v1"
sleep 1.1  # v2's push record is then older than --grace 0

# A gc stopped at its question (a pseudo-terminal; the lock is held), then kill -9.
mkfifo "$TEST_TMP/answer"
script -qfec "'$MLO' gc --remote r --grace 0 --no-fetch-check" "$TEST_TMP/gc.out" <"$TEST_TMP/answer" >/dev/null &
script_pid=$!
exec 3>"$TEST_TMP/answer"
for _ in $(seq 1 600); do
  grep -q 'Go on' "$TEST_TMP/gc.out" 2>/dev/null && break
  sleep 0.1
done
grep -q 'Go on' "$TEST_TMP/gc.out" || fail "gc --remote did not ask: $(cat "$TEST_TMP/gc.out")"
lock=$(lock_keys)
[ -n "$lock" ] || fail "no gc lock while the gc asks"
body=$(cat "$STORE/locks/$lock")
gc_pid=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pid"])' "$body")
OUT=$body expect_json "d['version'] == 2 and d['host'] == '$(hostname)' and d['heartbeat'] >= d['since'] > 0 and d['pid_start'] == $(pid_start "$gc_pid")"
grep -q mlo "/proc/$gc_pid/cmdline" || fail "the lock names pid $gc_pid, which is not mlo"
kill -9 "$gc_pid"
exec 3>&-
wait "$script_pid" 2>/dev/null
expect_eq "$(lock_keys)" "$lock" "the killed gc's lock is left"

# A push right after does not wait, and names the lock it ignores.
head -c 1000 /dev/urandom >data/new.bin && "$MLO" -q data add data || fail "add new"
start=$(date +%s%N)
expect_ok push
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
((elapsed_ms < 20000)) || fail "push after a killed gc took $elapsed_ms ms"
pass
expect_err_contains "ignoring the lock of a killed gc (locks/$lock: its process (pid $gc_pid on this host) is gone)"
expect_err_contains "the next 'mlo gc --remote' removes it"
# The next gc runs, and removes it.
expect_ok gc --remote r --grace 0 --no-fetch-check --yes
expect_err_contains "removed the lock of a killed gc (locks/$lock"
expect_eq "$(lock_keys)" "" "locks after the next gc"

now=$(date +%s)
holder() {  # HOST PID PID_START HEARTBEAT
  printf '{"version": 2, "since": %s, "heartbeat": %s, "host": "%s", "pid": %s, "pid_start": %s}' \
    "$4" "$4" "$1" "$2" "$3"
}
# Another host's lock with a fresh heartbeat holds: a gc stops, a push waits.
plant_lock "$now" "$(holder elsewhere.example 4242 77 "$now")"
expect_rc 4 gc --remote r --grace 0 --no-fetch-check --yes
expect_err_contains "another gc is running (locks/gc-$now-00000000deadbeef.json)"
"$MLO" -q push 2>"$TEST_TMP/push.err" &
push_pid=$!
sleep 1.5
kill -0 "$push_pid" 2>/dev/null || fail "push did not wait for another host's fresh gc lock"
pass
rm "$PLANTED"
wait "$push_pid" || fail "push after the lock went: $(cat "$TEST_TMP/push.err")"
pass
# The same lock whose heartbeat stopped 5 minutes ago: ignored, and removed by the next gc.
old=$((now - 300))
plant_lock "$old" "$(holder elsewhere.example 4242 77 "$old")"
echo more >data/more.txt && "$MLO" -q data add data || fail "add more"
expect_ok push
expect_err_contains "its heartbeat stopped"
expect_err_contains "on elsewhere.example, pid 4242"
expect_ok gc --remote r --grace 0 --no-fetch-check --yes
expect_eq "$(lock_keys)" "" "locks after a gc that found a stale lock"
# This host, a live process (this shell): it holds.
plant_lock "$now" "$(holder "$(hostname)" $$ "$(pid_start $$)" "$now")"
expect_rc 4 gc --remote r --grace 0 --no-fetch-check --yes
expect_err_contains "another gc is running"
# This host, the same pid now naming another process (its start time differs): stale.
plant_lock "$now" "$(holder "$(hostname)" $$ 1 "$now")"
expect_ok gc --remote r --grace 0 --no-fetch-check --yes
expect_err_contains "the pid now names another one"
# A hostile holder (pid -1, a heartbeat that is no number) is never looked up: only its age counts.
plant_lock "$now" '{"version": 2, "heartbeat": "soon", "host": "'"$(hostname)"'", "pid": -1}'
expect_rc 4 gc --remote r --grace 0 --no-fetch-check --yes
rm "$PLANTED"

done_testing
