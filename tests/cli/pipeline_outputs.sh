#!/usr/bin/env bash
# Pipeline outputs are data too (issue 12, as in DVC): `mlo data status`
# reports stage outputs that differ from mlo.lock (modified, deleted, not in
# the cache); `mlo data checkout` restores them after `git checkout`, keeps a
# hand-edited one unless --force, never writes through a symbolic link and
# waits for a running `mlo run`;
# `mlo pull` in a fresh clone checks them out, so `mlo run` there has nothing
# to do.
source "$(dirname "$0")/lib.sh"

new_repo a
seq 1 50 >raw.csv
"$MLO" -q data add raw.csv || fail "data add"
printf 'scale: 1\n' >params.yaml
cat >mlo.yaml <<'YAML'
stages:
  prepare:
    cmd: mkdir -p feats && cp raw.csv feats/a.csv && echo "scale $MLO_PARAM_SCALE" > feats/scale.txt
    deps: [raw.csv]
    params: [scale]
    outs: [feats]
  train:
    cmd: cat feats/scale.txt feats/a.csv | sha256sum > model.bin
    deps: [feats]
    outs: [model.bin]
YAML
# Three commits, each with its own outputs; copies of each kept aside.
for s in 1 2 3; do
  sed -i "s/scale: .*/scale: $s/" params.yaml
  expect_ok run
  git add -A && git commit -qm "scale $s"
  mkdir -p "$TEST_TMP/v$s" && cp -r model.bin feats "$TEST_TMP/v$s/"
done
expect_ok --json data status
expect_json "d['clean'] and sorted(e['path'] for e in d['entries']) == ['feats', 'model.bin', 'raw.csv']"
expect_json "[e['stage'] for e in d['entries'] if e['path'] == 'model.bin'] == ['train']"
expect_json "[e['stage'] for e in d['entries'] if e['path'] == 'raw.csv'] == [None]"

# git checkout HEAD~2: mlo.lock is the old one, the outputs are still new.
git checkout -q HEAD~2
expect_rc 1 data status --exit-code
expect_out_contains "Pipeline outputs that differ from mlo.lock"
expect_out_contains "modified:   model.bin (stage train)"
expect_out_contains "modified:   feats/ (0 added, 0 removed, 1 modified) (stage prepare)"
expect_ok --json data status
expect_json "not d['clean'] and {e['path']: e['status'] for e in d['entries']} == {'feats': 'modified', 'model.bin': 'modified', 'raw.csv': 'clean'}"
expect_rc 1 data status --porcelain --exit-code
expect_out_contains "M model.bin"
expect_out_contains "M feats/scale.txt"
expect_ok data checkout
expect_out_contains "Updated 2 files"
expect_same_file model.bin "$TEST_TMP/v1/model.bin"
expect_same_file feats/scale.txt "$TEST_TMP/v1/feats/scale.txt"
expect_same_file feats/a.csv "$TEST_TMP/v1/feats/a.csv"
expect_ok data status --exit-code
expect_out_contains "up to date (3 paths)"
expect_ok run -n --exit-code
expect_out_contains "train is up to date"
# No .gitignore was added for outputs (mlo run's root .gitignore covers them).
expect_eq "$(git status --porcelain)" "" "git status after data checkout"
git checkout -q main
expect_ok data checkout model.bin
expect_out_contains "Updated 1 file"
expect_same_file model.bin "$TEST_TMP/v3/model.bin"
expect_rc 1 data status --exit-code feats
expect_out_contains "feats/"
expect_out_not_contains "model.bin"
expect_ok data checkout feats
expect_same_file feats/scale.txt "$TEST_TMP/v3/feats/scale.txt"

# Deleted outputs are reported and restored.
rm -r feats model.bin
expect_ok --json data status
expect_json "{e['path']: e['status'] for e in d['entries']} == {'feats': 'deleted', 'model.bin': 'deleted', 'raw.csv': 'clean'}"
expect_ok data checkout
expect_same_file model.bin "$TEST_TMP/v3/model.bin"
expect_same_file feats/a.csv "$TEST_TMP/v3/feats/a.csv"

# A hand-edited output is kept (named, with what to do), --force replaces it.
echo "edited by hand" >model.bin
git checkout -q HEAD~1
expect_ok data checkout
expect_err_contains "kept model.bin"
expect_err_contains "--force model.bin"
expect_eq "$(cat model.bin)" "edited by hand" "hand-edited output kept"
expect_same_file feats/scale.txt "$TEST_TMP/v2/feats/scale.txt"
expect_ok --json data checkout
expect_json "d['kept'] == ['model.bin']"
expect_ok data checkout --force
expect_same_file model.bin "$TEST_TMP/v2/model.bin"
git checkout -q main
expect_ok data checkout

