#!/usr/bin/env bash
# mlo remote add/ls/rm/modify and push/fetch/pull with a directory remote:
# round trip between clones, concurrent pushes, and bad input.
source "$(dirname "$0")/lib.sh"

new_repo a
# No remote yet.
expect_rc 3 push
expect_err_contains "no remote is configured"

# Bad input for remote add/modify: usage or input errors, config untouched.
cp .mlo/config.yaml "$TEST_TMP/config.before"
expect_rc 3 remote add bad relative/path
expect_err_contains "malformed remote URL"
expect_rc 3 remote add bad ftp://host/x
expect_err_contains "unsupported scheme"
expect_rc 3 remote add bad s3://
expect_err_contains "no bucket name"
expect_rc 2 remote add "bad.name" /tmp/x
expect_err_contains "invalid remote name"
expect_rc 3 remote rm nosuch
expect_err_contains "unknown remote 'nosuch'"
expect_same_file .mlo/config.yaml "$TEST_TMP/config.before"

expect_ok remote add origin "$TEST_TMP/remote" --default
expect_ok remote add backup "file://$TEST_TMP/backup"
expect_rc 3 remote add origin /elsewhere
expect_err_contains "already exists"
expect_rc 2 remote modify origin secret_key abc
expect_err_contains "secrets never go in mlo's config"
expect_rc 2 remote modify origin colour blue
expect_err_contains "unknown remote option"
expect_rc 3 remote modify nosuch region eu-west-1
expect_ok remote modify origin jobs 4
# Counts and sizes are checked when set (a typo is refused here, not found
# by the next push), and a bad value already in a config file is an input
# error naming the fix, never an internal one.
for key in jobs pack_size part_size fetch_batch push_batch list_page; do
  expect_rc 2 remote modify origin $key 12abc
  expect_err_contains "remote option $key takes a whole number, not '12abc'"
done
expect_ok remote modify backup region eu-west-1 --local
grep -q "eu-west-1" .mlo/config.local.yaml || fail "--local did not write config.local.yaml"
grep -q "eu-west-1" .mlo/config.yaml && fail "--local leaked into config.yaml"
pass
expect_ok --json remote ls
expect_json "[r['name'] for r in d] == ['backup', 'origin'] and d[1]['default'] and d[1]['options']['jobs'] == '4'"
expect_ok remote ls
expect_out_contains "* origin"
expect_ok remote rm backup
expect_ok --json remote ls
expect_json "len(d) == 1"

# Round trip through the directory remote.
mkdir -p data/set && for i in $(seq 1 30); do echo "row $i" >"data/set/$i.csv"; done
head -c 3000000 /dev/urandom >data/model.bin
"$MLO" -q data add data/set data/model.bin || fail "data add"
git add -A && git commit -qm data
expect_ok data status --remote
expect_out_contains "not on remote: data/model.bin (1 of 1 objects)"
expect_rc 1 --json data status --remote origin --exit-code
expect_json "not d['clean'] and d['remote'] == 'origin' and len(d['entries']) == 2"
expect_ok push
expect_out_contains "Pushed 32 objects"
expect_ok data status --remote --exit-code
expect_out_contains "have all tracked data"
# No partial blobs: every pack has its index, no temp files are left.
expect_eq "$(ls "$TEST_TMP/remote/packs" | grep -c '\.pack$')" "$(ls "$TEST_TMP/remote/packs" | grep -c '\.idx$')" "packs vs indexes"
expect_eq "$(ls -A "$TEST_TMP/remote/packs" | grep -c '^\.')" "0" "temp files on the remote"
cd "$TEST_TMP" && git clone -q a b && cd b
expect_rc 1 data status --remote --exit-code
expect_out_contains "not in cache:  data/model.bin"
expect_ok fetch
expect_no_file data/model.bin
expect_ok pull
cmp -s data/model.bin "$TEST_TMP/a/data/model.bin" || fail "model.bin differs"
diff -r data/set "$TEST_TMP/a/data/set" >/dev/null || fail "data/set differs"
pass

