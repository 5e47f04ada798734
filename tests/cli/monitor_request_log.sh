#!/usr/bin/env bash
# mlo monitor reads the request log of a real deployment: one row per input
# row whatever the protocol, serving fields are not a schema change, failed
# requests are not data, and drift in the served inputs is found.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"

new_repo
linear_model m1.json 1
# Training data: a ~ uniform 0..10, b ~ uniform 0..10 (deterministic).
awk 'BEGIN { srand(7); print "a,b"; for (i = 0; i < 2000; i++) printf "%.3f,%.3f\n", 10 * rand(), 10 * rand() }' >train.csv

expect_ok deploy iris@1 --artifact m1.json --env prod
port=$(router_port prod)
url="http://127.0.0.1:$port"
post() { curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "$2" "$url$1"; }

# 300 requests like the training data, in the four request shapes; "a" is
# shifted by +20 in the last 100 rows (drift the monitor must see).
rows=$(awk 'BEGIN { srand(8); for (i = 0; i < 300; i++) printf "%.3f %.3f\n", 10 * rand() + (i >= 200 ? 20 : 0), 10 * rand() }')
i=0
while read -r a b; do
  case $((i % 4)) in
    0) body="{\"dataframe_records\":[{\"a\":$a,\"b\":$b}]}"; route=/invocations ;;
    1) body="{\"dataframe_split\":{\"columns\":[\"a\",\"b\"],\"data\":[[$a,$b]]}}"; route=/invocations ;;
    2) body="{\"instances\":[{\"a\":$a,\"b\":$b}]}"; route=/invocations ;;
    3) body="{\"inputs\":[{\"name\":\"a\",\"shape\":[1],\"datatype\":\"FP64\",\"data\":[$a]},{\"name\":\"b\",\"shape\":[1],\"datatype\":\"FP64\",\"data\":[$b]}]}"; route=/v2/models/iris/infer ;;
  esac
  code=$(post "$route" "$body")
  [ "$code" = 200 ] || fail "request $i ($route) got $code"
  i=$((i + 1))
done <<<"$rows"
pass
# One request with two rows, and a malformed one (400: logged, not data).
expect_eq "$(post /invocations '{"dataframe_split":{"columns":["a","b"],"data":[[1,2],[3,4]]}}')" 200 "two-row request"
expect_eq "$(post /invocations '{"dataframe_split":"oops"}')" 400 "malformed request"
# Stopping the router flushes its request log.
expect_ok deploy stop prod
log=.mlo/deploy/prod/requests.jsonl
expect_file "$log"
expect_eq "$(wc -l <"$log")" 302 "one log line per request"

# The whole log: 302 rows (the 400 is skipped), drift in a, not in b.
expect_rc 1 --json monitor --reference train.csv -c "$log" --no-record --fail-on drift
expect_json "d['current']['rows'] == 302 and d['current']['malformed_rows'] == 0"
drift_of() { /usr/bin/python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
for m in d["metrics"]:
    r = m.get("result", {})
    if m.get("metric") == "ColumnDriftMetric" and r.get("column_name") == sys.argv[1]:
        print("yes" if r["drift_detected"] else "no"); break
' "$1" <<<"$OUT"; }
expect_eq "$(drift_of a)" yes "drift in a (shifted by +20 in a third of the rows)"
expect_eq "$(drift_of b)" no "no drift in b"
# Serving fields (ts, route, latency_ms, prediction...) are not a schema
# change; the shifted values of a are (out of the reference range).
expect_rc 1 monitor --reference train.csv -c "$log" --no-record --fail-on quality
expect_out_contains "current 302 rows"
expect_out_contains "a: 33.11% of values outside the reference range"
expect_out_not_contains "in the current data, not in the reference"

# Only the first 200 rows (before the shift): no drift.
head -n 200 "$log" >first.jsonl
expect_ok monitor --reference train.csv -c first.jsonl --no-record --fail-on drift
expect_out_contains "current 200 rows"
expect_ok monitor --reference train.csv -c first.jsonl --no-record --fail-on quality

# Live traffic has no labels yet: a declared target missing from the current
# data is not a quality failure; an undeclared column missing still is.
awk -F, 'NR == 1 {print $0 ",y"; next} {print $0 "," (NR % 2)}' train.csv >train_y.csv
expect_rc 1 monitor --reference train_y.csv -c first.jsonl --no-record --fail-on quality
expect_out_contains "y: in the reference, missing from the current data"
expect_ok monitor --reference train_y.csv -c first.jsonl --no-record --fail-on quality --target y
expect_out_contains "Performance: unknown"

done_testing
