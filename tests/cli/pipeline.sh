#!/usr/bin/env bash
# mlo run: DAG order, up-to-date checks, the run cache, --set, --dry-run,
# --force, mlo.lock, outputs in the store, mlo dag, sweeps.
source "$(dirname "$0")/lib.sh"
new_repo p
mkdir -p data src
seq 1 2000 > data/raw.txt
cat > params.yaml <<'YAML'
train:
  lr: 0.1
  depth: 3
YAML
cat > mlo.yaml <<'YAML'
models: {}          # other modules' keys are left alone
stages:
  prepare:
    cmd: sort -n data/raw.txt | head -1000 > prepared.txt; echo ran >> "$TEST_TMP/count.prepare"
    deps: [data/raw.txt]
    outs: [prepared.txt]
  train:
    cmd: ["/bin/sh", "-c", "echo \"lr=$MLO_PARAM_TRAIN_LR depth=$MLO_PARAM_TRAIN_DEPTH\" > model/weights.txt && cp \"$MLO_PARAMS_FILE\" model/params.json && echo ran >> \"$TEST_TMP/count.train\" && for s in 1 2 3; do echo \"{\\\"key\\\":\\\"loss\\\",\\\"value\\\":0.$s,\\\"step\\\":$s}\" >> \"$MLO_METRICS_FILE\"; done"]
    deps: [prepared.txt]
    params: [train.lr, train.depth]
    outs: [model]
  evaluate:
    cmd: |-
      printf '{"acc": %s.5, "lr": %s}\n' "$(grep -c . model/weights.txt)" ${params.train.lr} > metrics.json
    deps: [model]
    params: [train.lr]
    metrics: [metrics.json]
YAML
# train writes a folder: make it exist before the command runs.
sed -i 's|echo \\"lr=|mkdir -p model \&\& echo \\"lr=|' mlo.yaml
export TEST_TMP

expect_ok dag
expect_out_contains "train  <- prepare"
expect_ok dag --dot
expect_out_contains '"train" -> "evaluate";'
expect_ok --json dag
expect_json "[s['name'] for s in d['stages']] == ['prepare','train','evaluate']"

expect_ok run -q
expect_eq "$(wc -l < "$TEST_TMP/count.train")" 1 "train runs"
expect_file mlo.lock
expect_file model/weights.txt
grep -q "lr=0.1 depth=3" model/weights.txt || fail "params not passed as env vars"
/usr/bin/python3 -c "import json; d=json.load(open('model/params.json')); assert d['train']['lr']==0.1 and d['train']['depth']==3" || fail "MLO_PARAMS_FILE"
pass
# Outputs are in the store and ignored by git; the lock names them.
hash=$(sha256sum prepared.txt | cut -c1-64)
expect_file ".mlo/cache/objects/${hash:0:2}/${hash:2}"
grep -q "$hash" mlo.lock || fail "mlo.lock lacks the output's hash"
git check-ignore -q prepared.txt || fail "outputs are not ignored by git"
pass

# Nothing changed: nothing runs.
expect_ok run
expect_out_contains "prepare is up to date"
expect_out_contains "evaluate is up to date"
expect_eq "$(wc -l < "$TEST_TMP/count.train")" 1 "train runs after a no-op run"
expect_ok --json run
expect_json "all(s['action']=='up-to-date' for s in d['stages'])"

# --dry-run says what and why, and changes nothing.
before=$(cat mlo.lock)
expect_ok run --dry-run --set train.lr=0.5
expect_out_contains "would run train: param train.lr changed (0.1 -> 0.5)"
expect_out_contains "would run evaluate: upstream stage 'train' would run"
expect_eq "$(cat mlo.lock)" "$before" "mlo.lock after --dry-run"

