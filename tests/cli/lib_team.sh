# The whole team lifecycle in two clones that share a bare git repository
# (origin.git) and one mlo remote, every step done in whichever clone a
# person happens to be in (issue 12's "done means"). Run by team_scenario.sh
# (a directory remote) and team_scenario_s3.sh (s3rver). Source after lib.sh
# and lib_deploy.sh; define add_team_remote (adds remote "team" as the
# default, in the tracked config) first.
#
#   A: trains (prep -> folder output -> train), registers, promotes, pushes
#   B: clones, pulls, gets A's outputs without re-running, deploys the
#      production model, scores a batch, serves positional requests, monitors
#      the request log (real column names), retrains on drift, promotes
#      through the gates, pushes
#   A: pulls and sees B's runs, versions, deploys and lineage, from A's raw
#      data down to B's monitor result
PY=/usr/bin/python3

# team_data FILE N SHIFT SEED : rows a, b, y with y = 2a + b + noise; SHIFT moves a.
team_data() {
  $PY - "$@" <<'PYEOF'
import sys, random
f, n, shift, seed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
r = random.Random(seed)
with open(f, "w") as out:
    out.write("a,b,y\n")
    for _ in range(n):
        a, b = r.gauss(shift, 1), r.gauss(5, 2)
        out.write(f"{a:.4f},{b:.4f},{2 * a + b + r.gauss(0, 0.1):.4f}\n")
PYEOF
}

# sha FILE : its sha256.
sha() { sha256sum "$1" | cut -c1-64; }

team_project() {
  mkdir -p data/extra
  team_data data/raw.csv 800 0 1
  team_data data/extra/seed.csv 100 0 2
  cat >prep.py <<'PY'
import glob, os
os.makedirs("data/prep", exist_ok=True)
for i, src in enumerate(["data/raw.csv"] + sorted(glob.glob("data/extra/*.csv"))):
    open(f"data/prep/part-{i}.csv", "w").write(open(src).read())
PY
  cat >train.py <<'PY'
import csv, glob, json
import numpy as np
rows = [r for f in sorted(glob.glob("data/prep/*.csv")) for r in csv.DictReader(open(f))]
X = np.array([[float(r["a"]), float(r["b"]), 1.0] for r in rows])
y = np.array([float(r["y"]) for r in rows])
w, *_ = np.linalg.lstsq(X, y, rcond=None)
r2 = 1 - ((X @ w - y) ** 2).sum() / ((y - y.mean()) ** 2).sum()
json.dump({"format": "mlo-linear", "version": 1, "task": "regression", "features": ["a", "b"],
           "coef": [round(w[0], 6), round(w[1], 6)], "intercept": round(w[2], 6)}, open("model.json", "w"))
json.dump({"r2": round(float(r2), 6), "rows": len(rows)}, open("metrics.json", "w"))
PY
  cat >mlo.yaml <<'YAML'
stages:
  prep:
    cmd: /usr/bin/python3 prep.py
    deps: [prep.py, data/raw.csv, data/extra]
    outs: [data/prep]
  train:
    cmd: /usr/bin/python3 train.py
    deps: [train.py, data/prep]
    outs: [model.json]
    metrics: [metrics.json]
models:
  reg:
    path: model.json
    description: y from a and b
registry:
  stages:
    production:
      gates:
        metrics: ["r2 >= 0.9"]
monitors:
  prod:
    reference: auto
    model: "reg#production"
    current: .mlo/deploy/prod/requests.jsonl
    columns:
      target: y
    on_drift:
      run: [train]
      register: reg
      propose: production
YAML
}

# A's part: trains, registers (linking the run that wrote the bytes), promotes, pushes.
team_clone_a_trains() {
  git init -q --bare "$TEST_TMP/origin.git"
  new_repo a
  git remote add origin "$TEST_TMP/origin.git"
  add_team_remote
  team_project
  expect_ok data add data/raw.csv data/extra
  git add -A && git commit -qm "project" || fail "commit project"
  expect_ok run -q
  expect_file data/prep/part-1.csv
  A_TRAIN_RUN=$($PY -c "import yaml; print(yaml.safe_load(open('mlo.lock'))['stages']['train']['run'])")
  A_MODEL_SHA=$(sha model.json)
  A_PREP_SHA=$($PY -c "import yaml; print([o['sha256'] for o in yaml.safe_load(open('mlo.lock'))['stages']['prep']['outs']][0])")
  git add -A && git commit -qm "trained" || fail "commit trained"
  expect_ok --json register reg --stage train
  expect_json "d['version'] == 'v0.0.1' and d['run'] == '$A_TRAIN_RUN' and d['artifact']['sha256'] == '$A_MODEL_SHA' and [i['name'] for i in d['signature']['inputs']] == ['a', 'b']"
  expect_ok --json promote reg@v0.0.1 --to production
  expect_json "d['promoted'] and all(g['passed'] for g in d['gates'])"
  expect_ok push
  git push -q origin HEAD:main --tags || fail "git push (A)"
}

# B's part, step 1: a fresh clone gets A's outputs without re-running anything.
team_clone_b_pulls() {
  git clone -q "$TEST_TMP/origin.git" "$TEST_TMP/b" && cd "$TEST_TMP/b" || fail "clone b"
  expect_ok pull
  expect_ok --json runs ls
  expect_json "any(r['id'] == '$A_TRAIN_RUN' for r in d)"
  local runs_before
  runs_before=$(printf '%s' "$OUT" | $PY -c "import json,sys; print(len(json.load(sys.stdin)))")
  # restored from the run cache (or already checked out by pull): nothing re-runs
  expect_ok --json run
  expect_json "len(d['stages']) == 2 and all(s['action'] in ('restored', 'up-to-date') for s in d['stages']) and not d['lock_changed']"
  expect_eq "$(sha model.json)" "$A_MODEL_SHA" "B's model.json (restored, not retrained)"
  expect_file data/prep/part-0.csv
  expect_eq "$(git status --porcelain mlo.lock)" "" "mlo.lock after B's run"
  expect_ok --json runs ls --stage train
  expect_json "len(d) == 1 and d[0]['id'] == '$A_TRAIN_RUN'"
  expect_eq "$(printf '%s' "$OUT" | $PY -c "import json,sys; print(len(json.load(sys.stdin)))")" 1 "train runs in B"
  [ "$runs_before" -ge 2 ] || fail "B sees $runs_before runs, expected A's prep and train"; pass
}

