#!/usr/bin/env bash
# Every runner speaks the Open Inference Protocol REST API and MLflow's
# scoring server the same way, directly and through the router
# (serve_conformance.py: every route and error case, every output by name);
# the router forwards 64 concurrent connections without mixing answers, keeps
# one request-log line per request with adaptive batching on, and answers 503
# when a runner's in-flight limit and queue are full; --target batch writes
# the requested outputs' columns.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"

CHECK=("/usr/bin/python3" "$MLO_SOURCE_DIR/tests/cli/serve_conformance.py")
SKLEARN="$MLO_SOURCE_DIR/examples/serving/mlo-serve-sklearn"
/usr/bin/python3 -c 'import sklearn, joblib, pandas' 2>/dev/null ||
  fail "python3-sklearn, python3-joblib and python3-pandas are needed (.ci/debian-packages.txt)"

# Adaptive batching merges concurrent requests into fewer model calls and
# splits the answers back, each to its own request.
out=$(/usr/bin/python3 - "$SKLEARN" <<'PY' 2>&1
import importlib.machinery, importlib.util, sys, threading, time
import numpy as np
loader = importlib.machinery.SourceFileLoader("runner", sys.argv[1])
r = importlib.util.module_from_spec(importlib.util.spec_from_loader("runner", loader))
loader.exec_module(r)
class Counting:
    calls, rows = 0, []
    def compute(self, rows, names):
        time.sleep(0.01)  # requests that arrive meanwhile queue: merging does not hang on timing
        Counting.calls += 1
        Counting.rows.append(len(rows))
        x = np.asarray(rows, dtype=float)
        return {"predict": x.sum(axis=1), "predict_proba": np.stack([x[:, 0], -x[:, 0]], axis=1)}
b = r.Batcher(Counting(), 16, 50)
got, start = {}, threading.Barrier(40)
def ask(k):
    start.wait()
    rows = [[k, 1.0]] * (1 + k % 3)
    got[k] = b.compute(rows, ["predict_proba"] if k % 2 else ["predict"])
threads = [threading.Thread(target=ask, args=(k,)) for k in range(40)]
[t.start() for t in threads]
[t.join() for t in threads]
for k, res in got.items():
    n = 1 + k % 3
    if k % 2:
        assert list(res) == ["predict_proba"] and res["predict_proba"].tolist() == [[k, -k]] * n, (k, res)
    else:
        assert list(res) == ["predict"] and res["predict"].tolist() == [k + 1.0] * n, (k, res)
assert len(got) == 40 and Counting.calls < 40 and max(Counting.rows) <= 16, (Counting.calls, Counting.rows)
print("40 concurrent requests, %d model calls (rows per call: %s)" % (Counting.calls, Counting.rows))
# A lone request on an idle model is computed at once, not held max_batch_time
# (60 s here; the old batcher held it that long).
lone, got = r.Batcher(Counting(), 16, 60000), {}
t = threading.Thread(target=lambda: got.update(lone.compute([[1.0, 2.0]], ["predict"])), daemon=True)
t.start()
t.join(20)
assert not t.is_alive() and got["predict"].tolist() == [3.0], "a lone request was held"
PY
) || fail "batching: $out"
echo "$out"; pass

new_repo
# A 3-class mlo-linear classifier with string labels, and a regressor.
cat >clf.json <<'EOF'
{"format":"mlo-linear","version":1,"task":"classification","features":["a","b"],
 "coef":[[1,0],[0,1],[-1,-1]],"intercept":[0,0.5,0],"classes":["red","green","blue"]}
EOF
linear_model reg.json 2
# scikit-learn: a classifier fitted on a DataFrame (named features, string
# labels) and an exact linear regression (answers checkable by arithmetic).
/usr/bin/python3 - <<'PY' || fail "fitting the scikit-learn models"
import joblib, numpy as np, pandas as pd
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LinearRegression
rng = np.random.default_rng(7)
X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["tenure", "spend", "calls"])
joblib.dump(GradientBoostingClassifier(n_estimators=20, random_state=0).fit(X, np.where(X.tenure + X.spend > 0, "churn", "stay")), "churn.joblib")
A = rng.normal(size=(50, 2))
joblib.dump(LinearRegression().fit(A, 3 * A[:, 0] - A[:, 1]), "lin.joblib")
PY
pass

