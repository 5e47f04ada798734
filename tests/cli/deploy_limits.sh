#!/usr/bin/env bash
# A request cannot kill or starve serving (issue 11): deeply nested and huge
# tensors are answered 400 and the runner keeps running; header edge cases and
# non-UTF-8 paths get clean 4xx answers; slow clients time out; under 3,000
# slowloris connections and at the open-file limit the router keeps serving
# other clients and does not spin. Clients: tests/cli/deploy_attack.py
# (127.0.0.1 only, bounded in connections and time).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"
ATTACK="/usr/bin/python3 $(cd "$(dirname "$0")" && pwd)/deploy_attack.py"

new_repo
linear_model m1.json 1
expect_ok deploy iris@1 --artifact m1.json --env prod
port=$(router_port prod)
expect_ok --json deploy status prod
runner_pid=$(/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["versions"][0]["pid"])' <<<"$OUT")
runner_port=$(/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["versions"][0]["port"])' <<<"$OUT")

# post ROUTE FILE : POSTs FILE through the router; sets CODE and BODY.
post() {
  BODY=$(curl -s --max-time 20 -H 'Content-Type: application/json' --data-binary "@$2" \
    -w '\n%{http_code}' "http://127.0.0.1:$port$1")
  CODE=${BODY##*$'\n'}
  BODY=${BODY%$'\n'*}
}
# expect_400 ROUTE JSON WORDS : the body is rejected with 400 and an error naming WORDS.
expect_400() {
  printf '%s' "$2" >"$TEST_TMP/body.json"
  post "$1" "$TEST_TMP/body.json"
  expect_eq "$CODE" 400 "status for $(head -c 60 "$TEST_TMP/body.json")"
  [[ "$BODY" == *"$3"* ]] || fail "error lacks '$3': $BODY"
}

# Deep nesting: 400 KB of nested lists, in both protocols. This crashed the runner
# (stack overflow), which the router restarted until it gave up.
deep=$(/usr/bin/python3 -c 'print("["*200000 + "]"*200000)')
expect_400 /v2/models/iris/infer "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,2],\"data\":$deep}]}" "nests deeper than 64"
expect_400 /invocations "{\"instances\":$deep}" "nests deeper than 64"
expect_400 /invocations "{\"dataframe_split\":{\"data\":$deep}}" "nests deeper than 64"
# A deep body small enough to be logged whole is logged as a string, so readers
# of the request log need not recurse (Python's json gives up at ~1000 levels).
deep=$(/usr/bin/python3 -c 'print("["*30000 + "]"*30000)')
expect_400 /invocations "{\"instances\":$deep}" "nests deeper than 64"
sleep 0.5  # the log is written every 100 ms
/usr/bin/python3 -c 'import json; [json.loads(l) for l in open(".mlo/deploy/prod/requests.jsonl")]' ||
  fail "requests.jsonl has a line Python's json cannot read"
pass
# Shapes: overflowing, 20M empty rows (a 184-byte request that built 20M rows),
# zero-width, negative.
expect_400 /v2/models/iris/infer '{"inputs":[{"name":"x","shape":[4294967296,4294967296],"datatype":"FP64","data":[1,2]}]}' "bad 'shape'"
t0=$(date +%s%N)
expect_400 /v2/models/iris/infer '{"inputs":[{"name":"x","shape":[20000000,0],"datatype":"FP64","data":[]}]}' "bad 'shape'"
expect_400 /v2/models/iris/infer '{"inputs":[{"name":"x","shape":[900000,0],"datatype":"FP64","data":[]}]}' "rows with no values"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 5000 ] || fail "huge empty shapes took $ms ms"
expect_400 /v2/models/iris/infer '{"inputs":[{"name":"x","shape":[3,0],"datatype":"FP64","data":[]}]}' "rows with no values"
expect_400 /v2/models/iris/infer '{"inputs":[{"name":"x","shape":[-1,2],"datatype":"FP64","data":[1,2]}]}' "bad 'shape'"
expect_400 /v2/models/iris/infer '{"inputs":[{"name":7,"shape":[1,2],"data":[1,2]}]}' "'name' must be a string"
expect_400 /v2/models/iris/infer '{"inputs":[5]}' "expected a tensor object"
# A row count over the bound is refused before rows are built.
rows=$(/usr/bin/python3 -c 'print("[" + ",".join(["[1,2]"] * 1000001) + "]")')
expect_400 /invocations "{\"instances\":$rows}" "at most 1000000"
# Nesting within the bound still works, and the runner never restarted.
printf '%s' '{"inputs":[{"name":"x","shape":[1,2],"data":[[[[[1,2]]]]]}]}' >"$TEST_TMP/ok.json"
post /v2/models/iris/infer "$TEST_TMP/ok.json"
expect_eq "$CODE" 200 "nested data within the bound ($BODY)"
[[ "$BODY" == *'"data":[3.0]'* ]] || fail "prediction: $BODY"
expect_ok --json deploy status prod
expect_json "d['versions'][0]['restarts'] == 0 and d['versions'][0]['ready']"
expect_eq "$(/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["versions"][0]["pid"])' <<<"$OUT")" "$runner_pid" "runner pid"

