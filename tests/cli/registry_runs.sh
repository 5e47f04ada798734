#!/usr/bin/env bash
# mlo register --run / --stage with the pipeline's run records: the version
# records the run's params, metrics, data hashes; lineage follows them.
source "$(dirname "$0")/lib.sh"
new_repo rr
mkdir -p data
seq 1 500 > data/raw.txt
cat > params.yaml <<'YAML'
train:
  lr: 0.1
YAML
cat > mlo.yaml <<'YAML'
stages:
  train:
    cmd: |-
      cp data/raw.txt model.pkl && printf '{"acc": 0.93}\n' > metrics.json
    deps: [data/raw.txt]
    params: [train.lr]
    outs: [model.pkl]
    metrics: [metrics.json]
registry:
  stages:
    production:
      gates:
        metrics: ["acc >= 0.9"]
        approvals: 1
YAML
git add -A && git commit -qm pipeline
expect_ok run -q
expect_ok --json runs ls --stage train --limit 1
id=$(printf '%s' "$OUT" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")
[ -n "$id" ] || fail "no run id"; pass

expect_ok --json register clf --run "$id" --type text
expect_json "d['run'] == '$id' and d['metrics']['acc'] == 0.93 and d['params']['train.lr'] == 0.1 and d['artifact']['path'] == 'model.pkl' and any(x['path'] == 'data/raw.txt' for x in d['data'])"
expect_ok --json register clf --stage train
expect_json "d['version'] == 'v0.0.2' and d['run'] == '$id'"
expect_rc 3 register clf --run 0000000000000000
expect_err_contains "does not exist"

# The run's author (the commit's author) may not approve it for the gate.
expect_ok approve clf@v0.0.1 --stage production
expect_err_contains "does not count"
expect_rc 1 promote clf@v0.0.1 --to production
GIT_COMMITTER_NAME=Rev GIT_COMMITTER_EMAIL=rev@example.com expect_ok approve clf@v0.0.1 --stage production
expect_ok promote clf@v0.0.1 --to production

# Lineage: data -> run -> version -> stage; from the run and from the data.
expect_ok lineage clf@v0.0.1
expect_out_contains "run $id"
expect_out_contains "data/raw.txt"
expect_out_contains "stage production"
expect_ok --json lineage "$id"
expect_json "d['kind'] == 'run' and any(c['id'] == 'clf@v0.0.1' for c in d['children'])"
expect_ok models card clf@v0.0.1
expect_out_contains "| train.lr | 0.1 |"
expect_out_contains "| acc | 0.93 |"

done_testing