# --set overrides a param for this run only: params.yaml is unchanged.
expect_ok run --set train.lr=0.5
expect_eq "$(wc -l < "$TEST_TMP/count.train")" 2 "train runs after --set"
grep -q "lr=0.5" model/weights.txt || fail "--set value not used"
grep -q "lr: 0.1" params.yaml || fail "--set edited params.yaml"
expect_eq "$(/usr/bin/python3 -c "import json; print(json.load(open('metrics.json'))['lr'])")" "0.5" "templated param"
pass
# Back to params.yaml's value: restored from the run cache, not re-run.
expect_ok run
expect_out_contains "restored train from the run cache"
expect_eq "$(wc -l < "$TEST_TMP/count.train")" 2 "train runs after restore"
grep -q "lr=0.1" model/weights.txt || fail "restore did not bring back the outputs"
pass
# A deleted output comes back from the cache too.
rm -rf model
expect_ok run
expect_out_contains "restored train"
expect_file model/weights.txt

# A changed dep re-runs what depends on it, in order.
echo 5000 >> data/raw.txt
expect_ok run -n
expect_out_contains "would run prepare: dep data/raw.txt changed"
expect_ok run
expect_eq "$(wc -l < "$TEST_TMP/count.prepare")" 2 "prepare runs"
# --force runs a stage even when up to date (and only that one).
expect_ok run --force prepare
expect_eq "$(wc -l < "$TEST_TMP/count.prepare")" 3 "prepare runs after --force"

# Run records: metrics, series, params.
expect_ok --json runs ls --stage train --where params.train.lr=0.1 --limit 1
expect_json "d[0]['metrics']['loss']==0.3 and d[0]['params']['train.lr']==0.1 and d[0]['status']=='succeeded'"
id=$(printf '%s' "$OUT" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")
expect_ok --json runs show "${id:0:10}"
expect_json "d['metric_series']['loss'][2]=={'step':3,'value':0.3} and d['git']['commit'] and 'model' in d['outs'] and d['outs']['model']['type']=='dir' and d['cpu_model'] is not None"

# Bad --set / --grid.
expect_rc 2 run --set nokey
expect_err_contains "KEY=VALUE"
expect_rc 2 run --set train.nope=1
expect_err_contains "no stage to run uses param"
expect_rc 2 run train --grid 'train.lr=uniform(0.1,0.2)'
expect_err_contains "needs --random"
expect_rc 3 run nostage
expect_err_contains "no stage 'nostage'"

# A sweep: every combination is its own run; the work tree is untouched.
git add -A && git commit -qm "pipeline" || fail commit
before=$(cat mlo.lock)
expect_ok -q run train --grid train.lr=0.2,0.3 --grid train.depth=4,5 -j 2
expect_eq "$(cat mlo.lock)" "$before" "mlo.lock after a sweep"
grep -q "lr=0.1" model/weights.txt || fail "a sweep changed the work tree"
expect_ok --json runs ls --stage train --where 'params.train.lr>=0.2' --where 'params.train.lr<=0.3'
expect_json "len(d)==4 and len({(r['params']['train.lr'], r['params']['train.depth']) for r in d})==4 and len({r['sweep'] for r in d})==1"
expect_ok --json runs ls --stage evaluate --where 'metrics.lr>=0.2' --where 'metrics.lr<0.4' --sort metrics.lr:desc
expect_json "[r['metrics']['lr'] for r in d][:1]==[0.3]"
expect_ok -q run train --random 3 --grid 'train.lr=uniform(0.001,0.01)' --grid 'train.depth=choice(7,8)' --seed 42
expect_ok --json runs ls --stage train --where 'params.train.lr<0.01'
expect_json "len(d)==3 and all(r['params']['train.depth'] in (7,8) for r in d)"
[ -z "$(ls -A .mlo/tmp/sweeps 2>/dev/null)" ] || fail "sweep scratch trees left behind"
pass

# Parallel independent stages with -j.
cat >> mlo.yaml <<'YAML'
  side1:
    cmd: sleep 0.3; echo a > side1.txt
    outs: [side1.txt]
  side2:
    cmd: sleep 0.3; echo b > side2.txt
    outs: [side2.txt]
YAML
expect_ok run -j 2 side1 side2
expect_file side1.txt
expect_file side2.txt
done_testing
