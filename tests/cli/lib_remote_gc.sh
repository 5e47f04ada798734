# The team scenarios of `mlo gc --remote`, run against each backend by
# remote_gc.sh (a directory) and remote_gc_s3.sh (s3rver). Source after
# lib.sh; define add_gc_remote (adds remote "r" as the default, in the
# tracked config) first. Two clones (a, b) share a bare git repo (origin.git)
# and the remote.

# gc_setup: a tags release-1 (data v1), then commits v2; both pushed to git and to r.
gc_setup() {
  git init -q --bare "$TEST_TMP/origin.git"
  new_repo a
  git remote add origin "$TEST_TMP/origin.git"
  add_gc_remote
  mkdir -p data
  echo "notes v1" >data/notes.txt
  head -c 300000 /dev/urandom >data/model.bin
  "$MLO" -q data add data/notes.txt data/model.bin && git add -A && git commit -qm v1 || fail "commit v1"
  git tag release-1
  expect_ok push
  V1_NOTES=$(sha256sum data/notes.txt | cut -d' ' -f1)
  echo "notes v2" >data/notes.txt
  head -c 300000 /dev/urandom >data/model.bin
  "$MLO" -q data commit && git commit -qam v2 || fail "commit v2"
  expect_ok push
  git push -q origin main --tags || fail "git push"
}

# clone_pulls DIR REV: a fresh clone that checks out REV gets all its data (rc 0) or not (rc 4).
clone_pull_rc() {
  rm -rf "$TEST_TMP/$1"
  git clone -q "$TEST_TMP/origin.git" "$TEST_TMP/$1" && cd "$TEST_TMP/$1" && git checkout -q "$2" || fail "clone $1"
  run_mlo pull
  cd "$TEST_TMP/a"
  echo "$RC"
}

gc_scenario_prompt_and_tag() {
  cd "$TEST_TMP/a"
  # No terminal and no --yes: refused (exit 2) with a hint, nothing moved.
  before=$(remote_keys packs)
  expect_rc 2 gc --remote r --grace 0
  expect_err_contains "--yes"
  expect_eq "$(remote_keys packs)" "$before" "packs after a refused gc"
  # Within the default grace (14 days) nothing goes, whatever the scope.
  expect_ok --json gc --remote r --workspace --yes
  expect_json "d['blobs_removed'] == 0 and d['packs_recent'] == d['packs'] and d['grace_seconds'] == 14*86400"
  # The default scope keeps what the tag needs: nothing to remove.
  expect_ok --json gc --remote r --grace 0 --yes
  expect_json "d['blobs_removed'] == 0 and d['scope']['all_commits'] and d['scope']['remote_branches']"
  expect_eq "$(clone_pull_rc c1 release-1)" "0" "pull of release-1 after the default gc"
}

gc_scenario_fetch_check() {
  cd "$TEST_TMP/a"
  # git fetch has not run for days: refused (exit 3), unless told.
  find .git/FETCH_HEAD .git/logs/refs/remotes -exec touch -d '3 days ago' {} + 2>/dev/null
  expect_rc 3 gc --remote r --grace 0 --dry-run
  expect_err_contains "git fetch"
  expect_ok gc --remote r --grace 0 --dry-run --no-fetch-check
  printf 'gc:\n  fetch_max_age: 5d\n' >.mlo/config.local.yaml
  expect_ok gc --remote r --grace 0 --dry-run
  rm .mlo/config.local.yaml
  git fetch -q origin || fail "git fetch"
  expect_ok gc --remote r --grace 0 --dry-run
}

