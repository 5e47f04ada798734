#!/usr/bin/env bash
# Runs are shared through the remote with the data: a push sends run records,
# their logs and the outputs of successful runs (plus a runs/ list object); a
# pull in another clone imports them (mlo runs ls/show/log) and checks out
# the outputs mlo.lock names; `mlo run` there re-runs nothing (and restores
# every stage from the run cache once the outputs are gone).
source "$(dirname "$0")/lib.sh"

new_repo a
expect_ok remote add origin "$TEST_TMP/remote" --default
mkdir -p data && seq 1 500 >data/raw.csv
"$MLO" -q data add data/raw.csv || fail "data add"
printf 'train:\n  depth: 3\n' >params.yaml
cat >mlo.yaml <<'YAML'
stages:
  prepare:
    cmd: mkdir -p prep && sort -n data/raw.csv > prep/sorted.csv && wc -l < data/raw.csv > prep/count.txt && echo prepared-it
    deps: [data/raw.csv]
    outs: [prep]
  train:
    cmd: echo "model depth $MLO_PARAM_TRAIN_DEPTH $(cat prep/count.txt)" > model.txt && echo "{\"acc\":0.$MLO_PARAM_TRAIN_DEPTH}" > metrics.json && echo trained-it
    deps: [prep]
    params: [train.depth]
    outs: [model.txt]
    metrics: [metrics.json]
YAML
expect_ok run
expect_out_contains "Running train"
git add -A && git commit -qm pipeline
expect_ok push
expect_out_contains "2 runs shared"
# Only one list object, named by its hash; a second push shares nothing new.
expect_eq "$(ls "$TEST_TMP/remote/runs" | wc -l)" "1" "runs lists on the remote"
name=$(ls "$TEST_TMP/remote/runs")
expect_eq "$(sha256sum "$TEST_TMP/remote/runs/$name" | cut -c1-64).json" "$name" "list named by its hash"
/usr/bin/python3 - "$MLO_SOURCE_DIR/schemas/remote-runs-list.schema.json" "$TEST_TMP/remote/runs/$name" <<'PY' ||
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
doc = json.load(open(sys.argv[2]))
jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
assert len(doc["runs"]) == 2, doc
PY
  fail "the runs list does not match schemas/remote-runs-list.schema.json"
pass
expect_ok --json push
expect_json "d['runs'] == 0"
train_run=$("$MLO" --json runs ls --stage train | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])') ||
  fail "runs ls --json"

# A fresh clone: no runs until a pull; then the runs, their logs, and a run
# that restores instead of re-running.
cd "$TEST_TMP" && git clone -q a b && cd b
expect_ok --json runs ls
expect_json "len(d) == 0"
expect_ok --json pull
expect_json "d['runs'] == 2 and d['runs_missing'] == []"
expect_ok runs ls
expect_out_contains "prepare"
expect_out_contains "train"
expect_ok runs show "$train_run"
expect_out_contains "$train_run"
expect_ok runs log "$train_run"
expect_out_contains "trained-it"
# The pull checked out what mlo.lock names: nothing to run or restore.
expect_same_file model.txt "$TEST_TMP/a/model.txt"
expect_ok run
expect_out_contains "prepare is up to date"
expect_out_contains "train is up to date"
expect_out_not_contains "Running"
# Without the outputs, the shared run cache restores them.
rm -rf prep model.txt
expect_ok run
expect_out_contains "restored prepare from the run cache"
expect_out_contains "restored train from the run cache"
expect_out_not_contains "Running"
expect_same_file model.txt "$TEST_TMP/a/model.txt"
expect_same_file prep/sorted.csv "$TEST_TMP/a/prep/sorted.csv"
expect_same_file metrics.json "$TEST_TMP/a/metrics.json"
expect_ok run
expect_out_not_contains "Running"
# The index is rebuildable from the store with the imported runs in it.
expect_ok index rebuild
expect_ok --json runs ls
expect_json "len(d) == 2"

# b runs a variant and pushes; a fetches it and can see it and its log.
expect_ok run --set train.depth=5
expect_out_contains "Running train"
expect_ok push
expect_out_contains "1 run shared"
cd "$TEST_TMP/a"
expect_ok fetch
expect_out_contains "1 run imported"
expect_ok --json runs ls --where params.train.depth=5
expect_json "len(d) == 1 and d[0]['metrics']['acc'] == 0.5"
id5=$("$MLO" --json runs ls --where params.train.depth=5 | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
expect_ok runs log "$id5"
expect_out_contains "trained-it"
# The variant's outputs came with it: the run cache restores it here too... after a fetch of its objects.
expect_ok fetch
expect_out_not_contains "imported"

# A damaged list on the remote (content does not match its name) is ignored with a warning.
echo '{"version":1,"runs":{"deadbeefdeadbeef":"0000000000000000000000000000000000000000000000000000000000000000"}}' \
  >"$TEST_TMP/remote/runs/$(printf '%064d' 0).json"
cd "$TEST_TMP" && git clone -q a c && cd c
expect_ok pull
expect_err_contains "does not match its name"
expect_ok --json runs ls
expect_json "len(d) == 3"

# mlo gc keeps run records and logs and what mlo.lock names; a runs ls/log still works after it.
expect_ok gc --grace 0
expect_ok runs log "$id5"
expect_out_contains "trained-it"
expect_ok run
expect_out_not_contains "Running"

# A remote gc from a clone that never fetched: it must not drop the runs the
# remote lists (records, logs) nor what mlo.lock names. A folder output's
# manifest this clone lacks is fetched from the remote (small), so its files
# are known and kept too.
cd "$TEST_TMP" && git clone -q a g && cd g
expect_ok --json gc --remote origin --grace 0 --yes
expect_json "d['skipped_broken'] == [] and d['remote_runs'] >= 3"
cd "$TEST_TMP" && git clone -q a h && cd h
expect_ok --json pull
expect_json "d['runs'] == 3"
expect_ok runs log "$id5"
expect_out_contains "trained-it"
expect_ok runs log "$train_run"
expect_out_contains "trained-it"
# Every stage is restored from the shared run cache: nothing was lost.
expect_ok run
expect_out_not_contains "Running prepare"
expect_same_file model.txt "$TEST_TMP/a/model.txt"
# An output inside a folder that git does not have (models/ holds only ignored
# files): a fresh clone's pull creates the folder and checks the file out.
# (The checkout's symlink check stopped at the missing folder with "cannot
# open .../models" and exit 3.)
cd "$TEST_TMP/a"
cat >>mlo.yaml <<'YAML'
  export:
    cmd: mkdir -p models/v1 && cp model.txt models/v1/exported.txt
    deps: [model.txt]
    outs: [models/v1/exported.txt]
YAML
expect_ok run
git add -A && git commit -qm export
expect_ok push
cd "$TEST_TMP" && git clone -q a k && cd k
[ ! -e models ] || fail "models/ came with the git clone; the test needs it absent"
expect_ok pull
expect_same_file models/v1/exported.txt "$TEST_TMP/a/models/v1/exported.txt"
expect_ok run
expect_out_not_contains "Running"
done_testing
