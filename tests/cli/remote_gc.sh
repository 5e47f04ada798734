#!/usr/bin/env bash
# mlo gc --remote on a directory remote, two clones: the team scenarios
# (lib_remote_gc.sh: a tag, a teammate's unpushed branch, a registered
# model on no branch, restore after a mistaken narrow gc, a push racing a
# gc), then what only a directory lets a test plant: a gc lock (a second gc
# stops, a push waits for it), and debris of killed pushes.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote_gc.sh"

STORE="$TEST_TMP/store"
add_gc_remote() {
  expect_ok remote add r "$STORE" --default
  git add -A && git commit -qm "remote" || fail "commit remote"
}
remote_keys() { (cd "$STORE/$1" 2>/dev/null && ls -A | sort); }

gc_setup
gc_scenario_prompt_and_tag
gc_scenario_fetch_check
gc_scenario_teammate
gc_scenario_registered_model
gc_scenario_narrow_then_restore
gc_scenario_push_races_gc
gc_scenario_last_needed
# Push records removed (as a gc removes expired ones): the pushed work in
# progress is then needed by nothing this clone knows.
mv "$STORE/pushes" "$STORE/pushes.away"
MLO_TEST_CLOCK_SKEW=120 expect_ok --json gc --remote r --grace 1m --dry-run
expect_json "any(g['by'] == 'never referenced' for g in d['last_needed']['top'])"
mv "$STORE/pushes.away" "$STORE/pushes"
# Bounded: six more reflog-only commits, each with its own blob; the text
# shows the five biggest groups and one line for the rest.
git checkout -q -b many
for i in 1 2 3 4 5 6; do
  head -c $((1000 * i)) /dev/urandom >data/many.bin
  "$MLO" -q data add data/many.bin && git add -A && git commit -qm "many $i" && "$MLO" -q push || fail "many $i"
done
git checkout -q main && git branch -q -D many
MLO_TEST_CLOCK_SKEW=120 expect_ok --json gc --remote r --grace 1m --dry-run
expect_json "len(d['last_needed']['top']) >= 7 and d['last_needed']['more']['groups'] == 0"
MLO_TEST_CLOCK_SKEW=120 expect_ok gc --remote r --grace 1m --dry-run
expect_eq "$(grep -c '^  [0-9]* blob(s), .*: ' <<<"$OUT")" "5" "groups shown in the summary"
expect_out_contains "  and "
expect_out_contains "many 6"

cd "$TEST_TMP/a"
now=$(date +%s)
# Another gc holds the lock: a second one stops (exit 4) and says which lock.
mkdir -p "$STORE/locks" && echo '{}' >"$STORE/locks/gc-$now-00000000deadbeef.json"
expect_rc 4 gc --remote r --grace 0 --yes
expect_err_contains "another gc is running"
expect_err_contains "locks/gc-$now-00000000deadbeef.json"
# A push waits while it is held, and finishes once it is gone.
echo "while locked" >data/locked.txt && "$MLO" -q data add data/locked.txt
"$MLO" -q push 2>"$TEST_TMP/push.err" &
push_pid=$!
sleep 1.5
kill -0 "$push_pid" 2>/dev/null || fail "push did not wait for the gc lock"
pass
rm "$STORE/locks/gc-$now-00000000deadbeef.json"
wait "$push_pid" || fail "push after the lock went: $(cat "$TEST_TMP/push.err")"
pass
# A killed gc's lock without a heartbeat (an older mlo's, older than 6
# hours) is ignored, and the next gc removes it (tests/cli/remote_gc_lock.sh:
# locks with a heartbeat).
old=$((now - 7 * 3600))
echo '{}' >"$STORE/locks/gc-$old-00000000deadbeef.json" && touch -d '7 hours ago' "$STORE/locks/gc-$old-00000000deadbeef.json"
expect_ok gc --remote r --grace 0 --yes --dry-run
expect_eq "$(remote_keys locks)" "gc-$old-00000000deadbeef.json" "locks left by a dry run"
expect_ok gc --remote r --grace 0 --yes
expect_err_contains "removed the lock of a killed gc (locks/gc-$old-00000000deadbeef.json: not refreshed for 7 hours)"
expect_eq "$(remote_keys locks)" "" "locks left after a gc"

# Debris of killed pushes: a temp file and a pack without its index. Old
# ones go; fresh ones (a push may be writing them) stay.
old_id="$((now - 3 * 86400))-00000000000000aa"
new_id="$now-00000000000000bb"
echo partial >"$STORE/packs/.$old_id.pack.tmp.123.0" && touch -d '3 days ago' "$STORE/packs/.$old_id.pack.tmp.123.0"
echo orphan >"$STORE/packs/$old_id.pack" && touch -d '3 days ago' "$STORE/packs/$old_id.pack"
echo partial >"$STORE/packs/.$new_id.pack.tmp.124.0"
echo orphan >"$STORE/packs/$new_id.pack"
expect_ok --json gc --remote r --grace 0 --dry-run
expect_json "set(d['debris']) == {'packs/$old_id.pack', 'packs/.$old_id.pack.tmp.123.0'}"
expect_file "$STORE/packs/$old_id.pack"
expect_ok --json gc --remote r --grace 0 --yes
expect_json "len(d['debris']) == 2"
expect_no_file "$STORE/packs/$old_id.pack"
expect_no_file "$STORE/packs/.$old_id.pack.tmp.123.0"
expect_file "$STORE/packs/$new_id.pack"
expect_file "$STORE/packs/.$new_id.pack.tmp.124.0"
# Moved to the trash like everything gc removes (kept for the retention).
trash=$(remote_keys trash)
[[ "$trash" == *"_$old_id.pack"* && "$trash" == *"_.$old_id.pack.tmp.123.0"* ]] || fail "debris not in the trash: $trash"
pass
expect_eq "$(clone_pull_rc c8 main)" "0" "pull of main after the debris gc"

# Bad input.
expect_rc 3 gc --remote nosuch --yes
expect_err_contains "unknown remote"
expect_rc 2 gc --restore
expect_err_contains "--remote"
expect_rc 2 gc --remote r --restore --empty-trash
expect_rc 2 gc --remote r --restore --since soon
expect_err_contains "neither a duration nor a date"
expect_rc 2 gc --remote r --since 1h
done_testing
