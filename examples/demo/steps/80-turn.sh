# One full turn of the loop, unattended: production serves with a canary;
# every request carries an id; after 150 requests the world changes
# (customers paying over 70 a month now churn); their outcomes arrive later and join the served
# predictions by id; accuracy decays; a performance trigger retrains on the
# labelled traffic and registers the new version; an A/B experiment with a
# planned sample size judges it against production, and its verdict promotes
# or rolls back. The webhook hears of each decision.
step "One unattended turn: canary, late labels, decay, retraining, A/B verdict"
cd "$DEMO_DIR/project"
: > "$DEMO_DIR/hook.log"
start_demo_hook
mkdir -p feedback "$DEMO_DIR/later"
sed -i 's|deps: \[src/train.py, data/prepared\]|deps: [src/train.py, data/prepared, feedback/sent.csv, feedback/labels.csv]|' mlo.yaml
cat >> mlo.yaml <<YAML
notify:
  ops: {type: webhook, url: "$HOOK_URL", secret_env: MLO_DEMO_SECRET}
deployments:
  live:
    thresholds: {max_error_rate: 0.2, min_requests: 20}
triggers:
  decay:
    performance: {env: live, metric: accuracy, below: 0.7}
    action: {run: [train], register: churn}
YAML

# turn_traffic FIRST COUNT: the application sends test rows FIRST.. as
# requests t00000.. (customer c<row>, the A/B's sticky key) and keeps what it
# sent (feedback/sent.csv); the outcome each request will have, in the world
# after the change, waits in $DEMO_DIR/later until it "arrives".
turn_traffic() {
  /usr/bin/python3 - "$url" "$1" "$2" "$DEMO_DIR/later/labels.csv" <<'PY'
import csv, json, os, sys, urllib.request
url, first, count, later = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rows = list(csv.DictReader(open("data/prepared/test.csv")))
features = [k for k in rows[0] if k != "churn"]
new_sent, new_later = not os.path.exists("feedback/sent.csv"), not os.path.exists(later)
sent, out = open("feedback/sent.csv", "a"), open(later, "a")
if new_sent: sent.write(",".join(["request_id"] + features) + "\n")
if new_later: out.write("request_id,churn,correct\n")
for i in range(first, first + count):
    row, rid = rows[i % len(rows)], f"t{i:05d}"
    body = json.dumps({"dataframe_records": [{k: float(row[k]) for k in features}]}).encode()
    req = urllib.request.Request(url + "/invocations", body, {"Content-Type": "application/json",
                                 "X-Request-Id": rid, "X-Customer": f"c{i}"})
    pred = json.load(urllib.request.urlopen(req))["predictions"][0]
    changed = i >= 150 and float(row["monthly_charges"]) > 70   # the world changes after request 150
    churn = 1 if changed else int(row["churn"])
    sent.write(rid + "," + ",".join(row[k] for k in features) + "\n")
    out.write(f"{rid},{churn},{int(pred == churn)}\n")
PY
  sleep 0.3  # the router writes its request log every 100 ms
}
say mlo deploy 'churn#production' --env live -q
url=$(mlo --json deploy status live | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
say mlo deploy churn@v1.1.0 --env live --strategy canary --weight 20 -q
# Each batch in its own 2-second window of the labels' report (a day in real life).
next_window() { sleep "$(/usr/bin/python3 -c 'import time; print(2.05 - time.time() % 2)')"; }
next_window; turn_traffic 0 150
next_window; turn_traffic 150 150
say mlo deploy status live
say sh -c "tail -n 1 .mlo/deploy/live/requests.jsonl | cut -c1-150"

step "Outcomes arrive days later (here: now); joined to the served predictions by request id"
cp "$DEMO_DIR/later/labels.csv" feedback/labels.csv
say mlo monitor labels live --from feedback/labels.csv --target churn --window 2s

step "The decay trigger fires: retrain on the labelled traffic, register the new version"
say mlo triggers check --act || true

step "A/B: the retrained version against production, sample size planned up front"
say mlo deploy churn@latest --env live --strategy ab --split 50 --sticky-key X-Customer -q
say mlo deploy experiment plan --env live --metric correct --baseline 0.55 --mde 0.15
rm "$DEMO_DIR/later/labels.csv"
turn_traffic 300 500
cp "$DEMO_DIR/later/labels.csv" feedback/outcomes.csv
if say mlo deploy experiment status live --metric correct --from feedback/outcomes.csv &&
   mlo --json deploy experiment status live --metric correct --from feedback/outcomes.csv | grep -q '"B is better"'; then
  say mlo deploy promote live
else
  say mlo deploy rollback live
fi
say mlo deploy history live
say cat "$DEMO_DIR/hook.log"
mlo -q deploy stop live
kill "$HOOK_PID" 2>/dev/null || true
git checkout -q mlo.yaml
rm -rf feedback   # later steps train as the pipeline declares