# A symbolic link at an output's path is never written through.
echo "outside" >"$TEST_TMP/outside.txt"
rm model.bin && ln -s "$TEST_TMP/outside.txt" model.bin
git checkout -q HEAD~1
expect_rc 3 data checkout --force
expect_err_contains "symbolic link"
expect_eq "$(cat "$TEST_TMP/outside.txt")" "outside" "file behind the link"
rm model.bin
git checkout -q main
expect_ok data checkout
expect_same_file model.bin "$TEST_TMP/v3/model.bin"

# A path that is neither data nor an output is still an error.
expect_rc 3 data status nope.txt
expect_err_contains "no stage output in mlo.lock"
# A hostile mlo.lock path is refused, nothing written outside.
cp mlo.lock "$TEST_TMP/lock.bak"
sed -i 's|path: model.bin|path: ../escape.bin|' mlo.lock
expect_rc 3 data checkout
expect_err_contains "mlo.lock (stage train)"
expect_no_file "$TEST_TMP/escape.bin"
cp "$TEST_TMP/lock.bak" mlo.lock

# While a `mlo run` holds the pipeline lock (it writes outputs and mlo.lock),
# checkout waits for it and then fails cleanly; status does not wait.
echo "core: {lock_timeout: 0.3}" >.mlo/config.local.yaml
flock .mlo/tmp/pipeline.lock sleep 3 & holder=$!
sleep 0.5
expect_rc 3 data checkout
expect_err_contains "another mlo command"
expect_ok data status --exit-code
wait $holder
expect_ok data checkout
rm .mlo/config.local.yaml

# Two clones, one directory remote: B gets A's outputs with `mlo pull` and
# `mlo run` then has nothing to do.
expect_ok remote add origin "$TEST_TMP/store" --default
git add -A && git commit -qm remote
expect_ok push
git init -q --bare "$TEST_TMP/origin.git" && git push -q "$TEST_TMP/origin.git" main || fail "git push"
cd "$TEST_TMP" && git clone -q origin.git b && cd b || fail "clone"
# Not pulled yet is not a change (issue 15: the pre-commit hook of a fresh
# clone); --pulled is the check that the data is here.
expect_ok data status --exit-code
expect_out_contains "Content missing from the cache"
expect_rc 1 data status --exit-code --pulled
expect_out_contains "model.bin"
expect_ok --json pull
expect_json "sorted(d['checkout']['updated']) == ['feats/a.csv', 'feats/scale.txt', 'model.bin', 'raw.csv']"
expect_same_file model.bin "$TEST_TMP/a/model.bin"
expect_same_file feats/a.csv "$TEST_TMP/a/feats/a.csv"
expect_same_file feats/scale.txt "$TEST_TMP/a/feats/scale.txt"
expect_ok data status --exit-code
# A's experiments came with the runs: one per 'mlo run', both stages each.
expect_ok --json exp show
expect_json "len(d) == 3 and all(e['stages'] == ['prepare', 'train'] for e in d)"
expect_json "sorted(e['params']['scale'] for e in d) == [1, 2, 3]"
expect_ok run
expect_out_contains "prepare is up to date"
expect_out_contains "train is up to date"
expect_out_not_contains "Running"
expect_out_not_contains "restored"
expect_eq "$(git status --porcelain)" "" "git status in b"

# A then commits new outputs; B's git pull && mlo pull brings them.
cd "$TEST_TMP/a"
sed -i "s/scale: .*/scale: 7/" params.yaml
expect_ok run
git add -A && git commit -qm "scale 7" && git push -q "$TEST_TMP/origin.git" main || fail "git push"
expect_ok push
cd "$TEST_TMP/b"
git pull -q || fail "git pull"
expect_rc 1 data status --exit-code
expect_ok pull
expect_out_contains "Checked out 2 file(s)"
expect_same_file model.bin "$TEST_TMP/a/model.bin"
expect_same_file feats/scale.txt "$TEST_TMP/a/feats/scale.txt"
expect_ok run -n --exit-code
# A hand-edited output in B survives a pull (named), and --force replaces it.
echo "mine" >model.bin
expect_ok pull
expect_err_contains "kept model.bin"
expect_eq "$(cat model.bin)" "mine" "pull kept the hand-edited output"
expect_ok pull --force
expect_same_file model.bin "$TEST_TMP/a/model.bin"
done_testing