# start_runner EXE NAME ARTIFACT [SERVE_JSON]: starts a runner on a free port;
# sets RUNNER_PID and RUNNER_PORT.
start_runner() {
  local spec="$TEST_TMP/$2.spec.json" log="$TEST_TMP/$2.log"
  printf '{"version":1,"mode":"serve","model":{"name":"%s","version":"1","artifact":"%s"},"serve":%s}\n' \
    "$2" "$(readlink -f "$3")" "${4:-{\"port\":0\}}" >"$spec"
  "$1" --spec "$spec" >"$log" 2>&1 &
  RUNNER_PID=$!
  for _ in $(seq 300); do
    RUNNER_PORT=$(sed -n 's/^mlo-inference-runner ready port=//p' "$log")
    [ -n "$RUNNER_PORT" ] && return 0
    kill -0 "$RUNNER_PID" 2>/dev/null || break
    sleep 0.1
  done
  fail "runner $2 did not start: $(cat "$log")"
}

# Directly: each runner and model kind.
start_runner "$NATIVE" clf clf.json
out=$("${CHECK[@]}" "127.0.0.1:$RUNNER_PORT" clf 1 a,b '[[1,0.2],[0,2],[-3,-1]]') || fail "native classifier: $out"
echo "native classifier: $out"; pass
kill "$RUNNER_PID"
start_runner "$NATIVE" reg reg.json
out=$("${CHECK[@]}" "127.0.0.1:$RUNNER_PORT" reg 1 a,b '[[1,2],[3,4]]') || fail "native regressor: $out"
echo "native regressor: $out"; pass
kill "$RUNNER_PID"
start_runner "$SKLEARN" churn churn.joblib '{"port":0,"workers":2}'
out=$("${CHECK[@]}" "127.0.0.1:$RUNNER_PORT" churn 1 tenure,spend,calls '[[1,2,0],[-1,-0.5,3],[0.1,0,0]]') ||
  fail "sklearn classifier: $out"
echo "sklearn classifier: $out"; pass
# Two worker processes share the port (SO_REUSEPORT).
workers=$(pgrep -P "$RUNNER_PID" | wc -l)
[ "$workers" -eq 2 ] || fail "expected 2 worker processes under the sklearn runner, found $workers"; pass
kill "$RUNNER_PID"
wait "$RUNNER_PID" 2>/dev/null
for _ in $(seq 50); do pgrep -f "churn.spec.json" >/dev/null || break; sleep 0.1; done
pgrep -f "$TEST_TMP/churn.spec.json" >/dev/null && fail "sklearn workers outlived SIGTERM"; pass

# fire40 HOST:PORT MODEL F OUT: 40 clients connect, then all send at once a
# request of their own (1 to 3 unique rows of F features; predict,
# predict_proba or both); OUT gets each one's outputs, in client order.
fire40() {
  /usr/bin/python3 - "$@" <<'PY'
import http.client, json, sys, threading
addr, model, F, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
host, port = addr.split(":")
asks = [["predict"], ["predict_proba"], ["predict_proba", "predict"]]
conns = [http.client.HTTPConnection(host, int(port), timeout=60) for _ in range(40)]
for c in conns:
    c.connect()
go, got, bad = threading.Barrier(40), {}, []
def client(k):
    rows = [[k * 0.1 - 2 + j] + [0.5 - k * 0.05 * f for f in range(1, F)] for j in range(1 + k % 3)]
    body = {"id": str(k), "inputs": [{"name": "x", "shape": [len(rows), F], "datatype": "FP64", "data": rows}],
            "outputs": [{"name": n} for n in asks[k % 3]]}
    go.wait()
    conns[k].request("POST", "/v2/models/%s/infer" % model, json.dumps(body), {"Content-Type": "application/json"})
    r = conns[k].getresponse()
    doc = json.loads(r.read())
    if r.status != 200 or doc.get("id") != str(k) or [t["name"] for t in doc["outputs"]] != asks[k % 3]:
        bad.append((k, r.status, doc))
    got[k] = doc.get("outputs")
threads = [threading.Thread(target=client, args=(k,)) for k in range(40)]
[t.start() for t in threads]
[t.join() for t in threads]
assert not bad, bad[:3]
json.dump([got[k] for k in range(40)], open(out, "w"), sort_keys=True)
PY
}
# same_answers A B: the outputs in A and B are the same, to the last bit.
same_answers() {
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
bad = [k for k in range(len(a)) if a[k] != b[k]]
assert len(a) == len(b) == 40 and not bad, ("differ at", bad[:5], a[bad[0]] if bad else None, b[bad[0]] if bad else None)
PY
}
# batch_counts RUNNER LOG...: "REQUESTS CALLS" summed over the lines the
# runner (each of its workers) printed when it stopped.
batch_counts() {
  local who=$1; shift
  sed -n "s/^$who: \([0-9]*\) requests in \([0-9]*\) model calls.*/\1 \2/p" "$@" | awk '{r += $1; c += $2} END {print r + 0, c + 0}'
}
# stop_runner: SIGTERM, then its exit status in RUNNER_RC.
stop_runner() {
  kill "$RUNNER_PID"
  RUNNER_RC=0
  wait "$RUNNER_PID" || RUNNER_RC=$?
}

