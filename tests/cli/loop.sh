#!/usr/bin/env bash
# One unattended turn of the closed loop, checked decision by decision on
# data made to need each one: a served model, a drift trigger and a
# schedule checked by `mlo triggers check --act`, the gates, a canary with
# automatic rollback, and a webhook (a real HTTP server that checks the
# signature) that hears of each decision.
#   no drift            -> nothing runs, nothing is sent
#   drift, better model -> retrained, registered, promoted; drift + trigger sent
#   drift, worse model  -> registered, refused by the gate; refusal sent
#   failing canary      -> rolled back by the router; rollback sent
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_loop.sh"
source "$(dirname "$0")/lib_deploy.sh"
PY=/usr/bin/python3
HERE="$(cd "$(dirname "$0")" && pwd)"
export MLO_LOOP_SECRET="loop-$$"
start_receiver "$MLO_LOOP_SECRET"
trap 'kill $RECEIVER 2>/dev/null; deploy_cleanup' EXIT
events() { [ -f "$RECEIVED" ] && $PY -c "
import json,sys; print(' '.join(json.loads(l)['event'] for l in open(sys.argv[1])))" "$RECEIVED"; }
all_signed() { $PY -c "
import json,sys; assert all(json.loads(l)['signature_ok'] for l in open(sys.argv[1]))" "$RECEIVED" || fail "an unsigned or forged notification"; pass; }

new_repo loop
mkdir -p data
gen data/train.csv 600 0 1 a,b
gen data/batch.csv 600 0 2 a,b
echo 0.93 > quality.txt   # what the next training's evaluation will say
cat > train.py <<'PY'
import csv, json
rows = list(csv.DictReader(open("data/train.csv"))) + list(csv.DictReader(open("data/batch.csv")))
c = round(sum(float(r["a"]) for r in rows) / len(rows), 3)
json.dump({"format": "mlo-linear", "version": 1, "task": "regression", "features": ["a", "b"],
           "coef": [c, 1.0], "intercept": 0}, open("model.json", "w"))
json.dump({"acc": float(open("quality.txt").read())}, open("metrics.json", "w"))
PY
{ loop_yaml "/usr/bin/python3 train.py" "train.py, data/train.csv, data/batch.csv, quality.txt" 0.9; cat <<YAML
monitors:
  prod:
    reference: data/train.csv
    current: data/batch.csv
triggers:
  drifted:
    drift: prod
    action: {run: [train], register: clf, propose: production}
  nightly:
    schedule: "0 3 * * *"
    action: {run: [train], register: clf}
deployments:
  prod:
    thresholds: {max_error_rate: 0.2, min_requests: 20}
notify:
  ops:
    type: webhook
    url: http://127.0.0.1:$PORT/hook
    secret_env: MLO_LOOP_SECRET
    cooldown: 0s   # every new drift is news in this test
YAML
} > mlo.yaml
expect_ok data add data/train.csv
git add -A && git commit -qm loop
expect_ok run -q
expect_ok register clf --stage train
expect_ok promote clf@v0.0.1 --to production
expect_ok deploy 'clf#production' --env prod
port=$(router_port prod)
infer_many "$port" 20 "$TEST_TMP/v1.txt" clf
expect_eq "$(count_version "$TEST_TMP/v1.txt" v0.0.1)" 20 "v0.0.1 serves"

# no drift (and the nightly period already handled): nothing runs, nothing is sent
expect_ok --json triggers check --act --now 2026-12-04T02:00:00Z --trigger drifted
expect_json "d['decisions'][0]['state'] == 'not-due'"
expect_eq "$(events)" "" "notifications without drift"
expect_rc 3 models show clf@v0.0.2

# drift and a better model: retrained, registered, promoted through the gate
gen data/batch.csv 600 1 3 a,b
echo 0.95 > quality.txt
expect_ok --json triggers check --act --trigger drifted
expect_json "d['decisions'][0]['state'] == 'done' and d['decisions'][0]['outcome']['version'] == 'clf@v0.0.2'"
expect_ok --json models show 'clf#production'
expect_json "d['version'] == 'v0.0.2'"
expect_eq "$(events)" "drift trigger" "notifications after a promotion"
all_signed
expect_ok deploy 'clf#production' --env prod
infer_many "$port" 20 "$TEST_TMP/v2.txt" clf
expect_eq "$(count_version "$TEST_TMP/v2.txt" v0.0.2)" 20 "v0.0.2 serves"

# drift and a worse model: registered, refused by the gate (exit 1), production unchanged
gen data/batch.csv 600 2 4 a,b
echo 0.70 > quality.txt
expect_rc 1 --json triggers check --act --trigger drifted
expect_json "d['decisions'][0]['state'] == 'refused' and d['decisions'][0]['outcome']['version'] == 'clf@v0.0.3'"
expect_ok --json models show 'clf#production'
expect_json "d['version'] == 'v0.0.2'"
expect_eq "$(events)" "drift trigger drift gate_refused trigger" "notifications after a refusal"
all_signed

# the refused version tried as a canary anyway, on a runner that fails: the router rolls it back
fault_runner failing.sh error
expect_ok deploy clf@v0.0.3 --env prod --runner ./failing.sh --strategy canary --weight 50
infer_many "$port" 200 "$TEST_TMP/canary.txt" clf
for _ in $(seq 50); do [[ "$(events)" == *auto_rollback* ]] && break; sleep 0.1; done
expect_ok --json deploy status prod
expect_json "[v['role'] for v in d['versions']] == ['primary'] and d['versions'][0]['version'] == 'v0.0.2'"
expect_eq "$(events)" "drift trigger drift gate_refused trigger auto_rollback" "notifications after a rollback"
all_signed
$PY -c "
import json,sys; e=[json.loads(l) for l in open(sys.argv[1])][-1]['body']
assert e['subject']=='prod' and e['detail']['version']=='v0.0.3' and 'error rate' in e['detail']['reason'], e" "$RECEIVED" \
  || fail "the rollback notification lacks its evidence"; pass

# every decision is on record: trigger history, audit, deploy history
expect_ok --json triggers history drifted
# Both claims can fall in one second (history's time resolution): compare
# the decisions, not their order.
expect_json "sorted(x['state'] for x in d['decisions']) == ['done', 'refused']"
expect_ok audit
expect_out_contains "[trigger]"
expect_out_contains "auto-rollback"
done_testing
