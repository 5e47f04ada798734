#!/usr/bin/env bash
# Notifications (notify: in mlo.yaml) against a real HTTP server this test
# starts (tests/cli/webhook_receiver.py), which checks each body's
# HMAC-SHA256 signature as a production receiver would: a refused promotion,
# a forced one and dataset drift each reach the targets that take them
# (signed webhook, Slack-compatible body, command); retries with backoff get
# through a flaky receiver; the same event is sent once (de-duplication) and
# a new one for the same monitor waits out the cooldown; an unreachable,
# slow or misconfigured target never fails or stalls the command (bounded
# time, warning, .mlo/notify/log.jsonl).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_loop.sh"
PY=/usr/bin/python3
HERE="$(cd "$(dirname "$0")" && pwd)"
export MLO_TEST_HOOK_SECRET="s3cret-$$"
start_receiver "$MLO_TEST_HOOK_SECRET"
trap 'kill $RECEIVER 2>/dev/null; cleanup' EXIT
export MLO_TEST_SLACK_URL="http://127.0.0.1:$PORT/slack"
received() { [ -f "$RECEIVED" ] && wc -l < "$RECEIVED" || echo 0; }
# check_received PYTHON-EXPR over r (the list of received requests)
check_received() {
  $PY - "$RECEIVED" "$1" <<'PY' || fail "receiver check failed: $1
$(cat "$RECEIVED" 2>/dev/null)"
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])] if __import__("os").path.exists(sys.argv[1]) else []
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
  pass
}
# check_log PYTHON-EXPR over l (the lines of .mlo/notify/log.jsonl)
check_log() {
  $PY - "$1" <<'PY' || fail "notify log check failed: $1
$(cat .mlo/notify/log.jsonl)"
import json, sys
l = [json.loads(x) for x in open(".mlo/notify/log.jsonl")]
sys.exit(0 if eval(sys.argv[1]) else 1)
PY
  pass
}

new_repo nt
gen ref.csv 800 0 1
gen cur.csv 800 1 2
printf '{"w": 1}\n' > weights.json
printf '{"acc": 0.91}\n' > acc.json
{ loop_yaml "cp weights.json model.json && cp acc.json metrics.json" "weights.json, acc.json" 0.95; cat <<YAML
monitors:
  m:
    reference: ref.csv
    current: cur.csv
notify:
  hook:
    type: webhook
    url: http://127.0.0.1:$PORT/hook
    secret_env: MLO_TEST_HOOK_SECRET
  flaky:
    type: webhook
    url: http://127.0.0.1:$PORT/fail-2
    secret_env: MLO_TEST_HOOK_SECRET
    events: [gate_refused]
    retries: 3
  chat:
    type: slack
    url_env: MLO_TEST_SLACK_URL
    events: [forced_promotion]
  script:
    type: command
    command: [sh, -c, 'cat >> events-from-command.jsonl; echo >> events-from-command.jsonl']
    events: [drift]
YAML
} > mlo.yaml
# the notify: section matches schemas/mlo-notify.schema.json, which refuses bad targets
$PY - "${MLO_SOURCE_DIR:-$HERE/../..}/schemas/mlo-notify.schema.json" <<'PY' || fail "notify: does not match its schema"
import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
v.validate(yaml.safe_load(open("mlo.yaml"))["notify"])
bad = {"x": {"type": "email", "cooldown": "soon", "retries": 99}}
assert len(list(v.iter_errors(bad))) >= 3, "schema accepts a bad target"
PY
pass
printf 'events-from-command.jsonl\n' >> .gitignore
git add -A && git commit -qm setup
expect_ok run -q
expect_ok register clf --stage train

# a refused promotion: signed JSON to hook; flaky answers 500 twice, the third attempt gets through
expect_rc 1 promote clf@v0.0.1 --to production
check_received "[x['path'] for x in r] == ['/hook', '/fail-2', '/fail-2', '/fail-2']"
check_received "all(x['signature_ok'] and x['event'] == 'gate_refused' for x in r)"
check_received "r[0]['body']['event'] == 'gate_refused' and r[0]['body']['subject'] == 'clf@v0.0.1' and 'acc >= 0.95' in r[0]['body']['summary'] and r[0]['body']['detail']['stage'] == 'production'"
check_log "[(x['target'], x['status'], x['attempts']) for x in l] == [('hook', 'sent', 1), ('flaky', 'sent', 3)]"
# the same refusal again: the same event, sent once per target
expect_rc 1 promote clf@v0.0.1 --to production
expect_eq "$(received)" 4 "a repeated refusal was sent again"
check_log "[x['status'] for x in l[2:]] == ['duplicate', 'duplicate']"

