#!/usr/bin/env bash
# Probabilities reach monitoring (issue 23): a scikit-learn classifier served
# through the router logs predict_proba with its class order, mlo monitor
# reads it as one column per class (predict_proba_CLASS, the names
# `--target batch --outputs predict_proba` writes), and tests each class's
# score for drift against batch-scored reference data.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"
/usr/bin/python3 -c 'import sklearn, joblib, pandas' 2>/dev/null ||
  fail "python3-sklearn, python3-joblib and python3-pandas are needed (.ci/debian-packages.txt)"

new_repo
# The classifier, reference data, and two batches of traffic: one like the
# reference, one where tenure moved up by 1.5 (so the churn score moves).
/usr/bin/python3 - <<'PY' || fail "fitting the model"
import joblib, numpy as np, pandas as pd
from sklearn.ensemble import GradientBoostingClassifier
rng = np.random.default_rng(11)
cols = ["tenure", "spend", "calls"]
X = pd.DataFrame(rng.normal(size=(400, 3)), columns=cols)
joblib.dump(GradientBoostingClassifier(n_estimators=20, random_state=0).fit(X, np.where(X.tenure + X.spend > 0, "churn", "stay")), "churn.joblib")
pd.DataFrame(rng.normal(size=(400, 3)), columns=cols).round(4).to_csv("ref.csv", index=False)
pd.DataFrame(rng.normal(size=(200, 3)), columns=cols).round(4).to_csv("same.csv", index=False)
moved = pd.DataFrame(rng.normal(size=(200, 3)), columns=cols)
moved["tenure"] += 1.5
moved.round(4).to_csv("moved.csv", index=False)
PY
pass
expect_ok deploy churn@1 --artifact churn.joblib --env nightly --target batch --input ref.csv --output ref_scored.csv \
  --outputs predict_proba
expect_eq "$(head -1 ref_scored.csv)" "tenure,spend,calls,predict_proba_churn,predict_proba_stay" "batch columns"

cat >mlo.yaml <<'EOF'
deployments:
  prod:
    serving: {workers: 1}
EOF
expect_ok deploy churn@1 --artifact churn.joblib --env prod
port=$(router_port prod)
# send CSV [mlflow]: its rows, 4 a request (one tensor per feature), asking for
# predict and predict_proba; with mlflow, MLflow's dataframe_split and
# params.predict_method predict_proba on /invocations (an answer with no class order).
send() {
  /usr/bin/python3 - "$port" "$1" "${2:-}" <<'PY'
import csv, http.client, json, sys
table = list(csv.reader(open(sys.argv[2])))
names, rows = table[0], [[float(v) for v in r] for r in table[1:]]
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=60)
for i in range(0, len(rows), 4):
    part = rows[i:i + 4]
    body = {"inputs": [{"name": n, "shape": [len(part)], "datatype": "FP64", "data": [r[j] for r in part]}
                       for j, n in enumerate(names)],
            "outputs": [{"name": "predict"}, {"name": "predict_proba"}]}
    path = "/v2/models/churn/infer"
    if sys.argv[3] == "mlflow":
        body = {"dataframe_split": {"columns": names, "data": part}, "params": {"predict_method": "predict_proba"}}
        path = "/invocations"
    c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    assert r.status == 200, r.read()
    r.read()
PY
}
send same.csv || fail "sending the first traffic"
send moved.csv || fail "sending the second traffic"
send same.csv mlflow || fail "sending MLflow traffic"
pass
expect_ok deploy stop prod
log=.mlo/deploy/prod/requests.jsonl
expect_eq "$(wc -l <"$log")" 150 "one log line per request"
head -n 50 "$log" >same.jsonl
sed -n 51,100p "$log" >moved.jsonl
tail -n 50 "$log" >mlflow.jsonl
# classes_logged FILE: how many lines carry the class order at their top level.
classes_logged() {
  /usr/bin/python3 -c 'import json, sys; print(sum(json.loads(l).get("classes") == ["churn", "stay"] for l in open(sys.argv[1])))' "$1"
}
expect_eq "$(classes_logged mlflow.jsonl)" 50 "MLflow lines with the class order"
expect_eq "$(classes_logged same.jsonl)" 0 "v2 lines with a class order beside the tensors' own"

# drifted COLUMN True|False: the last --json output tested COLUMN once, with that verdict.
drifted() {
  expect_json "[m['result']['drift_detected'] for m in d['metrics']
    if m.get('metric') == 'ColumnDriftMetric' and m['result'].get('column_name') == '$1'] == [$2]"
}
expect_ok --json monitor --reference ref_scored.csv -c same.jsonl --no-record
expect_json "d['current']['rows'] == 200"
drifted predict_proba_churn False
drifted predict_proba_stay False
expect_rc 1 --json monitor --reference ref_scored.csv -c moved.jsonl --no-record --fail-on drift
drifted predict_proba_churn True
drifted predict_proba_stay True
drifted tenure True
# MLflow answers carry no class order: the router logs the runner's beside
# them, so their columns are named by class too (numbered before).
expect_ok --json monitor --reference ref_scored.csv -c mlflow.jsonl --no-record
expect_json "d['current']['rows'] == 200"
drifted predict_proba_churn False
drifted predict_proba_stay False
# Against training-like data without scores, the served score columns are
# serving fields, not a schema change.
expect_ok monitor --reference ref.csv -c same.jsonl --no-record --fail-on quality
expect_out_not_contains "in the current data, not in the reference"
done_testing
