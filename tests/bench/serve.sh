#!/usr/bin/env bash
# Serving benchmark: wrk against the native inference runner directly, then
# through mlo's router, on the same model and request (MLflow /invocations).
# Prints medians of RUNS runs and the router's added latency. Not a test.
#   MLO=build/mlo bash tests/bench/serve.sh   (RUNS=3 DURATION=5 CONNS=16)
set -euo pipefail
: "${MLO:?MLO must point at the built mlo}"
MLO=$(readlink -f "$MLO")
RUNS=${RUNS:-3}; DURATION=${DURATION:-5}; CONNS=${CONNS:-16}; THREADS=${THREADS:-1}
command -v wrk >/dev/null || { echo "wrk is not installed (Debian package wrk)"; exit 1; }
TMP=$(mktemp -d /tmp/mlo-bench-serve.XXXXXX)
cleanup() { (cd "$TMP/repo" 2>/dev/null && "$MLO" deploy stop bench >/dev/null 2>&1); rm -rf "$TMP"; }
trap cleanup EXIT
mkdir -p "$TMP/repo" && cd "$TMP/repo"
git init -q . && "$MLO" init -q
printf '{"format":"mlo-linear","version":1,"task":"classification","features":["a","b","c","d"],"coef":[0.5,-1.2,0.3,2.0],"intercept":0.1,"classes":[0,1]}\n' > model.json
"$MLO" deploy bench@1 --artifact model.json --env bench --threads "${ROUTER_THREADS:-4}" -q
status=$("$MLO" --json deploy status bench)
router=$(printf '%s' "$status" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
runner="http://127.0.0.1:$(printf '%s' "$status" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["versions"][0]["port"])')"
cat > post.lua <<'LUA'
wrk.method = "POST"
wrk.body = '{"dataframe_split":{"columns":["a","b","c","d"],"data":[[1.0,2.0,3.0,4.0]]}}'
wrk.headers["Content-Type"] = "application/json"
LUA
curl -sf -H 'Content-Type: application/json' -d '{"instances":[[1,2,3,4]]}' "$router/invocations" >/dev/null

# run URL CONNS -> "rps p50_ms p99_ms"
run() {
  wrk -t"$THREADS" -c"$2" -d"${DURATION}s" --latency -s post.lua "$1/invocations" | /usr/bin/python3 -c '
import re, sys
t = sys.stdin.read()
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", v)
    if not m: sys.exit("cannot read wrk output:\n" + t)
    n, u = m.groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[u]
p50 = ms(re.search(r"50%\s+(\S+)", t).group(1)); p99 = ms(re.search(r"99%\s+(\S+)", t).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
if errs: sys.exit("non-2xx responses: " + errs.group(1))
print(rps, p50, p99)'
}
# Latency: one connection (each request alone: the router's added work).
# Throughput: CONNS connections (the machine saturated).
declare -a dl50 dl99 rl50 rl99 d_rps r_rps d_p50 d_p99 r_p50 r_p99
for i in $(seq "$RUNS"); do
  read -r _ b c < <(run "$runner" 1); dl50+=("$b"); dl99+=("$c")
  read -r _ b c < <(run "$router" 1); rl50+=("$b"); rl99+=("$c")
  read -r a b c < <(run "$runner" "$CONNS"); d_rps+=("$a"); d_p50+=("$b"); d_p99+=("$c")
  read -r a b c < <(run "$router" "$CONNS"); r_rps+=("$a"); r_p50+=("$b"); r_p99+=("$c")
done
logged=$(wc -l < .mlo/deploy/bench/requests.jsonl)
/usr/bin/python3 - "$RUNS" "$DURATION" "$CONNS" "$(nproc)" "$logged" \
  "${dl50[*]}" "${dl99[*]}" "${rl50[*]}" "${rl99[*]}" "${d_rps[*]}" "${d_p50[*]}" "${d_p99[*]}" "${r_rps[*]}" "${r_p50[*]}" "${r_p99[*]}" <<'PY'
import statistics, sys
runs, dur, conns, cores, logged = sys.argv[1:6]
m = [statistics.median(float(x) for x in a.split()) for a in sys.argv[6:]]
dl50, dl99, rl50, rl99, d_rps, d50, d99, r_rps, r50, r99 = m
print(f"serve benchmark: native runner, POST /invocations, wrk {dur}s per run, median of {runs} runs, {cores} cores")
print("| path | connections | requests/s | p50 ms | p99 ms |")
print("|---|---:|---:|---:|---:|")
print(f"| direct to mlo-serve-native | 1 | - | {dl50:.3f} | {dl99:.3f} |")
print(f"| through mlo's router | 1 | - | {rl50:.3f} | {rl99:.3f} |")
print(f"| **router added latency** | 1 | | **{rl50 - dl50:+.3f}** | **{rl99 - dl99:+.3f}** |")
print(f"| direct to mlo-serve-native | {conns} | {d_rps:,.0f} | {d50:.3f} | {d99:.3f} |")
print(f"| through mlo's router | {conns} | **{r_rps:,.0f}** | {r50:.3f} | {r99:.3f} |")
print(f"router/direct throughput: {r_rps / d_rps:.2f}x; router logged {logged.strip()} requests to requests.jsonl")
PY
