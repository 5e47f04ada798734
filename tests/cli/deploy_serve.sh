#!/usr/bin/env bash
# mlo deploy --target local: both HTTP protocols through the router and direct
# to the runner, malformed requests, port in use, bad inputs, status/ls/stop.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"

new_repo
linear_model m1.json 1
linear_model m2.json 2

# Bad inputs first: nothing may be started by them.
expect_rc 2 deploy iris@1 --artifact m1.json
expect_err_contains "--env is required"
expect_rc 2 deploy --env prod
expect_err_contains "which model?"
expect_rc 3 deploy iris#production --env prod
expect_err_contains "no model named 'iris'"  # the registry is built in
expect_rc 3 deploy iris@7 --env prod
expect_err_contains "no model named 'iris'"
expect_rc 3 deploy iris@1 --artifact missing.json --env prod
expect_err_contains "missing.json' does not exist"
expect_rc 2 deploy iris@1 --artifact m1.json --env prod --strategy sideways
expect_err_contains "unknown strategy 'sideways'"
expect_rc 2 deploy iris@1 --artifact m1.json --env 'bad/env'
expect_err_contains "bad environment name"
expect_rc 2 deploy iris@1 --artifact m1.json --env prod --weight 140
expect_rc 3 deploy iris@1 --artifact m1.json --env prod --runner no-such-runner
expect_err_contains "mlo-serve-no-such-runner"
expect_rc 3 deploy status prod
expect_err_contains "no deployment named 'prod'"
expect_no_file .mlo/deploy/prod/router.json

