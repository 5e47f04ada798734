#!/usr/bin/env bash
# The registry's index follows the ref store however git keeps the tags:
# loose files (nested for model names with '/'), packed-refs, loose over
# packed, tags moved or deleted by hand, a linked work tree, garbage
# metadata; read-only commands write nothing; a repo with no commits lists no
# models; two registrations of one explicit version: one fails cleanly.
source "$(dirname "$0")/lib.sh"

# A repository with no commits reads as an empty registry.
mkdir -p "$TEST_TMP/empty" && cd "$TEST_TMP/empty" && git init -q . && "$MLO" init -q
expect_ok models ls
expect_out_contains "No models registered"
expect_ok --json models ls
expect_json "d == []"

new_repo reg
printf 'w1' > m.bin
expect_ok register churn m.bin --version v0.0.1
expect_ok register churn m.bin --version v0.0.2
expect_ok register team/churn m.bin --version v1.0.0
expect_ok promote team/churn@v1.0.0 --to staging
expect_file ".git/refs/tags/team/churn@v1.0.0"
expect_ok --json models ls
expect_json "sorted(m['name'] for m in d) == ['churn', 'team/churn'] and d[1]['stages'] == {'staging': ['v1.0.0']}"

# Packed: no loose files left; every read and a rebuild see the same registry.
git pack-refs --all
expect_no_file ".git/refs/tags/churn@v0.0.1"
expect_no_file ".git/refs/tags/team/churn@v1.0.0"
expect_ok --json models show 'team/churn#staging'
expect_json "d['version'] == 'v1.0.0'"
expect_ok --json registry rebuild
expect_json "d['models'] == 2"
expect_ok --json models show churn
expect_json "[v['version'] for v in d['versions']] == ['v0.0.1', 'v0.0.2']"

# A tag moved by hand over its packed copy: the loose file wins.
git tag -a -f churn@v0.0.1 -m "Registering artifact churn version v0.0.1 (edited)" >/dev/null
expect_ok --json models history churn
expect_json "[e for e in d if e['tag'] == 'churn@v0.0.1'][0]['message'].endswith('(edited)')"
# A packed tag deleted by hand (git rewrites packed-refs).
git tag -d churn@v0.0.2 >/dev/null
expect_rc 3 models show churn@v0.0.2
expect_err_contains "has no version v0.0.2"
expect_ok --json registry rebuild
expect_ok --json models show churn
expect_json "[v['version'] for v in d['versions']] == ['v0.0.1']"

# Once the refs are older than the racy window, the index remembers each ref
# file's stat: a tag rewritten afterwards is still noticed...
sleep 3
expect_ok models ls
git tag -a -f churn@v0.0.1 -m "Registering artifact churn version v0.0.1 (edited twice)" >/dev/null
expect_ok --json models history churn
expect_json "[e for e in d if e['tag'] == 'churn@v0.0.1'][0]['message'].endswith('(edited twice)')"
# ... and a read that finds the index fresh writes nothing (the -shm is
# SQLite's shared-memory lock area, mapped by every reader).
sleep 3
expect_ok models ls
before=$(find .mlo -maxdepth 1 -name 'index.db*' ! -name '*-shm' -printf '%f %s %T@\n' | sort)
expect_ok models show churn@v0.0.1
expect_ok --json models ls
expect_ok models history team/churn
after=$(find .mlo -maxdepth 1 -name 'index.db*' ! -name '*-shm' -printf '%f %s %T@\n' | sort)
expect_eq "$after" "$before" "index files after read-only commands"

# A registration tag deleted by hand while a stage still names its version.
expect_ok register gone m.bin --version v0.1.0
expect_ok promote gone@v0.1.0 --to staging
git tag -d gone@v0.1.0 >/dev/null
expect_rc 3 models show 'gone#staging'
expect_err_contains "registration tag gone@v0.1.0 is missing"
expect_rc 3 models show gone@v0.1.0
expect_err_contains "has no version v0.1.0"

# Garbage where mlo's metadata should be: read as a plain GTO registration.
git tag -a 'junk@v0.1.0' -m "Registering artifact junk version v0.1.0

mlo-metadata:
{not json"
expect_ok --json models show junk@v0.1.0
expect_json "d['version'] == 'v0.1.0' and 'artifact' not in d"
# A lightweight tag in registry form is not a registry event (GTO reads annotated tags only).
git tag 'light@v1.0.0'
expect_rc 3 models show light
expect_err_contains "no model named 'light'"

# A linked work tree shares the tags: reads and writes go to the common ref store.
git worktree add -q "$TEST_TMP/wt2" -b side
cd "$TEST_TMP/wt2"
mkdir -p .mlo
expect_ok --json models ls
expect_json "sorted(m['name'] for m in d) == ['churn', 'gone', 'junk', 'team/churn']"
printf 'w2' > w.bin
expect_ok register fromwt w.bin
cd "$TEST_TMP/reg"
expect_ok --json models show fromwt@v0.0.1
expect_json "d['version'] == 'v0.0.1'"

# Two registrations of the same explicit version at once: one wins, the other fails cleanly.
("$MLO" register dup m.bin --version v1.0.0 >/dev/null 2>"$TEST_TMP/d1.err"; echo $? > "$TEST_TMP/d1.rc") &
("$MLO" register dup m.bin --version v1.0.0 >/dev/null 2>"$TEST_TMP/d2.err"; echo $? > "$TEST_TMP/d2.rc") &
wait
expect_eq "$(sort "$TEST_TMP/d1.rc" "$TEST_TMP/d2.rc" | tr -d '\n')" "03" "exit codes of two registrations of one version"
grep -q "exists already" "$TEST_TMP/d1.err" "$TEST_TMP/d2.err" || fail "the losing registration does not say the version exists"; pass
expect_eq "$(git tag -l 'dup@*')" "dup@v1.0.0" "tags after two registrations of one version"

done_testing
