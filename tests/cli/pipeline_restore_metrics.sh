#!/usr/bin/env bash
# A stage restored from the run cache gets back its metrics files as well as
# its outputs: after `--set` and back, metrics.json matches params.yaml again.
source "$(dirname "$0")/lib.sh"
new_repo project
printf 'train:\n  depth: 3\n' > params.yaml
cat > mlo.yaml <<'YAML'
stages:
  train:
    cmd: echo "{\"depth\":$MLO_PARAM_TRAIN_DEPTH}" > metrics.json && echo "model $MLO_PARAM_TRAIN_DEPTH" > model.txt
    params: [train.depth]
    outs: [model.txt]
    metrics: [metrics.json]
YAML
expect_ok run
expect_eq "$(cat metrics.json)" '{"depth":3}' "metrics after the first run"
expect_ok run --set train.depth=5
expect_eq "$(cat metrics.json)" '{"depth":5}' "metrics with --set"
expect_eq "$(cat model.txt)" "model 5" "output with --set"
# Back to params.yaml: restored from the run cache, metrics included.
expect_ok run
expect_out_contains "restored train from the run cache"
expect_eq "$(cat metrics.json)" '{"depth":3}' "metrics after the restore"
expect_eq "$(cat model.txt)" "model 3" "output after the restore"
expect_ok --json metrics show
expect_json "'3' in json.dumps(d)"
# A run-cache entry whose metrics bytes are gone from the cache re-runs instead.
expect_ok gc --grace 0 --all-commits
expect_ok run --set train.depth=5
expect_eq "$(cat metrics.json)" '{"depth":5}' "metrics after re-run"

done_testing