# Port already in use: a clear error, exit 3, nothing left running.
busy=$(/usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
/usr/bin/python3 -c 'import socket,sys,time;s=socket.socket();s.bind(("127.0.0.1",int(sys.argv[1])));s.listen();time.sleep(30)' "$busy" &
holder=$!
sleep 0.3
expect_rc 3 deploy iris@1 --artifact m1.json --env prod --port "$busy"
expect_err_contains "port $busy on 127.0.0.1 is already in use"
expect_no_file .mlo/deploy/prod/router.json
kill $holder; wait $holder 2>/dev/null

# Deploy: the router answers on its port, bound to 127.0.0.1.
expect_ok --json deploy iris@1 --artifact m1.json --env prod
expect_json "d['url'].startswith('http://127.0.0.1:') and d['version'] == '1' and d['strategy'] == 'replace'"
port=$(router_port prod)
expect_file .mlo/deploy/prod/requests.jsonl
git check-ignore -q .mlo/deploy/prod/router.json || fail ".mlo/deploy is not ignored"; pass

# Open Inference Protocol (v2).
expect_eq "$(curl -s http://127.0.0.1:$port/v2/health/live)" '{"live":true}' "live"
expect_eq "$(curl -s http://127.0.0.1:$port/v2/health/ready)" '{"ready":true}' "ready"
OUT=$(curl -s http://127.0.0.1:$port/v2/models/iris)
expect_json "d['name'] == 'iris' and d['versions'] == ['1'] and d['inputs'][0]['shape'] == [-1, 2]"
OUT=$(curl -s http://127.0.0.1:$port/v2/models/iris/ready)
expect_json "d['ready'] is True"
OUT=$(curl -s -H 'Content-Type: application/json' -d '{"id":"r1","inputs":[{"name":"input-0","shape":[2,2],"datatype":"FP64","data":[1,2,3,4]}]}' http://127.0.0.1:$port/v2/models/iris/infer)
expect_json "d['id'] == 'r1' and d['model_name'] == 'iris' and d['outputs'][0]['data'] == [3.0, 7.0] and d['outputs'][0]['shape'] == [2]"
OUT=$(curl -s -H 'Content-Type: application/json' -d '{"inputs":[{"name":"b","shape":[1],"datatype":"FP64","data":[5]},{"name":"a","shape":[1],"datatype":"FP64","data":[1]}]}' http://127.0.0.1:$port/v2/models/iris/versions/1/infer)
expect_json "d['outputs'][0]['data'] == [6.0]"
code=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/v2/models/nope)
expect_eq "$code" 404 "unknown model over v2"

# MLflow scoring routes.
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/ping)" 200 "ping"
post() { curl -s -H "Content-Type: ${2:-application/json}" --data-binary "$1" "http://127.0.0.1:$port/invocations"; }
OUT=$(post '{"dataframe_split":{"columns":["b","a"],"data":[[2,1],[4,3]]}}'); expect_json "d == {'predictions': [3.0, 7.0]}"
OUT=$(post '{"dataframe_records":[{"a":1,"b":2},{"a":0,"b":1}]}'); expect_json "d == {'predictions': [3.0, 1.0]}"
OUT=$(post '{"instances":[[1,2],[2,2]]}'); expect_json "d == {'predictions': [3.0, 4.0]}"
OUT=$(post '{"inputs":{"a":[1,2],"b":[2,3]}}'); expect_json "d == {'predictions': [3.0, 5.0]}"
OUT=$(post $'a,b\n1,2\n5,5\n' text/csv); expect_json "d == {'predictions': [3.0, 10.0]}"

# Malformed requests: 400 with an error body, and the router keeps serving.
OUT=$(post '{not json'); expect_json "'not valid JSON' in d['error']"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d '{not json' http://127.0.0.1:$port/invocations)" 400 "bad JSON status"
OUT=$(post '{"instances":[[1]]}'); expect_json "'expects 2' in d['error']"
OUT=$(post '{"dataframe_records":[{"a":1}]}'); expect_json "'missing feature' in d['error']"
OUT=$(post '{"rows":[[1,2]]}'); expect_json "'dataframe_split' in d['error']"
OUT=$(post '{"instances":[["x",2]]}'); expect_json "'expected a number' in d['error']"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/xml' -d '<a/>' http://127.0.0.1:$port/invocations)" 415 "content type"
OUT=$(curl -s -H 'Content-Type: application/json' -d '{"inputs":[{"name":"x","shape":[3,2],"data":[1,2]}]}' http://127.0.0.1:$port/v2/models/iris/infer)
expect_json "'shape does not match' in d['error']"
# Not even HTTP: the connection gets a 400 and is closed; the router lives on.
resp=$(printf 'GARBAGE\r\n\r\n' | /usr/bin/python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.sendall(sys.stdin.buffer.read()); print(s.recv(4096).decode())' "$port")
[[ "$resp" == "HTTP/1.1 400"*'"error":"malformed request line"'* ]] || fail "raw garbage: $resp"; pass
OUT=$(post '{"instances":[[1,2]]}'); expect_json "d == {'predictions': [3.0]}"

# Direct to the runner: same answers (the contract is the runner's, the router adds nothing).
expect_ok --json deploy status prod
rport=$(printf '%s' "$OUT" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["versions"][0]["port"])')
rpid=$(printf '%s' "$OUT" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["versions"][0]["pid"])')
OUT=$(curl -s -H 'Content-Type: application/json' -d '{"instances":[[1,2]]}' http://127.0.0.1:$rport/invocations)
expect_json "d == {'predictions': [3.0]}"

# Status, metrics, request log.
expect_ok --json deploy status prod
expect_json "d['running'] and d['healthy'] and d['versions'][0]['role'] == 'primary' and d['versions'][0]['requests'] >= 15 and d['versions'][0]['client_errors'] >= 6 and d['versions'][0]['latency_ms']['p50'] is not None"
expect_ok deploy status prod
expect_out_contains "primary"
expect_out_contains "iris@1"
metrics=$(curl -s http://127.0.0.1:$port/metrics)
[[ "$metrics" == *'mlo_requests_total{env="prod",model="iris",version="1",role="primary"}'* ]] || fail "metrics: $metrics"; pass
[[ "$metrics" == *'mlo_request_duration_seconds_bucket{env="prod",model="iris",version="1",role="primary",le="+Inf"}'* ]] || fail "histogram"; pass
sleep 0.3
/usr/bin/python3 - <<'PY' || fail "request log shape"
import json
lines = [json.loads(l) for l in open(".mlo/deploy/prod/requests.jsonl")]
assert len(lines) >= 15, len(lines)
for l in lines:
    assert set(l) >= {"ts", "env", "model", "version", "route", "inputs", "outputs", "latency_ms", "status", "role"}, l
ok = [l for l in lines if l["status"] == 200 and l["route"] == "/invocations"]
assert ok and ok[0]["outputs"]["predictions"], ok[:1]
assert any(l["status"] == 400 for l in lines)
PY
pass
# The admin routes need the token.
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$port/-/mlo/status)" 403 "admin without token"

# ls, logs, redeploying on another port is refused, a second env works alongside.
expect_ok --json deploy ls
expect_json "d[0]['env'] == 'prod' and d[0]['running'] and d[0]['primary']['version'] == '1'"
expect_ok deploy logs prod
expect_out_contains "router.log"
expect_out_contains "mlo-inference-runner ready"
expect_rc 2 deploy iris@2 --artifact m2.json --env prod --port 1
expect_err_contains "already serves on port $port"

# Stop: router and runners end; the env shows as stopped.
router_pid=$(/usr/bin/python3 -c 'import json; print(json.load(open(".mlo/deploy/prod/router.json"))["pid"])')
expect_ok deploy stop prod
expect_out_contains "Stopped 'prod'"
pid_running "$router_pid" && fail "router still running"; pass
pid_running "$rpid" && fail "runner still running"; pass
expect_no_file .mlo/deploy/prod/router.json
expect_ok --json deploy status prod
expect_json "d['running'] is False"
expect_ok deploy stop prod
expect_out_contains "was not running"
expect_ok --json deploy history prod
expect_json "[e['action'] for e in d] == ['deploy', 'stop']"
expect_file deploy/prod/events.jsonl

done_testing
