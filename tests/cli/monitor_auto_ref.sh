#!/usr/bin/env bash
# mlo monitor --reference auto --model NAME#STAGE / NAME@VERSION: lineage from
# the model version to the run that trained it, to that run's data in the cache.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
new_repo ar
gen() {  # FILE N SHIFT SEED
  $PY - "$@" <<'PYEOF'
import sys, random
f, n, shift, seed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
r = random.Random(seed)
with open(f, "w") as out:
    out.write("age,income,city,label\n")
    for i in range(n):
        out.write(f"{r.gauss(40 + 10 * shift, 10):.3f},{r.lognormvariate(10, 0.5):.2f},"
                  f"{r.choice(['paris', 'lyon', 'nice'])},{int(r.random() < 0.3)}\n")
PYEOF
}
mkdir -p data
gen data/train.csv 1500 0 1
gen same.csv 1200 0 2
gen drift.csv 1200 1 3
printf 'a,b\n1,2\n' > data/lookup.csv
echo "notes" > data/notes.txt
cat > mlo.yaml <<'YAML'
stages:
  train:
    cmd: |-
      wc -l data/train.csv > model.txt && printf '{"acc": 0.9}\n' > metrics.json
    deps: [data/train.csv, data/notes.txt]
    outs: [model.txt]
    metrics: [metrics.json]
  train2:
    cmd: cat data/train.csv data/lookup.csv | wc -l > model2.txt
    deps: [data/train.csv, data/lookup.csv]
    outs: [model2.txt]
  train3:
    cmd: wc -l data/notes.txt > model3.txt
    deps: [data/notes.txt]
    outs: [model3.txt]
YAML
expect_ok data add data/train.csv data/lookup.csv
git add -A && git commit -qm pipeline
expect_ok run -q train
expect_ok --json register clf --stage train
expect_ok promote clf@v0.0.1 --to staging

# NAME#STAGE and NAME@VERSION follow lineage to data/train.csv (from the cache)
expect_ok monitor --no-record --json --reference auto --model 'clf#staging' -c same.csv
expect_json "d['reference']['lineage']['dataset']=='data/train.csv' and d['reference']['lineage']['version']=='clf@v0.0.1' and d['reference']['rows']==1500 and d['summary']['drift']=='ok'"
expect_rc 1 monitor --no-record --reference auto --model clf@v0.0.1 -c drift.csv --drift-share 0.25 --fail-on drift
expect_out_contains "Dataset drift: YES"
# the workspace copy is not needed: the cache holds the training data
rm data/train.csv
expect_ok monitor --no-record --json -r auto --model clf@v0.0.1 -c same.csv
expect_json "d['reference']['rows']==1500"
# a monitor in mlo.yaml: reference: auto with model:
cat >> mlo.yaml <<'YAML'
monitors:
  prod:
    reference: auto
    model: "clf#staging"
    current: same.csv
YAML
expect_ok monitor prod --no-record --json
expect_json "d['current']['rows']==1200 and d['reference']['lineage']['run']!='' and d['reference']['lineage']['stage']=='train'"

# several tabular deps: refused unless named (--training-data) or told apart by the monitor's columns
expect_ok data checkout data/train.csv
expect_ok run -q train2
expect_ok register clf2 --stage train2
expect_rc 3 monitor --no-record -r auto --model clf2 -c same.csv
expect_err_contains "several data sets"
expect_err_contains "training_data"
expect_ok monitor --no-record --json -r auto --model clf2 --training-data data/train.csv -c same.csv
expect_json "d['reference']['lineage']['dataset']=='data/train.csv'"
expect_ok monitor --no-record --json -r auto --model clf2 --target label -c same.csv
expect_json "d['reference']['lineage']['dataset']=='data/train.csv'"
expect_rc 3 monitor --no-record -r auto --model clf2 --training-data data/nope.csv -c same.csv
expect_err_contains "has no dependency 'data/nope.csv'"

# errors (exit 3 / 2), each naming what is wrong and what to do
expect_rc 2 monitor --no-record -r auto -c same.csv
expect_err_contains "--model"
expect_rc 2 monitor --no-record -r data/lookup.csv --model clf -c same.csv
expect_rc 3 monitor --no-record -r auto --model nosuch -c same.csv
expect_ok run -q train3
expect_ok register clf3 --stage train3
expect_rc 3 monitor --no-record -r auto --model clf3 -c same.csv
expect_err_contains "no tabular data dependency"
echo model > m.bin
expect_ok register bare m.bin
expect_rc 3 monitor --no-record -r auto --model bare -c same.csv
expect_err_contains "has no run recorded"
# the data is not in the cache: hint mlo pull
h=$(sha256sum data/train.csv | cut -c1-64)
rm -f data/train.csv .mlo/cache/objects/${h:0:2}/${h:2}
expect_rc 3 monitor --no-record --no-cache -r auto --model clf@v0.0.1 -c same.csv
expect_err_contains "not in the local cache"
expect_err_contains "mlo pull"
done_testing
