# Deployment: serve the registered production model (the scikit-learn churn
# classifier, through the mlo-serve-sklearn inference runner) behind mlo's
# router, send traffic, canary the retrained version, promote it, roll back,
# and stop (no process is left behind; the request log stays for the monitor
# step).
step "Deploy churn#production locally behind mlo's router"
cd "$DEMO_DIR/project"
say mlo deploy 'churn#production' --env production
url=$(mlo --json deploy status production | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
say curl -s "$url/v2/health/ready"; echo
say curl -s "$url/v2/models/churn"; echo
# Two customers from the held-out test set, as MLflow's dataframe_split and as
# an Open Inference Protocol tensor request.
row1='[34, 64.44, 1, 0, 1, 0, 1, 0, 0]'
row2='[2, 99.1, 5, 1, 0, 0, 0, 1, 0]'
columns='["tenure","monthly_charges","support_calls","contract_month","contract_two-year","contract_year","internet_dsl","internet_fiber","internet_none"]'
say curl -s -H 'Content-Type: application/json' \
  -d "{\"dataframe_split\":{\"columns\":$columns,\"data\":[$row1,$row2]}}" "$url/invocations"; echo
say curl -s -H 'Content-Type: application/json' \
  -d "{\"inputs\":[{\"name\":\"input-0\",\"shape\":[1,9],\"datatype\":\"FP64\",\"data\":$row1}]}" "$url/v2/models/churn/infer"; echo

# Replays rows of the test set as one-row requests (dataframe_records).
send_traffic() {
  /usr/bin/python3 - "$url" "$1" <<'PY'
import csv, json, sys, urllib.request
url, n = sys.argv[1], int(sys.argv[2])
rows = [r for r in csv.DictReader(open("data/prepared/test.csv"))]
for i in range(n):
    row = {k: float(v) for k, v in rows[i % len(rows)].items() if k != "churn"}
    body = json.dumps({"dataframe_records": [row]}).encode()
    req = urllib.request.Request(url + "/invocations", body, {"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
PY
}
send_traffic 100

step "Canary: 20% of requests to the retrained version"
say mlo deploy churn@v1.1.0 --env production --strategy canary --weight 20
send_traffic 300
say mlo deploy status production

step "Promote the canary, then roll back"
say mlo deploy promote production
send_traffic 30
say mlo deploy rollback production
send_traffic 30
say mlo deploy status production
say mlo deploy history production
say sh -c "tail -n 1 .mlo/deploy/production/requests.jsonl | cut -c1-300"

step "Stop the deployment (router and runners)"
say mlo deploy stop production