# Adaptive batching and worker processes, in both runners: 40 requests at
# once get the answers they get unbatched, in far fewer model calls (each
# runner prints its counts when it stops). Batching is continuous: a request
# that finds the model idle goes at once, so on a fast model merging depends
# on timing; model-delay makes each model call take 30 ms, and the requests
# that arrive meanwhile must be merged, whatever the machine's load.
BATCHING='{"port":0,"workers":2,"max_batch_size":64,"max_batch_time_ms":200}'
start_runner "$NATIVE" clf clf.json
fire40 "127.0.0.1:$RUNNER_PORT" clf 2 native_plain.json || fail "native, unbatched: 40 requests"
stop_runner
MLO_SERVE_FAULT=model-delay=30 start_runner "$NATIVE" clf clf.json "$BATCHING"
workers=$(pgrep -P "$RUNNER_PID" | wc -l)
[ "$workers" -eq 2 ] || fail "expected 2 worker processes under the native runner, found $workers"; pass
fire40 "127.0.0.1:$RUNNER_PORT" clf 2 native_batched.json || fail "native, batched: 40 requests"
out=$(same_answers native_plain.json native_batched.json 2>&1) || fail "native: batched answers differ: $out"; pass
stop_runner
expect_eq "$RUNNER_RC" 0 "native runner's exit status after SIGTERM"
read -r n calls < <(batch_counts mlo-serve-native "$TEST_TMP/clf.log")
echo "native, 2 workers: $n requests in $calls model calls"
[ "$n" -eq 40 ] && [ "$calls" -le 20 ] || fail "native: $n requests in $calls model calls: $(cat "$TEST_TMP/clf.log")"; pass
start_runner "$SKLEARN" churn churn.joblib '{"port":0,"workers":1}'
fire40 "127.0.0.1:$RUNNER_PORT" churn 3 sk_plain.json || fail "sklearn, unbatched: 40 requests"
stop_runner
MLO_SERVE_FAULT=model-delay=30 start_runner "$SKLEARN" churn churn.joblib "$BATCHING"
fire40 "127.0.0.1:$RUNNER_PORT" churn 3 sk_batched.json || fail "sklearn, batched: 40 requests"
out=$(same_answers sk_plain.json sk_batched.json 2>&1) || fail "sklearn: batched answers differ: $out"; pass
stop_runner
read -r n calls < <(batch_counts mlo-serve-sklearn "$TEST_TMP/churn.log")
echo "sklearn, 2 workers: $n requests in $calls model calls"
[ "$n" -eq 40 ] && [ "$calls" -le 20 ] || fail "sklearn: $n requests in $calls model calls: $(cat "$TEST_TMP/churn.log")"; pass
# A worker that dies stops the runner (exit 1), so the router restarts it whole.
start_runner "$NATIVE" clf clf.json '{"port":0,"workers":2}'
victim=$(pgrep -P "$RUNNER_PID" | head -1)
kill -9 "$victim"
wait "$RUNNER_PID"; rc=$?
expect_eq "$rc" 1 "native runner's exit status after a worker was killed"
grep -q "worker process $victim was killed by signal 9; stopping every worker" "$TEST_TMP/clf.log" ||
  fail "the runner did not say why it stopped: $(cat "$TEST_TMP/clf.log")"; pass
