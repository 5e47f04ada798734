#!/usr/bin/env bash
# mlo lineage end to end: from tracked raw data downstream through every
# stage to the model version, its deployment and batch predictions; from a
# version upstream through every stage to the tracked data and the commit
# each run ran from. --json carries the graph (nodes, edges); every edge,
# in --json and --dot, points downstream.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"
new_repo le
mkdir -p data
printf 'a,b\n1,2\n3,4\n' >data/raw.csv
expect_ok data add data/raw.csv
cat >mlo.yaml <<'YAML'
stages:
  prep:
    cmd: cp data/raw.csv features.csv && echo 5,6 >> features.csv
    deps: [data/raw.csv]
    outs: [features.csv]
  train:
    cmd: >-
      printf '{"format":"mlo-linear","version":1,"task":"regression","features":["a","b"],"coef":[1,1],"intercept":0}\n' > model.json
      && cat features.csv > /dev/null
    deps: [features.csv]
    outs: [model.json]
YAML
git add -A && git commit -qm pipeline
expect_ok run -q
commit=$(git rev-parse HEAD)
expect_ok --json register lin --stage train
expect_json "d['version'] == 'v0.0.1'"
expect_ok deploy lin@v0.0.1 --env nightly --target batch --input data/raw.csv --output preds.csv

# Downstream from the raw data: prep -> features.csv -> train -> model.json -> lin@v0.0.1 -> batch.
expect_ok --json lineage data/raw.csv
expect_json "d['kind'] == 'data' and len(d['sha256']) == 64"
expect_json "{'run', 'model_version', 'deployment'} <= {n['kind'] for n in d['nodes']}"
expect_json "sorted(n['stage'] for n in d['nodes'] if n['kind'] == 'run') == ['prep', 'train']"
expect_json "any(n['key'] == 'model_version:lin@v0.0.1' for n in d['nodes'])"
expect_json "any(n['kind'] == 'deployment' and n['action'] == 'batch' for n in d['nodes'])"
# Every edge downstream: raw data only ever a source, the deployment only a target.
expect_json "all(e['to'] != 'data:data/raw.csv' for e in d['edges'])"
expect_json "all(not e['from'].startswith('deployment:') for e in d['edges'])"
expect_json "any(e['from'] == 'data:features.csv' and e['to'].startswith('run:') for e in d['edges'])"
expect_ok lineage data/raw.csv
expect_out_contains "stage prep"
expect_out_contains "stage train"
expect_out_contains "lin@v0.0.1"

# Upstream from the version: train run -> features.csv -> prep run -> data/raw.csv, with the commit.
expect_ok --json lineage lin@v0.0.1
expect_json "sorted(n['stage'] for n in d['nodes'] if n['kind'] == 'run') == ['prep', 'train']"
expect_json "any(n['key'] == 'data:data/raw.csv' for n in d['nodes'])"
expect_json "all(n['git_commit'] == '$commit' for n in d['nodes'] if n['kind'] == 'run')"
expect_json "all(e['to'] != 'data:data/raw.csv' for e in d['edges'])"
expect_json "any(e['from'] == 'data:data/raw.csv' and e['to'].startswith('run:') for e in d['edges'])"
expect_json "any(e['from'] == 'model_version:lin@v0.0.1' and e['to'].startswith('deployment:') for e in d['edges'])"
expect_ok lineage --dot lin@v0.0.1
expect_out_contains "\"data:data/raw.csv\" -> \"run:"
[[ "$OUT" != *"-> \"data:data/raw.csv\""* ]] || fail "an edge points at the raw data: $OUT"; pass
expect_ok lineage lin@v0.0.1
expect_out_contains "data/raw.csv"
expect_out_contains "stage prep"

# Bad input: something lineage does not know.
expect_rc 3 lineage no/such/thing
done_testing
