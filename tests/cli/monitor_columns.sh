#!/usr/bin/env bash
# Column options that name no column are errors with "did you mean" (a typo
# used to drop the check silently); --reference auto reads a folder of
# tabular files (a stage's folder output, a tracked folder), not its manifest.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
new_repo mcol
gen() {  # FILE N SHIFT SEED
  $PY - "$@" <<'PYEOF'
import sys, random
f, n, shift, seed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
r = random.Random(seed)
with open(f, "w") as out:
    out.write("age,income,target\n")
    for i in range(n):
        out.write(f"{r.gauss(40 + 10 * shift, 10):.3f},{r.lognormvariate(10, 0.5):.2f},{int(r.random() < 0.3)}\n")
PYEOF
}
mkdir -p raw
gen raw/a.csv 800 0 1
gen raw/b.csv 700 0 2
gen same.csv 1000 0 3
gen drift.csv 1000 1 4

# a column that does not exist: exit 3, the option, the closest name, the columns
expect_rc 3 monitor --no-record -r raw/a.csv -c same.csv --target targt
expect_err_contains "--target"
expect_err_contains "'targt'"
expect_err_contains "did you mean 'target'?"
expect_err_contains "age, income, target"
expect_rc 3 monitor --no-record -r raw/a.csv -c same.csv --prediction pred
expect_err_contains "--prediction"
expect_rc 3 monitor --no-record -r raw/a.csv -c same.csv --features age,incme
expect_err_contains "did you mean 'income'?"
expect_rc 3 monitor --no-record -r raw/a.csv -c same.csv --column-method agee=psi
expect_err_contains "did you mean 'age'?"
expect_ok monitor --no-record --json -r raw/a.csv -c same.csv --target target
expect_json "any(m['metric']=='TargetDriftMetric' for m in d['metrics'])"

# a stage whose output is a folder of CSV files; the model is trained on it
cat > mlo.yaml <<'YAML'
stages:
  prep:
    cmd: mkdir -p data/prep && cp raw/a.csv raw/b.csv data/prep/
    deps: [raw]
    outs: [data/prep]
  train:
    cmd: cat data/prep/*.csv | wc -l > model.txt
    deps: [data/prep]
    outs: [model.txt]
YAML
git add -A && git commit -qm pipeline
expect_ok run -q
expect_ok --json register clf --stage train
expect_json "d['data'][0]['path']=='data/prep' and d['data'][0]['type']=='dir'"
expect_ok monitor --no-record --json -r auto --model clf -c same.csv
expect_json "d['reference']['lineage']['dataset']=='data/prep' and d['reference']['rows']==1500 and d['summary']['drift']=='ok'"
expect_rc 1 monitor --no-record -r auto --model clf -c drift.csv --drift-share 0.3 --fail-on drift
expect_out_contains "Dataset drift: YES"
# a recorded check against the version's training data is in its lineage
expect_ok --json monitor -r auto --model clf -c same.csv
rid=$(printf '%s' "$OUT" | $PY -c "import json,sys; print(json.load(sys.stdin)['id'])")
expect_ok --json lineage data/prep
expect_json "{'model_version:clf@v0.0.1', 'monitor_result:$rid'} <= {n['key'] for n in d['nodes']}"
# a stage's folder output has a hash now (its manifest's): the walk goes down from it
expect_json "d['sha256'] and any(n['key'].startswith('run:') and n.get('stage') == 'train' for n in d['nodes'])"
# --training-data names the folder (or its pointer file) the same way
expect_ok monitor --no-record --json -r auto --model clf --training-data data/prep -c same.csv
expect_json "d['reference']['rows']==1500"
expect_ok monitor --no-record --json -r auto --model clf --training-data data/prep/ -c same.csv
expect_json "d['reference']['rows']==1500"
# the work-tree copy is not needed: the folder's files are in the cache
rm -rf data/prep
expect_ok monitor --no-record --no-cache --json -r auto --model clf -c same.csv
expect_json "d['reference']['rows']==1500"

# a tracked folder (mlo data add) as the training data, named by its pointer
mkdir -p data/tracked && cp raw/*.csv data/tracked/
cat > mlo.yaml <<'YAML'
stages:
  train2:
    cmd: cat data/tracked/*.csv | wc -l > model2.txt
    deps: [data/tracked]
    outs: [model2.txt]
YAML
expect_ok data add data/tracked
git add -A && git commit -qm "tracked folder"
expect_ok run -q train2
expect_ok register clf2 --stage train2
expect_ok monitor --no-record --json -r auto --model clf2 --training-data data/tracked.mlo -c same.csv
expect_json "d['reference']['lineage']['dataset']=='data/tracked' and d['reference']['rows']==1500"
done_testing