pgrep -f "$TEST_TMP/clf.spec.json" >/dev/null && fail "a native worker outlived its runner"; pass

# Through the router, with adaptive batching and two workers from mlo.yaml.
cat >mlo.yaml <<'EOF'
deployments:
  conf:
    serving: {workers: 2, max_batch_size: 32, max_batch_time_ms: 2}
  busy:
    serving: {max_inflight: 1, max_queue: 1}
EOF
expect_ok deploy churn@1 --artifact churn.joblib --env conf
port=$(router_port conf)
out=$("${CHECK[@]}" "127.0.0.1:$port" churn 1 tenure,spend,calls '[[1,2,0],[-1,-0.5,3],[0.1,0,0]]') ||
  fail "sklearn through the router: $out"
echo "sklearn through the router: $out"; pass
grep -q '"max_batch_size": 32' .mlo/deploy/conf/runner-*.spec.json || fail "serving settings not in the runner's spec"; pass
# Probabilities asked for are in the request log (what monitor reads).
curl -s -H 'Content-Type: application/json' \
  -d '{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP64","data":[1,2,0]}],"outputs":[{"name":"predict_proba"}]}' \
  "http://127.0.0.1:$port/v2/models/churn/infer" >/dev/null
sleep 0.5
tail -1 .mlo/deploy/conf/requests.jsonl | /usr/bin/python3 -c '
import json, sys
rec = json.loads(sys.stdin.read())
t = rec["outputs"]["outputs"][0]
assert t["name"] == "predict_proba" and len(t["data"][0]) == 2 and abs(sum(t["data"][0]) - 1) < 1e-9, rec' ||
  fail "probabilities not in the request log"; pass

