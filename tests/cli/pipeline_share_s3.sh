#!/usr/bin/env bash
# Runs shared through an S3 remote (s3rver, a real S3-compatible server):
# push sends the runs and a runs/ list; a fresh clone's pull imports them and
# `mlo run` restores from the run cache. (pipeline_share.sh covers the rest
# with a directory remote.)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote.sh"

start_s3rver mlo-runs
new_repo a
expect_ok remote add origin s3://mlo-runs/team --default
expect_ok remote modify origin endpoint "$S3_ENDPOINT"
printf 'train:\n  depth: 4\n' >params.yaml
cat >mlo.yaml <<'YAML'
stages:
  train:
    cmd: mkdir -p model && echo "depth $MLO_PARAM_TRAIN_DEPTH" > model/weights.txt && echo trained-on-s3
    params: [train.depth]
    outs: [model]
YAML
expect_ok run
git add -A && git commit -qm pipeline
expect_ok push
expect_out_contains "1 run shared"
id=$("$MLO" --json runs ls | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')

cd "$TEST_TMP" && git clone -q a b && cd b
expect_ok --json pull
expect_json "d['runs'] == 1 and d['runs_missing'] == []"
expect_ok runs log "$id"
expect_out_contains "trained-on-s3"
# The pull checked out the folder output mlo.lock names: up to date.
expect_same_file model/weights.txt "$TEST_TMP/a/model/weights.txt"
expect_ok run
expect_out_contains "train is up to date"
rm -rf model
expect_ok run
expect_out_contains "restored train from the run cache"
expect_same_file model/weights.txt "$TEST_TMP/a/model/weights.txt"
# A second pull reads no list again and imports nothing.
expect_ok --json fetch
expect_json "d['runs'] == 0"
done_testing