# Header edge cases, through the router and direct to the runner (same server code).
for p in "$port" "$runner_port"; do
  # A request line directly followed by the blank line, pipelined with another:
  # both answered (the header block's length underflowed and swallowed the second).
  r=$($ATTACK raw "$p" "b'GET /v2/health/live HTTP/1.1\r\n\r\nGET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n'")
  expect_eq "$(grep -c '^200 {"live":true}' <<<"$r")" 2 "pipelined requests without headers ($r)"
  # A non-UTF-8 path: 400 with a JSON error (was 500 with a raw JSON exception).
  r=$($ATTACK raw "$p" "b'GET /v2/models/\xff\xfe/ready HTTP/1.1\r\nHost: x\r\n\r\n'")
  [[ "$r" == "400 "*"visible ASCII"* ]] || fail "non-UTF-8 path: $r"
  # Non-UTF-8 in a header the error quotes: a clean 415, never a 500.
  r=$($ATTACK raw "$p" "b'POST /invocations HTTP/1.1\r\nContent-Type: text/\xff\r\nContent-Length: 2\r\n\r\n{}'")
  [[ "$r" == "415 "* ]] || fail "non-UTF-8 Content-Type: $r"
  r=$($ATTACK raw "$p" "b'GET / HTTP/1.1\r\nno colon here\r\n\r\n'")
  [[ "$r" == "400 "*"malformed header line"* ]] || fail "header without a colon: $r"
  pass
done
# A client that never finishes its headers gets 408 after the header timeout.
r=$($ATTACK raw "$port" "b'GET /v2/health/live HTTP/1.1\r\nHost: x\r\n'")
[[ "$r" == "408 "*"did not arrive in time"* ]] || fail "partial headers: $r"
elapsed=$(sed -n 's/^elapsed //p' <<<"$r")
echo "partial headers answered 408 after $elapsed s"
/usr/bin/python3 -c "import sys; sys.exit(not 9.5 <= float(sys.argv[1]) <= 14)" "$elapsed" || fail "408 after $elapsed s"
pass

# Slowloris: the router runs with 256 descriptors; 3,000 connections trickle
# endless headers for 12 s while a normal client keeps asking.
(ulimit -n 256 && "$MLO" deploy iris@1 --artifact m1.json --env edge >/dev/null 2>&1) || fail "deploy edge"
eport=$(router_port edge)
$ATTACK slowloris "$eport" 3000 12 >"$TEST_TMP/slowloris.txt" &
attack=$!
sleep 2
ok=0
for i in $(seq 10); do
  c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Content-Type: application/json' -d "$V2_BODY" \
    "http://127.0.0.1:$eport/v2/models/iris/infer")
  [ "$c" = 200 ] && ok=$((ok + 1))
  sleep 0.5
done
wait "$attack"
echo "slowloris: $(cat "$TEST_TMP/slowloris.txt"); normal requests answered: $ok of 10"
expect_eq "$ok" 10 "normal requests answered during the slowloris attack ($(cat "$TEST_TMP/slowloris.txt"))"
closed=$(sed -n 's/.*closed_by_server \([0-9]*\).*/\1/p' "$TEST_TMP/slowloris.txt")
[ "${closed:-0}" -gt 0 ] || fail "no slowloris connection was closed: $(cat "$TEST_TMP/slowloris.txt")"
pass

# At the open-file limit (64 descriptors, no connection cap below it) accept()
# fails with EMFILE: the router must not spin on it, and must still answer.
(ulimit -n 64 && MLO_HTTP_MAX_CONNECTIONS=100000 "$MLO" deploy iris@1 --artifact m1.json --env tight >/dev/null 2>&1) ||
  fail "deploy tight"
tport=$(router_port tight)
tpid=$(/usr/bin/python3 -c 'import json; print(json.load(open(".mlo/deploy/tight/router.json"))["pid"])')
$ATTACK idle "$tport" 300 8 >"$TEST_TMP/idle.txt" &
attack=$!
sleep 2
cpu=$($ATTACK cputime "$tpid" 4)
c=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$tport/v2/health/ready")
wait "$attack"
echo "at the descriptor limit: router CPU $cpu s in 4 s; $(cat "$TEST_TMP/idle.txt")"
/usr/bin/python3 -c "import sys; sys.exit(not float(sys.argv[1]) < 0.5)" "$cpu" ||
  fail "router used $cpu s of CPU in 4 s at its descriptor limit (spinning on accept?)"
expect_eq "$c" 200 "a request at the descriptor limit"
expect_ok deploy stop tight
expect_ok deploy stop edge
expect_ok deploy stop prod
done_testing
