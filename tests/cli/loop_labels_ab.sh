#!/usr/bin/env bash
# Late labels and A/B experiments through a real router: every request gets
# an id (X-Request-Id honoured or generated, returned, logged); labels that
# arrive later join by it into performance per window (decay shows); a
# performance trigger fires on it; --strategy ab --split 50 --sticky-key
# keeps each user on one arm; `deploy experiment plan` fixes the sample size
# and `deploy experiment status` refuses a verdict before it (exit 1), then
# names the test (two-proportion z-test on 0/1 labels, Welch t-test on a
# logged value) with its confidence interval.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"
PY=/usr/bin/python3
new_repo
linear_model m1.json 1
linear_model m2.json 2
expect_ok deploy iris@1 --artifact m1.json --env prod
port=$(router_port prod)

# request ids: honoured, generated when absent, returned, logged
send_rows "$port" 0 20 > "$TEST_TMP/first.txt" || fail "requests failed"
$PY - "$TEST_TMP/first.txt" <<'PY' || fail "request ids: $(cat "$TEST_TMP/first.txt")"
import re, sys
rows = [l.split() for l in open(sys.argv[1])]
for i, (sent, version, rid, pred) in enumerate(rows):
    if i % 10 != 9: assert rid == sent, (sent, rid)
    else: assert re.fullmatch(r"[0-9a-f]{16}", rid), rid
PY
pass
curl -s -o /dev/null -D "$TEST_TMP/h.txt" -H 'X-Request-Id: bad id with spaces' -H 'Content-Type: application/json' \
  -d '{"dataframe_split":{"columns":["a","b"],"data":[[1,1]]}}' "http://127.0.0.1:$port/invocations"
grep -qiE '^x-request-id: [0-9a-f]{16}' "$TEST_TMP/h.txt" || fail "a malformed X-Request-Id was not replaced: $(cat "$TEST_TMP/h.txt")"; pass
sleep 0.5  # the router flushes its log every 100 ms
$PY - <<'PY' || fail "request log lacks ids"
import json
lines = [json.loads(l) for l in open(".mlo/deploy/prod/requests.jsonl")]
assert [l["request_id"] for l in lines[:3]] == ["r0", "r1", "r2"], lines[:3]
PY
pass

# labels arrive later: window 1 right, window 2 off by one (decay)
sleep 1.2
send_rows "$port" 100 20 > "$TEST_TMP/second.txt" || fail "requests failed"
sleep 0.5
$PY - "$TEST_TMP/first.txt" "$TEST_TMP/second.txt" <<'PY'
import sys
with open("labels.csv", "w") as f:
    f.write("request_id,y,converted\n")
    for n, path in enumerate(sys.argv[1:]):
        for sent, version, rid, pred in (l.split() for l in open(path)):
            f.write(f"{rid},{float(pred) + n},1\n")
    f.write("never-served,1,0\n")
PY
expect_ok --json monitor labels prod --from labels.csv --target y --window 1s --task regression
expect_json "d['task'] == 'regression' and d['labels'] == 41 and d['unmatched_labels'] == 1"
expect_json "d['windows'][0]['mae'] == 0 and d['windows'][-1]['mae'] == 1 and sum(w['labelled'] for w in d['windows']) == 40"
expect_json "all(list(w['by_version']) == ['1'] for w in d['windows'])"
expect_ok monitor labels prod
expect_out_contains "Labelled traffic of prod (regression, 41 labels, 1 without a served request)"
expect_rc 3 monitor labels prod --from labels.csv --key id
expect_err_contains "no column 'id'"
expect_rc 3 monitor labels nowhere --from labels.csv
expect_err_contains "no request log for environment 'nowhere'"

# a performance trigger reads the labelled windows
cat > mlo.yaml <<'YAML'
triggers:
  decay:
    performance: {env: prod, metric: mae, above: 0.5}
    action: {run: [noop]}
  fine:
    performance: {env: prod, metric: mae, above: 2}
    action: {run: [noop]}
YAML
expect_ok --json triggers check
expect_json "[(x['trigger'], x['state']) for x in d['decisions']] == [('decay', 'due'), ('fine', 'not-due')] and d['decisions'][0]['evidence']['value'] == 1"
rm mlo.yaml

# A/B: half the users on each arm, each user always on the same one
expect_ok deploy iris@2 --artifact m2.json --env prod --strategy ab --split 50 --sticky-key X-User
expect_rc 2 deploy iris@2 --artifact m2.json --env prod --strategy canary --split 50
expect_err_contains "only --strategy ab or bandit takes"
send_rows "$port" 1000 400 40 > "$TEST_TMP/ab.txt" || fail "A/B requests failed"
$PY - "$TEST_TMP/ab.txt" <<'PY' || fail "sticky assignment: $(head "$TEST_TMP/ab.txt")"
import sys, collections
arm = collections.defaultdict(set)
for sent, version, rid, pred in (l.split() for l in open(sys.argv[1])):
    arm["u%d" % (int(sent[1:]) % 40)].add(version)