# B, step 2: deploys the production model, scores a batch, serves positional requests.
team_clone_b_deploys() {
  expect_ok --json deploy 'reg#production' --env prod
  expect_json "d['version'] == 'v0.0.1'"
  [ -z "$(git status --porcelain .mlo)" ] || fail "git status shows .mlo/: $(git status --porcelain .mlo)"; pass
  expect_ok --json deploy ls
  expect_json "[e['env'] for e in d] == ['prod']"
  team_data batch.csv 50 0 3
  cut -d, -f1,2 batch.csv >batch-in.csv
  expect_ok --json deploy 'reg#production' --env nightly --target batch --input batch-in.csv --output preds/batch.csv
  expect_json "d['rows'] == 50 and d['version'] == 'v0.0.1'"
  expect_file preds/batch.csv.mlo
  grep -q "$TEST_TMP" deploy/*/events.jsonl && fail "events.jsonl holds local paths: $(cat deploy/*/events.jsonl)"; pass
  # positional requests ("instances" rows) whose 'a' has drifted by +3
  local port body
  port=$(router_port prod)
  body=$($PY -c "
import json, random
r = random.Random(4)
print(json.dumps({'instances': [[round(r.gauss(3, 1), 4), round(r.gauss(5, 2), 4)] for _ in range(400)]}))")
  expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$port/invocations")" 200 "positional request"
  expect_ok deploy stop prod  # flushes the request log
}

# B, step 3: monitors the request log, retrains on drift with new labelled
# data, promotes through the gates, redeploys, pushes.
team_clone_b_monitors_and_retrains() {
  expect_ok --json monitor prod --no-record
  expect_json "d['current']['rows'] == 400 and d['reference']['lineage']['dataset'] == 'data/prep' and d['summary']['drift'] == 'drift' and {m['result']['column_name'] for m in d['metrics'] if m['metric'] == 'ColumnDriftMetric'} == {'a', 'b'}"
  expect_out_not_contains "input_0"
  team_data data/extra/drifted.csv 400 3 5
  expect_ok data add data/extra
  git add -A && git commit -qm "labelled drifted data" || fail "commit b data"
  expect_ok monitor prod --act
  expect_out_contains "Dataset drift: YES"
  expect_out_contains "registered reg@v0.0.2 and promoted it to production"
  B_RESULT=$($PY -c "import json,subprocess; print(json.loads(subprocess.check_output(['$MLO','monitor','history','prod','--json']))['results'][-1]['id'])")
  expect_ok --json models show 'reg#production'
  expect_json "d['version'] == 'v0.0.2' and d['run'] != '$A_TRAIN_RUN'"
  B_TRAIN_RUN=$(printf '%s' "$OUT" | $PY -c "import json,sys; print(json.load(sys.stdin)['run'])")
  expect_eq "$($PY -c "import yaml; print(yaml.safe_load(open('mlo.lock'))['stages']['train']['run'])")" "$B_TRAIN_RUN" "v0.0.2's run is the one in mlo.lock"
  expect_ok --json deploy 'reg#production' --env prod
  expect_json "d['version'] == 'v0.0.2'"
  expect_ok deploy stop prod
  git add -A && git commit -qm "retrained on drift" || fail "commit b"
  expect_ok push
  git push -q origin HEAD:main --tags || fail "git push (B)"
}

# A again: pulls and sees B's runs, versions, deploys and the lineage from
# A's raw data down to B's monitor result.
team_clone_a_sees_all() {
  cd "$TEST_TMP/a" || fail "cd a"
  git pull -q --tags origin main || fail "git pull (A)"  # registry tags come with --tags (GTO's way)
  expect_ok pull
  expect_ok --json runs ls --stage train
  expect_json "{r['id'] for r in d} >= {'$A_TRAIN_RUN', '$B_TRAIN_RUN'}"
  expect_ok --json models show 'reg#production'
  expect_json "d['version'] == 'v0.0.2' and d['run'] == '$B_TRAIN_RUN'"
  expect_ok --json deploy history prod
  expect_json "[e['version'] for e in d if e['action'] == 'deploy'] == ['v0.0.1', 'v0.0.2']"
  expect_ok --json lineage data/raw.csv
  expect_json "{'model_version:reg@v0.0.1', 'model_version:reg@v0.0.2', 'monitor_result:$B_RESULT'} <= {n['key'] for n in d['nodes']}"
  expect_ok lineage data/raw.csv
  expect_out_contains "monitor prod: drift drift"
  expect_ok --json lineage reg@v0.0.2
  expect_json "any(n['key'] == 'run:$B_TRAIN_RUN' for n in d['nodes']) and any(n['key'].startswith('data:data/raw.csv') for n in d['nodes'])"
  expect_ok run
  expect_eq "$(sha model.json)" "$(cd "$TEST_TMP/b" && sha model.json)" "A's model.json after pulling B's retrain"
}

team_scenario() {
  team_clone_a_trains
  team_clone_b_pulls
  team_clone_b_deploys
  team_clone_b_monitors_and_retrains
  team_clone_a_sees_all
}