gc_scenario_teammate() {
  # b: a branch pushed to the remote, not to git. One file is new, one has
  # v1's bytes again (already on the remote, in an old pack: deduplicated).
  git clone -q "$TEST_TMP/origin.git" "$TEST_TMP/b" && cd "$TEST_TMP/b" || fail "clone b"
  git checkout -q -b feature
  "$MLO" -q pull || fail "pull in b"
  echo "feature" >data/feature.txt
  echo "notes v1" >data/notes.txt
  "$MLO" -q data add data/feature.txt && "$MLO" -q data commit && git add -A && git commit -qm feature || fail "feature"
  # Two hours later (in the test clock), so a's packs are past a 1h grace.
  MLO_TEST_CLOCK_SKEW=7200 expect_ok push
  cd "$TEST_TMP/a"
  MLO_TEST_CLOCK_SKEW=7200 expect_ok --json gc --remote r --workspace --grace 1h --yes
  expect_json "d['push_records'] >= 1 and d['blobs_removed'] > 0"
  cd "$TEST_TMP/b" && git push -q origin feature || fail "git push feature"
  expect_eq "$(clone_pull_rc c2 origin/feature)" "0" "pull of the teammate's branch after gc"
  expect_same_file "$TEST_TMP/c2/data/notes.txt" "$TEST_TMP/b/data/notes.txt"
  # Put back what that narrow gc took (v1's model), for the next scenarios.
  cd "$TEST_TMP/a" && expect_ok gc --remote r --restore
}

gc_scenario_registered_model() {
  cd "$TEST_TMP/a"
  git checkout -q -b experiment
  mkdir -p models && head -c 5000 /dev/urandom >models/m.bin
  "$MLO" -q data add models/m.bin && git add -A && git commit -qm model || fail "commit model"
  expect_ok register m models/m.bin --version v1.0.0
  expect_ok push
  MODEL_SHA=$(sha256sum models/m.bin | cut -d' ' -f1)
  git push -q origin --tags || fail "push tags"
  git checkout -q main && git branch -q -D experiment
  # The model's commit is on no branch now; only its registry tag names it.
  expect_ok --json gc --remote r --grace 0 --yes
  expect_ok --json gc --remote r --grace 0 --dry-run
  expect_json "d['blobs_removed'] == 0"
  expect_eq "$(clone_pull_rc c3 m@v1.0.0)" "0" "pull of the registered model's commit after gc"
  expect_same_file "$TEST_TMP/c3/models/m.bin" "$TEST_TMP/a/.mlo/cache/objects/${MODEL_SHA:0:2}/${MODEL_SHA:2}"
}

gc_scenario_narrow_then_restore() {
  cd "$TEST_TMP/a"
  # A mistaken narrow gc: only the work tree. The report names a revision
  # that still needs what goes.
  expect_ok --json gc --remote r --workspace --grace 0 --yes
  expect_json "d['blobs_removed'] > 0 and d['trash'] != '' and any(' at ' in n['where'] for n in d['still_needed'])"
  expect_eq "$(clone_pull_rc c4 release-1)" "4" "pull of release-1 after a narrow gc"
  expect_eq "$(clone_pull_rc c5 main)" "0" "pull of main after a narrow gc"
  # Restore brings it back; --since in the future restores nothing.
  expect_ok --json gc --remote r --restore --since 2099-01-01
  expect_json "d['packs'] == 0"
  expect_ok --json gc --remote r --restore --since 1h
  expect_json "d['packs'] > 0"
  expect_eq "$(clone_pull_rc c6 release-1)" "0" "pull of release-1 after restore"
  # Empty trash: nothing is older than the retention; with 0 everything goes.
  expect_ok --json gc --remote r --workspace --grace 0 --yes
  expect_ok --json gc --remote r --empty-trash --yes
  expect_json "d['packs'] == 0"
  # It deletes for good, so it asks like gc: no terminal and no --yes is
  # refused (exit 2) with a hint; --dry-run lists the batches.
  trash_before=$(remote_keys trash)
  expect_rc 2 gc --remote r --empty-trash --retention 0
  expect_err_contains "--yes"
  expect_ok gc --remote r --empty-trash --retention 0 --dry-run
  expect_out_contains "Would delete"
  expect_out_contains "pack(s),"
  expect_eq "$(remote_keys trash)" "$trash_before" "trash after a refused and a dry-run --empty-trash"
  # On a terminal it shows what goes and asks; "n" keeps everything.
  out=$(printf 'n\n' | script -qec "$MLO gc --remote r --empty-trash --retention 0" /dev/null 2>&1)
  [[ "$out" == *"deleted for good"* && "$out" == *"[y/N]"* && "$out" == *"Nothing changed"* ]] ||
    fail "empty-trash on a terminal, answered n: $out"
  pass
  expect_eq "$(remote_keys trash)" "$trash_before" "trash after answering n"
  expect_ok --json gc --remote r --empty-trash --retention 0 --yes
  expect_json "d['packs'] > 0 and d['applied'] and len(d['batch_list']) == d['batches']"
  expect_eq "$(remote_keys trash)" "" "trash after --empty-trash --retention 0"
  expect_ok --json gc --remote r --restore
  expect_json "d['packs'] == 0"
}