expect_ok deploy lin@1 --artifact lin.joblib --env conf
# 64 connections at once, 10 requests each, every row unique: each answer must
# be its own row's (3a - b), batched or not; one log line per request.
lines_before=$(wc -l <.mlo/deploy/conf/requests.jsonl)
out=$(/usr/bin/python3 - "$port" <<'PY' 2>&1
import http.client, json, sys, threading
port, bad, done = int(sys.argv[1]), [], []
def client(k):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for i in range(10):
        a, b = k + i / 10.0, k * 0.5 - i
        body = json.dumps({"id": "%d-%d" % (k, i), "inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [a, b]}]})
        c.request("POST", "/v2/models/lin/infer", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        doc = json.loads(r.read())
        if r.status != 200 or doc.get("id") != "%d-%d" % (k, i) or abs(doc["outputs"][0]["data"][0] - (3 * a - b)) > 1e-6:
            bad.append((k, i, r.status, doc))
        done.append(1)
threads = [threading.Thread(target=client, args=(k,)) for k in range(64)]
[t.start() for t in threads]
[t.join() for t in threads]
assert not bad, bad[:3]
print("%d answers, each its own" % len(done))
PY
) || fail "64 concurrent connections: $out"
echo "$out"; pass
sleep 0.5  # the request log is written every 100 ms
lines=$(( $(wc -l <.mlo/deploy/conf/requests.jsonl) - lines_before ))
[ "$lines" -eq 640 ] || fail "expected 640 request-log lines, found $lines"; pass
# The native runner through the router, and a full runner: 503, not a hang.
expect_ok deploy clf@1 --artifact clf.json --env conf
out=$("${CHECK[@]}" "127.0.0.1:$port" clf 1 a,b '[[1,0.2],[0,2],[-3,-1]]') || fail "native through the router: $out"
echo "native through the router: $out"; pass
# Batching through the router: the same 40 at once, the same answers as the
# runners gave unbatched; each runner's counts are in its log once it stops
# (churn's when clf replaces it, clf's at stop). The router, started by the
# first deploy, passes model-delay (see above) to both runners it starts.
cat >>mlo.yaml <<'EOF'
  batched:
    serving: {workers: 2, max_batch_size: 64, max_batch_time_ms: 200}
EOF
MLO_SERVE_FAULT=model-delay=30 expect_ok deploy churn@1 --artifact churn.joblib --env batched
bport=$(router_port batched)
fire40 "127.0.0.1:$bport" churn 3 sk_routed.json || fail "sklearn through the router: 40 requests"
out=$(same_answers sk_plain.json sk_routed.json 2>&1) || fail "sklearn through the router: answers differ: $out"; pass
expect_ok deploy clf@1 --artifact clf.json --env batched
fire40 "127.0.0.1:$bport" clf 2 native_routed.json || fail "native through the router: 40 requests"
out=$(same_answers native_plain.json native_routed.json 2>&1) || fail "native through the router: answers differ: $out"; pass
expect_ok --json deploy status batched
expect_json "d['versions'][0]['restarts'] == 0"
expect_ok deploy stop batched
for who in mlo-serve-sklearn mlo-serve-native; do
  read -r n calls < <(batch_counts "$who" .mlo/deploy/batched/runner-*.log)
  echo "$who through the router, 2 workers: $n requests in $calls model calls"
  [ "$n" -eq 40 ] && [ "$calls" -le 20 ] || fail "$who through the router: $n requests in $calls model calls"; pass
done
fault_runner slow.sh delay=400
expect_ok deploy clf@1 --artifact clf.json --env busy --runner "$PWD/slow.sh"
bport=$(router_port busy)
out=$(/usr/bin/python3 - "$bport" <<'PY' 2>&1
import http.client, json, sys, threading
port, got = int(sys.argv[1]), []
body = json.dumps({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}]})
def client():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", "/v2/models/clf/infer", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    got.append((r.status, json.loads(r.read()), r.getheader("Retry-After")))
threads = [threading.Thread(target=client) for _ in range(6)]
[t.start() for t in threads]
[t.join() for t in threads]
codes = sorted(s for s, _, _ in got)
assert len(got) == 6 and codes.count(200) >= 2 and codes.count(503) >= 1 and set(codes) <= {200, 503}, got
busy = [d for s, d, _ in got if s == 503]
assert all("busy" in d["error"] and "max_inflight" in d["error"] for d in busy), busy
assert all(ra == "1" for s, _, ra in got if s == 503), got
print("6 concurrent requests at max_inflight 1, max_queue 1: %s" % codes)
PY
) || fail "503 when full: $out"
echo "$out"; pass
expect_ok deploy status busy

# --target batch --outputs: probability columns named by class.
printf 'a,b\n1,0.2\n-3,-1\n' >in.csv
expect_ok --json deploy clf@1 --artifact clf.json --env nightly --target batch --input in.csv --output p.csv \
  --outputs predict,predict_proba
expect_eq "$(head -1 p.csv)" "a,b,prediction,predict_proba_red,predict_proba_green,predict_proba_blue" "native batch header"
/usr/bin/python3 -c '
import csv
rows = list(csv.DictReader(open("p.csv")))
assert [r["prediction"] for r in rows] == ["red", "blue"], rows
assert all(abs(sum(float(r["predict_proba_" + c]) for c in ("red", "green", "blue")) - 1) < 1e-9 for r in rows), rows' ||
  fail "native batch probabilities"; pass
printf 'tenure,spend,calls\n1,2,0\n-1,-0.5,3\n' >churn.csv
expect_ok deploy churn@1 --artifact churn.joblib --env nightly --target batch --input churn.csv --output c.csv \
  --outputs predict_proba
expect_eq "$(head -1 c.csv)" "tenure,spend,calls,predict_proba_churn,predict_proba_stay" "sklearn batch header"
expect_rc 5 deploy clf@1 --artifact clf.json --env nightly --target batch --input in.csv --output q.csv --outputs nope
expect_err_contains "no output"
expect_rc 2 deploy clf@1 --artifact clf.json --env conf --outputs predict_proba
expect_err_contains "--outputs applies to --target batch"
done_testing
