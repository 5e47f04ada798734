#!/usr/bin/env bash
# The full retraining loop: a model trained by a pipeline and promoted to
# production; a monitor whose reference is that model's training data
# (--reference auto through lineage); a drifted batch; `mlo monitor --act`
# reruns the stage, registers the new version from its run, proposes it for
# production through the gates (promoted, or refused as configured), and the
# decision and its evidence are recorded (monitor history, registry audit).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_loop.sh"
PY=/usr/bin/python3
new_repo rl
mkdir -p data
gen data/train.csv 1500 0 1 age,income,city
gen data/batch.csv 1000 0 2 age,income,city
cat > train.py <<'PY'
import csv, json
rows = list(csv.DictReader(open("data/train.csv"))) + list(csv.DictReader(open("data/batch.csv")))
mean = sum(float(r["age"]) for r in rows) / len(rows)
json.dump({"mean_age": mean, "rows": len(rows)}, open("model.json", "w"))
json.dump({"acc": 0.91}, open("metrics.json", "w"))
PY
{ loop_yaml "/usr/bin/python3 train.py" "train.py, data/train.csv, data/batch.csv" 0.9; cat <<'YAML'
monitors:
  prod:
    reference: auto
    model: "clf#production"
    current: data/batch.csv
    on_drift:
      run: [train]
      register: clf
      propose: production
YAML
} > mlo.yaml
# the monitors: section matches schemas/mlo-monitors.schema.json
if /usr/bin/python3 -c "import jsonschema, yaml" 2>/dev/null; then
  /usr/bin/python3 - "${MLO_SOURCE_DIR:-$(dirname "$0")/../..}/schemas/mlo-monitors.schema.json" <<'PY' || fail "monitors: does not match its schema"
import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
v.validate(yaml.safe_load(open("mlo.yaml"))["monitors"])
bad = {"m": {"reference": "auto", "on_drift": {"propose": "production"}, "drift": {"method": "nope"}}}
assert len(list(v.iter_errors(bad))) >= 2, "schema accepts a bad monitor"
PY
  pass
fi
# propose without register is refused when read
cp mlo.yaml good.yaml
printf '  bad:\n    reference: data/train.csv\n    on_drift: {propose: production}\n' >> mlo.yaml
expect_rc 3 monitor bad -c data/batch.csv
expect_err_contains "registers no model"
mv good.yaml mlo.yaml
expect_ok data add data/train.csv
git add -A && git commit -qm "pipeline, model, monitor"
expect_ok run -q
expect_ok register clf --stage train
expect_ok promote clf@v0.0.1 --to production

# no drift: --act does nothing (and says so)
expect_ok monitor prod --act
expect_out_contains "No dataset drift: nothing to do."
expect_ok --json runs ls --stage train
expect_json "len(d)==1"

# drifted batch: the loop retrains, registers v0.0.2 from the new run, promotes it
gen data/batch.csv 1000 1 3 age,income,city
expect_ok monitor prod --act
expect_out_contains "Dataset drift: YES"
expect_out_contains "on_drift: mlo run train"
expect_out_contains "registered clf@v0.0.2 and promoted it to production"
expect_ok --json runs ls --stage train
expect_json "len(d)==2"
new_run=$(printf '%s' "$OUT" | $PY -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")
expect_ok --json models show 'clf#production'
expect_json "d['version']=='v0.0.2' and d['run']=='$new_run'"
$PY -c "import json; assert json.load(open('model.json'))['rows']==2500" || fail "the stage did not rerun on the new batch"; pass
# the decision and its evidence: in the monitor history and the registry audit
expect_ok monitor history prod --json
expect_json "(lambda a: a['status']=='done' and a['version']=='clf@v0.0.2' and 'age' in a['evidence']['drifted_columns'] and a['evidence']['result_id']==d['results'][-1]['id'] and all(g['passed'] for g in a['gates']))(d['results'][-1]['actions'][0])"
expect_ok --json audit
expect_out_contains "monitor prod: dataset drift"
# the new production model's training data is the new reference: its lineage
expect_ok monitor prod --no-record --json
expect_json "d['reference']['lineage']['version']=='clf@v0.0.2' and d['reference']['lineage']['run']=='$new_run'"

# a stricter gate refuses the next proposal: recorded, exit 1, production unchanged
$PY - <<'PY'
import re
s = open("mlo.yaml").read().replace('"acc >= 0.9"', '"acc >= 0.95"')
open("mlo.yaml", "w").write(s)
PY
git commit -qam "stricter gate"
gen data/batch.csv 1000 1 4 age,income,city
expect_rc 1 monitor prod --act
expect_out_contains "refused by its gates"
expect_ok --json models show 'clf#production'
expect_json "d['version']=='v0.0.2'"
expect_ok --json models show clf@v0.0.3
expect_ok monitor history prod --json
expect_json "(lambda a: a['status']=='refused' and a['version']=='clf@v0.0.3' and not all(g['passed'] for g in a['gates']))(d['results'][-1]['actions'][0])"

# a failing stage: the trigger stops, nothing is registered, the failure is recorded (exit 5)
printf 'raise SystemExit(3)\n' > train.py
gen data/batch.csv 1000 1 5 age,income,city
expect_rc 5 monitor prod --act
expect_err_contains "on_drift step failed: mlo run train"
expect_rc 3 models show clf@v0.0.4
expect_ok monitor history prod --json
expect_json "d['results'][-1]['actions'][0]['status']=='failed'"

# retraining that reproduces the latest version's bytes (the stage is restored
# from the run cache: same code, same batch as v0.0.3) registers nothing: the
# decision is recorded instead, and says which version has those bytes
git checkout -q train.py
gen data/batch.csv 1000 1 4 age,income,city
expect_ok monitor prod --act
expect_out_contains "retraining produced the same artifact as clf@v0.0.3; no new version registered"
expect_rc 3 models show clf@v0.0.4
expect_ok monitor history prod --json
expect_json "(lambda a: a['status']=='unchanged' and a['version']=='clf@v0.0.3' and 'no new version' in a['reason'])(d['results'][-1]['actions'][0])"
done_testing
