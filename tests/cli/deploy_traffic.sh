#!/usr/bin/env bash
# Rollout strategies through the router with real runners and real HTTP:
# canary split, promote, rollback under continuous load, shadow, blue-green.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"

new_repo
linear_model m1.json 1
linear_model m2.json 2
linear_model m3.json 3

expect_ok deploy iris@1 --artifact m1.json --env prod
port=$(router_port prod)

# Canary at 10%: 10% +- 2% of 5,000 requests reach version 2.
expect_ok deploy iris@2 --artifact m2.json --env prod --strategy canary --weight 10
expect_out_contains "10% of requests"
infer_many "$port" 5000 "$TEST_TMP/canary.txt"
n2=$(count_version "$TEST_TMP/canary.txt" 2); n1=$(count_version "$TEST_TMP/canary.txt" 1)
ok=$(grep -c ' 200$' "$TEST_TMP/canary.txt")
expect_eq "$ok" 5000 "successful requests"
[ $((n1 + n2)) = 5000 ] || fail "versions: $n1 + $n2 != 5000"; pass
[ "$n2" -ge 400 ] && [ "$n2" -le 600 ] || fail "canary got $n2 of 5000 (want 500 +- 100)"; pass
# Random split, 30%: still within +- 2% of 5,000.
expect_ok deploy traffic prod --weight 30
expect_out_contains "30% of requests"
expect_ok deploy iris@2 --artifact m2.json --env prod --strategy canary --weight 30 --split random
infer_many "$port" 5000 "$TEST_TMP/random.txt"
n2=$(count_version "$TEST_TMP/random.txt" 2)
[ "$n2" -ge 1400 ] && [ "$n2" -le 1600 ] || fail "random canary got $n2 of 5000 (want 1500 +- 100)"; pass
expect_ok --json deploy status prod
expect_json "[v['role'] for v in d['versions']] == ['primary', 'canary'] and d['versions'][1]['weight'] == 30 and d['versions'][0]['weight'] == 70"

# Promote: version 2 takes all traffic; version 1's runner is retired.
expect_ok deploy promote prod
expect_out_contains "now serving iris@2"
infer_many "$port" 200 "$TEST_TMP/promoted.txt"
expect_eq "$(count_version "$TEST_TMP/promoted.txt" 2)" 200 "after promote"
expect_rc 3 deploy promote prod
expect_err_contains "nothing to promote"
expect_rc 3 deploy traffic prod --weight 5
expect_err_contains "no canary or shadow"

# Rollback while requests keep coming: no request fails, and the answers
# switch from version 2 to version 1 during the load.
infer_many "$port" 4000 "$TEST_TMP/rollback.txt" &
load=$!
sleep 0.3
expect_ok deploy rollback prod
expect_out_contains "now serving iris@1"
wait $load
expect_eq "$(grep -vc ' 200$' "$TEST_TMP/rollback.txt")" 0 "failed requests during rollback"
expect_eq "$(wc -l < "$TEST_TMP/rollback.txt" | tr -d ' ')" 4000 "answers during rollback"
a=$(count_version "$TEST_TMP/rollback.txt" 2); b=$(count_version "$TEST_TMP/rollback.txt" 1)
[ "$a" -gt 0 ] && [ "$b" -gt 0 ] || fail "the switch did not happen during the load ($a from v2, $b from v1)"; pass
tail -1 "$TEST_TMP/rollback.txt" | grep -q '"model_version":"1"' || fail "last answer not from v1"; pass
expect_rc 3 deploy rollback prod
expect_err_contains "nothing to roll back to"

# Shadow: every request is mirrored to version 3, whose answers never reach the client.
expect_ok deploy iris@3 --artifact m3.json --env prod --strategy shadow
infer_many "$port" 500 "$TEST_TMP/shadow.txt"
expect_eq "$(count_version "$TEST_TMP/shadow.txt" 1)" 500 "clients see only the primary"
expect_eq "$(count_version "$TEST_TMP/shadow.txt" 3)" 0 "shadow answers reaching clients"
grep -q '9.0' "$TEST_TMP/shadow.txt" && fail "a shadow prediction (9.0) reached a client"; pass
sleep 0.5
expect_ok --json deploy status prod
expect_json "d['versions'][1]['role'] == 'shadow' and d['versions'][1]['requests'] == 500 and d['versions'][0]['requests'] >= 500"
/usr/bin/python3 - <<'PY' || fail "shadow log"
import json
lines = [json.loads(l) for l in open(".mlo/deploy/prod/requests.jsonl")]
shadow = [l for l in lines if l["role"] == "shadow"]
assert len(shadow) == 500, len(shadow)
assert all(l["version"] == "3" and l["outputs"]["outputs"][0]["data"] == [9.0] for l in shadow)
PY
pass
expect_ok deploy rollback prod
expect_out_contains "now serving iris@1"

# Blue-green: the new side serves once ready; the old side stays up for an instant rollback.
expect_ok deploy iris@2 --artifact m2.json --env prod --strategy blue-green
infer_many "$port" 50 "$TEST_TMP/bg.txt"
expect_eq "$(count_version "$TEST_TMP/bg.txt" 2)" 50 "blue-green switched"
expect_ok --json deploy status prod
expect_json "sorted(v['role'] for v in d['versions']) == ['primary', 'standby'] and d['versions'][1]['state'] == 'ready'"
expect_ok deploy rollback prod
infer_many "$port" 50 "$TEST_TMP/bg2.txt"
expect_eq "$(count_version "$TEST_TMP/bg2.txt" 1)" 50 "blue-green rolled back"

# Every change is in the event log, and the index can be rebuilt from it.
expect_ok --json deploy history prod
expect_json "[e['action'] for e in d] == ['deploy','deploy','traffic','deploy','promote','rollback','deploy','rollback','deploy','rollback']"
expect_ok deploy stop prod
[ "$(wc -l < deploy/prod/events.jsonl)" = 11 ] || fail "events.jsonl lines"; pass

done_testing
