#!/usr/bin/env bash
# notify: contract_failed (issue 17) against the real signed-webhook receiver:
# a failed 'mlo data validate' and a pipeline stage stopped by its dep's
# contract each send one event naming the dataset, its version and the failed
# checks; the same failure again is not sent twice; a passing validation and
# a target that does not take contract_failed send nothing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_loop.sh"
PY=/usr/bin/python3
export MLO_TEST_HOOK_SECRET="s3cret-$$"
start_receiver "$MLO_TEST_HOOK_SECRET"
trap 'kill $RECEIVER 2>/dev/null; cleanup' EXIT
received() { [ -f "$RECEIVED" ] && wc -l < "$RECEIVED" || echo 0; }
check_received() {
  $PY - "$RECEIVED" "$1" <<'PY' || fail "receiver check failed: $1
$(cat "$RECEIVED" 2>/dev/null)"
import json, os, sys
r = [json.loads(l) for l in open(sys.argv[1])] if os.path.exists(sys.argv[1]) else []
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
  pass
}

new_repo nc
mkdir data
printf 'id,age\n1,30\n2,41\n3,52\n' > data/people.csv
expect_ok data add data/people.csv
cat > mlo.yaml <<YAML
stages:
  count:
    cmd: wc -l < data/people.csv > count.txt
    deps: [data/people.csv]
    outs: [count.txt]
checks:
  data/people.csv:
    columns:
      age: {type: integer, min: 18, max: 99}
notify:
  hook:
    type: webhook
    url: http://127.0.0.1:$PORT/hook
    secret_env: MLO_TEST_HOOK_SECRET
    cooldown: 0s
  drift_only:
    type: webhook
    url: http://127.0.0.1:$PORT/drift-only
    secret_env: MLO_TEST_HOOK_SECRET
    events: [drift]
YAML
git add -A && git commit -qm project || fail commit

# passing data: nothing is sent
expect_ok data validate data/people.csv
expect_eq "$(received)" 0 "events after a passing validation"

# failing data: one signed event for the target that takes it
printf 'id,age\n1,30\n2,7\n3,52\n4,130\n' > data/people.csv
expect_ok data add data/people.csv
v2=$(sha256sum data/people.csv | cut -c1-64)
expect_rc 1 data validate data/people.csv
expect_eq "$(received)" 1 "events after a failed validation"
check_received "r[0]['path'] == '/hook' and r[0]['signature_ok'] and r[0]['event'] == 'contract_failed'"
check_received "r[0]['body']['subject'] == 'data/people.csv' and 'mlo.yaml:' in r[0]['body']['detail']['contract']"
check_received "(lambda f: f['version'] == '$v2' and f['failed_checks'] == 1 and [(c['check'], c['column'], c['failed']) for c in f['checks']] == [('range', 'age', 2)] and f['checks'][0]['example']['line'] == 3)(r[0]['body']['detail']['failures'])"

# the same failure again: a duplicate, not sent (cooldown 0: only duplicates are held)
expect_rc 1 data validate data/people.csv
expect_eq "$(received)" 1 "events after the same failure again"

# a pipeline stage stopped by the contract: the failure differs (another row), so it is sent
printf 'id,age\n1,30\n2,7\n' > data/people.csv
expect_ok data add data/people.csv
git add -A && git commit -qm "bad data" || fail commit
expect_rc 1 run
expect_eq "$(received)" 2 "events after a run stopped by the contract"
check_received "r[1]['event'] == 'contract_failed' and r[1]['body']['detail']['failures']['checks'][0]['failed'] == 1"
grep -q '"status":"duplicate"' .mlo/notify/log.jsonl || fail "the duplicate is not in .mlo/notify/log.jsonl"; pass

done_testing
