#!/usr/bin/env bash
# mlo gc --remote: removes what no kept revision needs, --dry-run first,
# never touches packs within the grace period, keeps what HEAD needs.
source "$(dirname "$0")/lib.sh"

new_repo a
expect_ok remote add origin "$TEST_TMP/remote" --default
mkdir -p data && head -c 3000000 /dev/urandom >data/model.bin && echo v1 >data/notes.txt
"$MLO" -q data add data/model.bin data/notes.txt && git add -A && git commit -qm v1
expect_ok push
v1=$(git rev-parse HEAD)
head -c 3000000 /dev/urandom >data/model.bin && echo v2 >data/notes.txt
"$MLO" -q data commit && git commit -qam v2
expect_ok push
packs_before=$(ls "$TEST_TMP/remote/packs" | sort)

# Within the (default 24 h) grace period nothing goes.
expect_ok --json gc --remote origin
expect_json "d['blobs_removed'] == 0 and d['packs_recent'] == d['packs']"
# --dry-run lists, removes nothing.
expect_ok --json gc --remote origin --grace 0 --dry-run
expect_json "d['dry_run'] and d['blobs_removed'] > 0 and d['packs_recent'] == 0"
expect_eq "$(ls "$TEST_TMP/remote/packs" | sort)" "$packs_before" "packs after --dry-run"
# Keeping every commit keeps v1 too.
expect_ok --json gc --remote origin --grace 0 --all-commits
expect_json "d['blobs_removed'] == 0"
# Only the workspace: v1's objects go, v2 still pulls.
expect_ok gc --remote origin --grace 0
expect_out_contains "from remote 'origin'"
cd "$TEST_TMP" && git clone -q a b && cd b
expect_ok pull
cmp -s data/model.bin "$TEST_TMP/a/data/model.bin" || fail "model.bin differs after gc"
pass
git checkout -q "$v1"
expect_rc 4 pull
expect_err_contains "not on remote 'origin'"
# Unknown remote: exit 3.
expect_rc 3 gc --remote nosuch
expect_err_contains "unknown remote"
done_testing
