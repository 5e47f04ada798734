#!/usr/bin/env bash
# The router's cost per request (issues 14, 23): on a keep-alive connection a
# forwarded request costs the router a read and a write on each side and its
# event waits, nothing more: no epoll_ctl per request and no hand-over between
# threads (eventfd writes and reads). Counted with strace on 400 requests;
# the router that handed each request to a forwarder thread made about 16.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"
command -v strace >/dev/null || fail "strace is needed (.ci/debian-packages.txt)"

new_repo
linear_model m.json 1
expect_ok deploy iris@1 --artifact m.json --env prod
port=$(router_port prod)
rpid=$(/usr/bin/python3 -c 'import json; print(json.load(open(".mlo/deploy/prod/router.json"))["pid"])')
# send N: N requests on one keep-alive connection, each answered 200.
send() {
  /usr/bin/python3 - "$port" "$1" <<'PY'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=60)
body = json.dumps({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}]})
for _ in range(int(sys.argv[2])):
    c.request("POST", "/v2/models/iris/infer", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    assert r.status == 200, r.read()
    r.read()
PY
}
send 20 || fail "warm-up requests"
tids=$(ls /proc/"$rpid"/task | paste -sd, -)
strace -f -c -o "$TEST_TMP/strace.txt" -p "$tids" 2>/dev/null &
st=$!
# strace prints nothing when attached; wait until it is (its tracer shows in status).
for _ in $(seq 200); do grep -q "^TracerPid:[[:space:]]*$st" /proc/"$rpid"/status && break; sleep 0.05; done
send 400 || fail "400 requests under strace"
kill -INT "$st"
wait "$st" || true
calls() { awk -v n="$1" '$NF == n {print $4; f = 1} END { if (!f) print 0 }' "$TEST_TMP/strace.txt"; }
total=$(awk '$NF == "total" {print $4}' "$TEST_TMP/strace.txt")
echo "router system calls for 400 requests: $total (epoll_ctl $(calls epoll_ctl), write $(calls write), read $(calls read))"
[ "$(calls epoll_ctl)" -le 20 ] || fail "epoll_ctl $(calls epoll_ctl) times for 400 requests: $(cat "$TEST_TMP/strace.txt")"; pass
[ "$(( $(calls write) + $(calls read) ))" -le 40 ] || fail "eventfd hand-overs for 400 requests: $(cat "$TEST_TMP/strace.txt")"; pass
if sanitized_build; then
  echo "sanitizer build: the total is not checked (the runtime's own calls)"
else
  [ "$total" -le $((400 * 8)) ] || fail "$total system calls for 400 requests (at most 8 a request): $(cat "$TEST_TMP/strace.txt")"; pass
fi
expect_ok deploy stop prod
