#!/usr/bin/env bash
# Serving benchmark for the scikit-learn runner (issue 23): a gradient-boosting
# churn classifier, one-row OIP infer requests, wrk in alternation: direct to
# the runner against through mlo's router, adaptive batching off against on,
# at 1 (latency), 16 and 64 connections. Prints medians of RUNS runs with the
# load average and the runner workers' CPU (user + system) per request, and
# fails loudly when a one-connection p50 is near the 40 ms delayed-ACK stall.
# RUNNER=PATH measures another runner (e.g. an older copy, for before/after).
# Not a test.
#   MLO=build/mlo bash tests/bench/serve_sklearn.sh   (RUNS=3 DURATION=5 WORKERS=cores)
set -euo pipefail
source "$(dirname "$0")/lib_wrk.sh"
: "${MLO:?MLO must point at the built mlo}"
MLO=$(readlink -f "$MLO")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-3}; DURATION=${DURATION:-5}; WORKERS=${WORKERS:-$(nproc)}
BATCH=${BATCH:-32}; BATCH_MS=${BATCH_MS:-2}
RUNNER=$(readlink -f "${RUNNER:-$SRC/examples/serving/mlo-serve-sklearn}")
command -v wrk >/dev/null || { echo "wrk is not installed (Debian package wrk)"; exit 1; }
/usr/bin/python3 -c 'import sklearn, pandas' || { echo "python3-sklearn and python3-pandas are needed"; exit 1; }
TMP=$(mktemp -d /tmp/mlo-bench-sklearn.XXXXXX)
cleanup() {
  (cd "$TMP/repo" 2>/dev/null && for e in plain batched; do "$MLO" deploy stop $e >/dev/null 2>&1 || true; done)
  rm -rf "$TMP"
}
trap cleanup EXIT
mkdir -p "$TMP/repo" && cd "$TMP/repo"
git init -q . && "$MLO" init -q
/usr/bin/python3 - <<'PY'
import joblib, numpy as np, pandas as pd
from sklearn.ensemble import GradientBoostingClassifier
rng = np.random.default_rng(0)
cols = ["tenure", "monthly", "total", "calls", "tickets", "age"]
X = pd.DataFrame(rng.normal(size=(2000, 6)), columns=cols)
y = np.where(X.tenure * 0.8 - X.tickets + rng.normal(size=2000) * 0.5 > 0, "stay", "churn")
joblib.dump(GradientBoostingClassifier(random_state=0).fit(X, y), "churn.joblib")
PY
cat >mlo.yaml <<EOF
deployments:
  plain:
    runner: $RUNNER
    serving: {workers: $WORKERS}
  batched:
    runner: $RUNNER
    serving: {workers: $WORKERS, max_batch_size: $BATCH, max_batch_time_ms: $BATCH_MS}
EOF
declare -A url pid
for e in plain batched; do
  "$MLO" deploy churn@1 --artifact churn.joblib --env $e -q
  st=$("$MLO" --json deploy status $e)
  url[$e-router]=$(printf '%s' "$st" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
  url[$e-direct]="http://127.0.0.1:$(printf '%s' "$st" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["versions"][0]["port"])')"
  pid[$e]=$(printf '%s' "$st" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["versions"][0]["pid"])')
done
# runner_ticks ENV: CPU clock ticks (user + system) of that runner's worker processes so far.
runner_ticks() {
  local t=0 w
  for w in $(pgrep -P "${pid[$1]}"); do t=$((t + $(cut -d' ' -f14,15 "/proc/$w/stat" | tr ' ' '+'))); done
  echo "$t"
}
cat >infer.lua <<'LUA'
wrk.method = "POST"
wrk.body = '{"inputs":[{"name":"x","shape":[1,6],"datatype":"FP64","data":[0.3,-1.2,0.5,2.0,0.1,-0.4]}],"outputs":[{"name":"predict_proba"}]}'
wrk.headers["Content-Type"] = "application/json"
LUA
for k in "${!url[@]}"; do curl -sf -H 'Content-Type: application/json' -d '{"inputs":[{"name":"x","shape":[1,6],"datatype":"FP64","data":[0,0,0,0,0,0]}]}' "${url[$k]}/v2/models/churn/infer" >/dev/null; done

# run URL CONNS -> "rps p50_ms p99_ms"
run() { wrk_stats "$(( $2 < 2 ? 1 : 2 ))" "$2" "$DURATION" infer.lua "$1/v2/models/churn/infer"; }
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
results=$TMP/results.txt
for i in $(seq "$RUNS"); do
  for conns in 1 16 64; do
    for path in plain-direct plain-router batched-direct batched-router; do
      t0=$(runner_ticks "${path%-*}")
      read -r a b c < <(run "${url[$path]}" "$conns")
      t1=$(runner_ticks "${path%-*}")
      echo "$path $conns $a $b $c $((t1 - t0))" >>"$results"
    done
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
/usr/bin/python3 - "$results" "$RUNS" "$DURATION" "$(nproc)" "$WORKERS" "$BATCH" "$BATCH_MS" "$load_before" "$load_after" "$(getconf CLK_TCK)" "$RUNNER" <<'PY'
import collections, statistics, sys
path, runs, dur, cores, workers, batch, batch_ms, lb, la, tck, runner = sys.argv[1:]
rows = collections.defaultdict(list)
for line in open(path):
    p, c, a, b, d, ticks = line.split()
    # CPU per request: the workers' ticks over the requests wrk counted (req/s x seconds).
    rows[(p, int(c))].append((float(a), float(b), float(d), int(ticks) / int(tck) * 1e6 / max(1.0, float(a) * float(dur))))
med = {k: [statistics.median(x[i] for x in v) for i in range(4)] for k, v in rows.items()}
print(f"sklearn serve benchmark: GradientBoostingClassifier (100 trees, 6 features), one-row OIP infer with predict_proba,")
print(f"wrk -t2 {dur}s per run, median of {runs} alternated runs, {cores} cores, {workers} runner workers,")
print(f"batching max_batch_size {batch} / max_batch_time_ms {batch_ms}; load average before {lb}, after {la}")
print(f"runner: {runner}")
print("| path | batching | connections | requests/s | p50 ms | p99 ms | runner CPU µs/request |")
print("|---|---|---:|---:|---:|---:|---:|")
for c in (1, 16, 64):
    for p in ("plain-direct", "plain-router", "batched-direct", "batched-router"):
        rps, p50, p99, cpu = med[(p, c)]
        kind, where = p.split("-")
        print(f"| {'runner direct' if where == 'direct' else 'through the router'} | {'on' if kind == 'batched' else 'off'} | {c} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {cpu:,.0f} |")
for c in (16, 64):
    for kind in ("plain", "batched"):
        d, r = med[(kind + "-direct", c)], med[(kind + "-router", c)]
        print(f"{kind}, {c} connections: router/direct throughput {r[0] / d[0]:.2f}x, added p99 {r[2] - d[2]:+.2f} ms")
    print(f"{c} connections through the router: batching on/off throughput {med[('batched-router', c)][0] / med[('plain-router', c)][0]:.2f}x")
stall = [(k, v[1]) for k, v in med.items() if k[1] == 1 and k[0].startswith("plain") and v[1] >= 30]
if stall:
    sys.exit(f"FAIL: one-connection p50 near the 40 ms delayed-ACK stall: {stall}")
PY
