#!/usr/bin/env bash
# Native runner, adaptive batching on against off, in CPU instructions per
# request (callgrind: independent of the machine's load). Each setting serves
# two request counts under callgrind; the difference divided by the extra
# requests cancels start-up and shutdown. Clients: CONNS connections at once,
# one-row OIP requests. Not a test.
#   MLO=build/mlo bash tests/bench/serve_native_batch.sh   (CONNS=32 N1=320 N2=1280)
set -euo pipefail
: "${MLO:?MLO must point at the built mlo}"
NATIVE=$(readlink -f "$(dirname "$MLO")/mlo-serve-native")
CONNS=${CONNS:-32}; N1=${N1:-320}; N2=${N2:-1280}
command -v valgrind >/dev/null || { echo "valgrind is not installed (Debian package valgrind)"; exit 1; }
TMP=$(mktemp -d /tmp/mlo-bench-batch.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
printf '{"format":"mlo-linear","version":1,"task":"classification","features":["a","b","c","d"],"coef":[[0.5,-1.2,0.3,2.0],[1,0,0,-1],[0,1,-1,0]],"intercept":[0.1,0,0],"classes":["x","y","z"]}\n' >model.json

# instructions SERVE_JSON N -> total instructions of a runner that served N requests
instructions() {
  printf '{"version":1,"mode":"serve","model":{"name":"m","version":"1","artifact":"%s"},"serve":%s}\n' "$TMP/model.json" "$1" >spec.json
  rm -f cg.out runner.log
  valgrind --tool=callgrind --callgrind-out-file=cg.out "$NATIVE" --spec spec.json >runner.log 2>&1 &
  local pid=$! port=""
  for _ in $(seq 600); do
    port=$(sed -n 's/^mlo-inference-runner ready port=//p' runner.log)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { cat runner.log; exit 1; }
  /usr/bin/python3 - "$port" "$2" "$CONNS" <<'PY'
import http.client, json, sys, threading
port, n, conns = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def client(k):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for i in range(k, n, conns):
        body = json.dumps({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [i % 7, 1, 2, i % 3]}],
                           "outputs": [{"name": "predict_proba"}]})
        c.request("POST", "/v2/models/m/infer", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        assert r.status == 200
threads = [threading.Thread(target=client, args=(k,)) for k in range(conns)]
[t.start() for t in threads]
[t.join() for t in threads]
PY
  kill "$pid"
  wait "$pid" || true
  grep -q "model calls" runner.log && grep "model calls" runner.log >&2
  callgrind_annotate cg.out 2>/dev/null | sed -n 's/^\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "| setting | instructions per request |"
echo "|---|---:|"
for setting in '{"port":0}' '{"port":0,"max_batch_size":64,"max_batch_time_ms":2}'; do
  a=$(instructions "$setting" "$N1"); b=$(instructions "$setting" "$N2")
  echo "| $setting | $(( (b - a) / (N2 - N1) )) |"
done
echo "($CONNS connections, $N1 and $N2 requests; load average before $load_before, after $(cut -d' ' -f1-3 /proc/loadavg))"