# A pull in batches of the tree walk (fetch_batch: here 7 files a batch,
# 31 files and a folder object): every object arrives, once.
cd "$TEST_TMP" && rm -rf c && git clone -q a c && cd c
expect_ok remote modify origin fetch_batch 7 --local
expect_ok --json pull
expect_json "d['objects'] == 32 and d['up_to_date'] == 0 and not d['missing']"
diff -r data/set "$TEST_TMP/a/data/set" >/dev/null || fail "data/set differs after a batched pull"
cmp -s data/model.bin "$TEST_TMP/a/data/model.bin" || fail "model.bin differs after a batched pull"
pass
# The same content in two batches is fetched once, then found in the cache.
cd "$TEST_TMP" && rm -rf f g && git init -q f && cd f && "$MLO" -q init || fail "init f"
"$MLO" -q remote add origin "$TEST_TMP/remote-dups" --default || fail "remote add"
mkdir -p dups && for i in 1 2 3 4 5 6; do echo same >"dups/a$i"; done && echo other >dups/b
"$MLO" -q data add dups && git add -A && git commit -qm dups && "$MLO" -q push || fail "push dups"
cd "$TEST_TMP" && git clone -q f g && cd g
expect_ok remote modify origin fetch_batch 3 --local
expect_ok --json pull
expect_json "d['objects'] == 3 and d['up_to_date'] == 1 and not d['missing']"
expect_eq "$(cat dups/a6 dups/b | tr '\n' ' ')" "same other " "files pulled in batches"
pass
# A push in batches too (push_batch: files sent a batch at a time, the
# folder objects last): the same content in two batches goes once, and a
# clone pulls it all back.
cd "$TEST_TMP/f"
expect_ok remote add batched "$TEST_TMP/remote-batched" --local
expect_ok remote modify batched push_batch 3 --local
expect_ok --json push -r batched
expect_json "d['objects'] == 3 and d['up_to_date'] == 1 and not d['missing']"
cd "$TEST_TMP/a"
expect_ok remote add batched "$TEST_TMP/remote-batched7" --local
expect_ok remote modify batched push_batch 7 --local
expect_ok --json push -r batched
expect_json "d['objects'] == 32 and d['up_to_date'] == 0 and not d['missing']"
cd "$TEST_TMP" && rm -rf h && git clone -q a h && cd h
expect_ok remote add batched "$TEST_TMP/remote-batched7" --local
expect_ok --json pull -r batched
expect_json "d['objects'] == 32 and not d['missing']"
diff -r data/set "$TEST_TMP/a/data/set" >/dev/null || fail "data/set differs after a batched push"
cmp -s data/model.bin "$TEST_TMP/a/data/model.bin" || fail "model.bin differs after a batched push"
pass

# Two clones push new data at the same time: both land, both readable.
cd "$TEST_TMP/a" && for i in $(seq 1 20); do echo "a $i" >"data/set/a$i.csv"; done
"$MLO" -q data add data/set && git commit -qam "a"
cd "$TEST_TMP/b" && for i in $(seq 1 20); do echo "b $i" >"data/set/b$i.csv"; done
"$MLO" -q data add data/set && git commit -qam "b"
(cd "$TEST_TMP/a" && "$MLO" -q push) & pa=$!
(cd "$TEST_TMP/b" && "$MLO" -q push) & pb=$!
wait $pa || fail "concurrent push from a failed"
wait $pb || fail "concurrent push from b failed"
cd "$TEST_TMP" && rm -rf d && git clone -q b d && cd d
expect_ok pull
expect_file data/set/b20.csv
cd "$TEST_TMP" && rm -rf e && git clone -q a e && cd e
expect_ok pull
expect_file data/set/a20.csv

# Unknown remote and objects missing from the remote: exit 3 / 4, clear.
expect_rc 3 pull -r nosuch
expect_err_contains "unknown remote 'nosuch'"
rm -rf "$TEST_TMP/remote/packs"
rm -rf .mlo/cache/objects/* data/model.bin
expect_rc 4 pull
expect_err_contains "not on remote 'origin'"
# A remote whose folder does not exist is a typo or a volume not mounted,
# never an empty remote: every command that reads or writes it stops
# (exit 4) and names it; nothing is created on the way.
expect_ok remote add gone /nonexistent-mlo/x/y
expect_err_contains "does not exist"
expect_rc 4 push -r gone
expect_err_contains "does not exist"
typo="$TEST_TMP/no-such-mount/store"
expect_ok --json remote add typo "$typo"
expect_json "d['folder'] == 'missing'"
for cmd in "push -r typo" "pull -r typo" "fetch -r typo" "data status --remote typo" "gc --remote typo --dry-run" \
  "gc --remote typo --yes" "fsck --remote typo"; do
  expect_rc 4 $cmd
  expect_err_contains "remote folder $typo does not exist"
  expect_err_contains "mlo remote ls"
done
expect_no_file "$TEST_TMP/no-such-mount"
# push --create starts a new remote there (folders above it too).
echo "fresh start" >data/fresh.txt && "$MLO" -q data add data/fresh.txt || fail "add fresh"
expect_ok push -r typo --create data/fresh.txt
expect_err_contains "created the remote folder"
expect_file "$typo/packs"
expect_ok data status --remote typo --exit-code data/fresh.txt
# remote add makes the folder when the one above it exists (like a fresh
# DVC remote), and says so.
expect_ok remote add fresh "$TEST_TMP/fresh-store"
expect_out_contains "Created the remote folder"
expect_file "$TEST_TMP/fresh-store"
# remote modify NAME url likewise.
expect_ok remote modify fresh url "$TEST_TMP/moved-store"
expect_out_contains "Created the remote folder"
expect_file "$TEST_TMP/moved-store"
expect_ok remote modify fresh url "$TEST_TMP/fresh-store"
# A folder that goes away later (unmounted): status does not call it empty.
rm -rf "$TEST_TMP/fresh-store"
expect_rc 4 data status --remote fresh
expect_err_contains "does not exist"
expect_no_file "$TEST_TMP/fresh-store"
done_testing