# a forced promotion: to hook (signed) and chat (Slack-compatible {text})
expect_ok promote clf@v0.0.1 --to production --force
check_received "r[4]['path'] == '/hook' and r[4]['event'] == 'forced_promotion' and r[4]['signature_ok']"
check_received "r[5]['path'] == '/slack' and not r[5]['signed'] and list(r[5]['body']) == ['text'] and 'FORCED' in r[5]['body']['text']"

# dataset drift: to hook and the command (event JSON on its stdin)
expect_ok monitor m
check_received "r[6]['event'] == 'drift' and r[6]['body']['subject'] == 'm' and 'age' in r[6]['body']['detail']['drifted_columns']"
$PY -c "
import json; e=[json.loads(l) for l in open('events-from-command.jsonl') if l.strip()]
assert len(e)==1 and e[0]['event']=='drift' and e[0]['subject']=='m'" || fail "the command target did not get the drift event"; pass
# the same data again: no second notification; other drifted data within the cooldown: held back
expect_ok monitor m
expect_eq "$(received)" 7 "repeated drift was notified twice"
gen cur.csv 800 2 3
expect_ok monitor m
expect_eq "$(received)" 7 "a second drift inside the cooldown was sent"
check_log "l[-2]['status'] == 'cooldown' and l[-2]['target'] == 'hook' and 'cooldown' in l[-2]['error']"

# failures never fail or stall the command: a closed port, a server that
# does not answer, a secret that is not set
cp mlo.yaml base.yaml
cat >> mlo.yaml <<YAML
  down:
    type: webhook
    url: http://127.0.0.1:1/nothing-listens
    retries: 2
    timeout: 1s
  stuck:
    type: webhook
    url: http://127.0.0.1:$PORT/slow
    retries: 5
    timeout: 1s
YAML
gen cur.csv 800 3 4
start=$(date +%s)
expect_ok monitor m --json
elapsed=$(( $(date +%s) - start ))
[ "$elapsed" -lt 20 ] || fail "failing targets held the command for ${elapsed}s"; pass
expect_err_contains "warning: notification 'drift' to down failed after 3 attempt(s)"
expect_err_contains "warning: notification 'drift' to stuck failed"
expect_json "d['summary']['drift'] == 'drift'"  # stdout stays the command's own JSON
check_log "any(x['target'] == 'down' and x['status'] == 'failed' and x['attempts'] == 3 for x in l)"
check_log "any(x['target'] == 'stuck' and x['status'] == 'failed' and x['attempts'] <= 4 for x in l)"
mv base.yaml mlo.yaml
# the signing secret unset: nothing unsigned goes to hook (logged); chat needs none
expect_ok demote clf@v0.0.1 --from production
n=$(received)
MLO_TEST_HOOK_SECRET= expect_ok promote clf@v0.0.1 --to production --force
expect_eq "$(received)" "$((n + 1))" "hook got a body without its secret (or chat got nothing)"
check_received "r[-1]['path'] == '/slack'"
check_log "any(x['target'] == 'hook' and x['status'] == 'failed' and 'not sending unsigned' in x['error'] for x in l)"
# a receiver that checks signatures refuses a body signed with another secret (401: not retried)
cat >> mlo.yaml <<YAML
  forged:
    type: webhook
    url: http://127.0.0.1:$PORT/hook
    secret_env: MLO_TEST_OTHER_SECRET
    events: [forced_promotion]
YAML
expect_ok demote clf@v0.0.1 --from production
MLO_TEST_OTHER_SECRET=wrong expect_ok promote clf@v0.0.1 --to production --force
check_received "any(x['signed'] and not x['signature_ok'] for x in r)"
check_log "any(x['target'] == 'forged' and x['status'] == 'failed' and x['attempts'] == 1 and '401' in x['error'] for x in l)"
# while hook, with the right secret, got this second forced promotion (a new event: decisions have no cooldown)
check_received "sum(1 for x in r if x['path'] == '/hook' and x['event'] == 'forced_promotion' and x['signature_ok']) == 2"
done_testing
