#!/usr/bin/env bash
# Serving benchmark: wrk against the native inference runner directly, then
# through mlo's router, on the same model and request (MLflow /invocations).
# and through nginx as a reverse proxy to the same runner (keep-alive upstream
# connections, access log on, as mlo's router logs every request; NGINX=0
# skips it). Prints medians of RUNS alternated runs, the router's added latency,
# the proxy's CPU time per request (router process; nginx master and workers)
# and the load average. Not a test. The scikit-learn runner: serve_sklearn.sh.
#   MLO=build/mlo bash tests/bench/serve.sh   (RUNS=3 DURATION=5 CONNS="16 64" NGINX=1)
set -euo pipefail
source "$(dirname "$0")/lib_wrk.sh"
: "${MLO:?MLO must point at the built mlo}"
MLO=$(readlink -f "$MLO")
RUNS=${RUNS:-3}; DURATION=${DURATION:-5}; CONNS=${CONNS:-16 64}; THREADS=${THREADS:-1}
command -v wrk >/dev/null || { echo "wrk is not installed (Debian package wrk)"; exit 1; }
TMP=$(mktemp -d /tmp/mlo-bench-serve.XXXXXX)
NGINX=${NGINX:-1}
[ "$NGINX" = 0 ] || command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "nginx is not installed (Debian package nginx-light), or NGINX=0"; exit 1; }
cleanup() {
  if [ -s "$TMP/nginx.pid" ]; then kill "$(cat "$TMP/nginx.pid")" 2>/dev/null || true; fi
  (cd "$TMP/repo" 2>/dev/null && "$MLO" deploy stop bench >/dev/null 2>&1); rm -rf "$TMP"
}
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
paths="direct router"
if [ "$NGINX" != 0 ]; then
  # nginx as its docs set up a reverse proxy: one worker per core, keep-alive
  # to the upstream (HTTP/1.1, no Connection header), one access-log line a request.
  nginx_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat > "$TMP/nginx.conf" <<NGX
worker_processes auto;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log $TMP/nginx-access.log;
  client_body_temp_path $TMP; proxy_temp_path $TMP;
  upstream runner { server ${runner#http://}; keepalive 64; }
  server {
    listen 127.0.0.1:$nginx_port;
    location / { proxy_pass http://runner; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
NGX
  # As root, nginx's workers would drop to "nobody", who cannot open this private folder.
  if [ "$(id -u)" = 0 ]; then nginx_user=(-g 'user root;'); else nginx_user=(); fi
  PATH=$PATH:/usr/sbin nginx -c "$TMP/nginx.conf" -p "$TMP" "${nginx_user[@]}"
  nginx="http://127.0.0.1:$nginx_port"
  curl -sf -H 'Content-Type: application/json' -d '{"instances":[[1,2,3,4]]}' "$nginx/invocations" >/dev/null
  paths="direct router nginx"
fi

# run URL CONNS -> "rps p50_ms p99_ms"
run() { wrk_stats "$THREADS" "$2" "$DURATION" post.lua "$1/invocations"; }
# cpu_ticks PID... -> user+system clock ticks of those processes (all their threads).
cpu_ticks() {
  local t=0 p f
  for p in "$@"; do
    f=$(sed 's/.*) //' "/proc/$p/stat") && set -- $f && t=$((t + ${12} + ${13}))
  done
  echo "$t"
}
router_pid=$(/usr/bin/python3 -c 'import json; print(json.load(open(".mlo/deploy/bench/router.json"))["pid"])')
nginx_pids=()
[ "$NGINX" = 0 ] || nginx_pids=($(cat "$TMP/nginx.pid") $(pgrep -P "$(cat "$TMP/nginx.pid")"))
# Latency: one connection (each request alone: the router's added work).
# Throughput: each of CONNS connections (the machine saturated).
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
results=results.txt
for i in $(seq "$RUNS"); do
  for c in 1 $CONNS; do
    for p in $paths; do
      case $p in direct) url=$runner; pids=() ;; router) url=$router; pids=("$router_pid") ;; nginx) url=$nginx; pids=("${nginx_pids[@]}") ;; esac
      t0=$(cpu_ticks "${pids[@]}")
      read -r a b d < <(run "$url" "$c")
      # The proxy's CPU (user+system, all its processes and threads) per request.
      cpu=$(/usr/bin/python3 -c "print(($(cpu_ticks "${pids[@]}") - $t0) * 1e6 / $(getconf CLK_TCK) / ($a * $DURATION))")
      echo "$p $c $a $b $d $cpu" >>"$results"
    done
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
logged=$(wc -l < .mlo/deploy/bench/requests.jsonl)
/usr/bin/python3 - "$results" "$RUNS" "$DURATION" "$(nproc)" "$logged" "$load_before" "$load_after" <<'PY'
import collections, statistics, sys
path, runs, dur, cores, logged, lb, la = sys.argv[1:]
rows = collections.defaultdict(list)
for line in open(path):
    p, c, a, b, d, cpu = line.split()
    rows[(p, int(c))].append((float(a), float(b), float(d), float(cpu)))
med = {k: [statistics.median(x[i] for x in v) for i in range(4)] for k, v in rows.items()}
print(f"serve benchmark: native runner, POST /invocations, wrk {dur}s per run, median of {runs} alternated runs, "
      f"{cores} cores; load average before {lb}, after {la}")
print("| path | connections | requests/s | p50 ms | p99 ms | proxy CPU us/request |")
print("|---|---:|---:|---:|---:|---:|")
for c in sorted({c for _, c in med}):
    d, r = med[("direct", c)], med[("router", c)]
    print(f"| direct to mlo-serve-native | {c} | {d[0]:,.0f} | {d[1]:.3f} | {d[2]:.3f} | |")
    print(f"| through mlo's router | {c} | **{r[0]:,.0f}** | {r[1]:.3f} | {r[2]:.3f} | {r[3]:.1f} |")
    print(f"| router/direct, added | {c} | {r[0] / d[0]:.2f}x | {r[1] - d[1]:+.3f} | {r[2] - d[2]:+.3f} | |")
    if ("nginx", c) in med:
        n = med[("nginx", c)]
        print(f"| through nginx (proxy_pass, keepalive) | {c} | {n[0]:,.0f} | {n[1]:.3f} | {n[2]:.3f} | {n[3]:.1f} |")
        print(f"| router/nginx | {c} | {r[0] / n[0]:.2f}x | {r[1] - n[1]:+.3f} | {r[2] - n[2]:+.3f} | {r[3] / n[3]:.2f}x |")
print(f"router logged {logged.strip()} requests to requests.jsonl")
PY