assert all(len(v) == 1 for v in arm.values()), arm           # sticky
b = sum(1 for v in arm.values() if v == {"2"})
assert 10 <= b <= 30, b                                         # about half of 40 users
PY
pass
expect_ok --json deploy status prod
expect_json "[v['weight'] for v in d['versions']] == [50, 50]"

# the plan first: sample size per arm for the smallest effect worth finding
# (0.3 -> 0.7 at alpha 0.05, power 0.8: 23.31 by the formula with scipy's norm.isf)
expect_ok --json deploy experiment plan --env prod --metric converted --baseline 0.3 --mde 0.4
expect_json "d['n_per_arm'] == 24 and d['file'] == 'deploy/prod/experiment.json'"
# the plan is a deploy event, for arm B's version (deploy history, audit)
expect_ok --json deploy history prod
expect_json "[(e['action'], e['model'], e['version'], e['detail']['n_per_arm'], e['detail']['metric']) for e in d if e['action'] == 'experiment-plan'] == [('experiment-plan', 'iris', '2', 24, 'converted')]"
expect_ok deploy history prod
expect_out_contains "experiment-plan iris@2  metric converted, 24 per arm"
expect_ok --json audit iris
expect_json "any(e['event'] == 'experiment-plan' and e['detail']['n_per_arm'] == 24 for e in d)"
expect_ok --json deploy experiment plan --metric converted --baseline 0.3 --mde 0.4
expect_ok --json deploy history prod
expect_json "sum(e['action'] == 'experiment-plan' for e in d) == 1"
$PY - "$TEST_TMP/ab.txt" <<'PY'
import sys
with open("outcomes.csv", "w") as f:
    f.write("request_id,converted\n")
    for k, (sent, version, rid, pred) in enumerate(l.split() for l in open(sys.argv[1])):
        if k >= 30: break                      # only the first 30 outcomes are in
        f.write(f"{rid},{1 if version == '2' or k % 3 == 0 else 0}\n")
PY
expect_rc 1 deploy experiment status prod --metric converted --from outcomes.csv
expect_out_contains "No verdict yet"
expect_err_contains "no verdict before the planned sample size"
$PY - "$TEST_TMP/ab.txt" <<'PY'
import sys
with open("outcomes.csv", "w") as f:
    f.write("request_id,converted\n")
    for k, (sent, version, rid, pred) in enumerate(l.split() for l in open(sys.argv[1])):
        f.write(f"{rid},{1 if version == '2' or k % 3 == 0 else 0}\n")
PY
expect_ok --json deploy experiment status prod --metric converted --from outcomes.csv
expect_json "d['ready'] and d['test']['method'] == 'two-proportion z-test' and d['verdict'] == 'B is better' and d['test']['ci'][0] > 0"
expect_json "d['a']['version'] == '1' and d['b']['version'] == '2' and d['a']['n'] + d['b']['n'] == 400"
# the same data in scipy: the same z
printf '%s' "$OUT" | $PY -c "
import json, sys, math
from scipy.stats import norm
d = json.load(sys.stdin); a, b = d['a'], d['b']
xa, xb = a['mean'] * a['n'], b['mean'] * b['n']; p = (xa + xb) / (a['n'] + b['n'])
z = (b['mean'] - a['mean']) / math.sqrt(p * (1 - p) * (1 / a['n'] + 1 / b['n']))
assert abs(z - d['test']['statistic']) < 1e-9 and abs(2 * norm.sf(abs(z)) - d['test']['p_value']) < 1e-9
" || fail "the z-test differs from scipy's"; pass
expect_rc 2 deploy experiment status prod --metric other --from outcomes.csv
expect_err_contains "the plan for 'prod' is on metric 'converted'"
# a logged value (the prediction), Welch t-test
expect_ok --json deploy experiment plan --env prod --metric prediction --kind mean --sd 2 --mde 1
expect_ok --json deploy experiment status prod --metric prediction
expect_json "d['test']['method'] == 'Welch t-test' and d['verdict'] == 'B is better' and d['test']['df'] > 1"
expect_ok deploy experiment status prod --metric prediction
expect_out_contains "% CI ["
expect_rc 2 deploy experiment plan --metric x --baseline 1.5 --mde 0.1
done_testing