gc_scenario_push_races_gc() {
  # b pushes data whose bytes a's narrow gc wants gone, while it runs.
  # Both clocks are two hours ahead, so everything pushed before the race is
  # past the gc's one-hour grace, and only b's racing push record (or its
  # re-check after the gc's lock is gone) keeps what it counts on. With
  # --grace 0 a push that ends before the gc starts is fair game, as git's
  # prune=now: that would make the rounds pass or fail by timing.
  cd "$TEST_TMP/b" && git checkout -q main && git pull -q origin main 2>/dev/null
  for round in 1 2 3; do
    cd "$TEST_TMP/b"
    echo "race $round" >data/race.txt && cp "$TEST_TMP/a/data/model.bin" data/model.bin
    echo "notes v1" >data/notes.txt
    "$MLO" -q data add data/race.txt && "$MLO" -q data commit && git add -A && git commit -qm "race $round" || fail "race commit"
    (cd "$TEST_TMP/a" && MLO_TEST_CLOCK_SKEW=7200 "$MLO" -q gc --remote r --workspace --grace 1h --yes --no-fetch-check \
       >/dev/null 2>"$TEST_TMP/gc.err"; echo $? >"$TEST_TMP/gc.rc") &
    gc_pid=$!
    MLO_TEST_CLOCK_SKEW=7200 "$MLO" -q push 2>"$TEST_TMP/push.err" || fail "push during gc: $(cat "$TEST_TMP/push.err")"
    wait "$gc_pid"
    gc_rc=$(cat "$TEST_TMP/gc.rc")
    # The gc either ran or found the other one's lock (exit 4); never anything else.
    [ "$gc_rc" = 0 ] || [ "$gc_rc" = 4 ] || fail "gc during push: rc $gc_rc $(cat "$TEST_TMP/gc.err")"
    pass
    git push -q origin HEAD:race || fail "git push race"
    expect_eq "$(clone_pull_rc c7 origin/race)" "0" "pull after push racing gc (round $round)"
  done
}

gc_scenario_last_needed() {
  # What the default scope removes is named by who last needed it: a commit
  # only a's reflog still reaches (its branch was deleted), or a push whose
  # record is older than the grace period.
  cd "$TEST_TMP/a"
  git checkout -q -b scratch
  echo "scratch data" >data/scratch.txt
  "$MLO" -q data add data/scratch.txt && git add -A && git commit -qm "scratch experiment" || fail "commit scratch"
  scratch=$(git rev-parse --short=7 HEAD)
  expect_ok push
  git checkout -q main && git branch -q -D scratch
  echo "work in progress" >data/wip.txt && "$MLO" -q data add data/wip.txt || fail "add wip"
  expect_ok push
  rm -f data/wip.txt data/wip.txt.mlo
  # Two minutes later (test clock), with a one-minute grace.
  MLO_TEST_CLOCK_SKEW=120 expect_ok --json gc --remote r --grace 1m --dry-run
  expect_json "any('commit $scratch' in g['by'] and 'scratch experiment' in g['by'] for g in d['last_needed']['top'])"
  expect_json "any(g['by'].startswith('a push at ') for g in d['last_needed']['top'])"
  expect_json "sum(g['blobs'] for g in d['last_needed']['top']) + d['last_needed']['more']['blobs'] == d['blobs_removed']"
  MLO_TEST_CLOCK_SKEW=120 expect_ok gc --remote r --grace 1m --dry-run
  expect_out_contains "Last needed by:"
  expect_out_contains "scratch experiment"
}
