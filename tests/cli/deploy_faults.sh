#!/usr/bin/env bash
# Runners that never become ready, exit at start, crash, or return errors are
# detected; crashed runners restart a bounded number of times; a bad canary is
# rolled back automatically by the thresholds in mlo.yaml.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"

new_repo
linear_model m1.json 1
linear_model m2.json 2
fault_runner never-ready.sh never-ready
fault_runner exits.sh exit-at-start
fault_runner crashy.sh crash-after=5
fault_runner failing.sh error
cat > mlo.yaml <<'YAML'
deployments:
  prod:
    max_restarts: 2
    ready_timeout_s: 2
    thresholds:
      max_error_rate: 0.2
      min_requests: 20
  staging:
    max_restarts: 2
YAML

# A runner that never becomes ready: exit 5 after the timeout, nothing left running.
expect_rc 5 deploy iris@1 --artifact m1.json --env prod --runner ./never-ready.sh
expect_err_contains "did not become ready within 2 s"
expect_no_file .mlo/deploy/prod/router.json
# A runner that exits at start: its status and log tail are reported.
expect_rc 5 deploy iris@1 --artifact m1.json --env prod --runner ./exits.sh
expect_err_contains "exited with status 1 before it became ready"
expect_err_contains "injected fault"

# A good primary; a bad new version never takes traffic and the primary keeps serving.
expect_ok deploy iris@1 --artifact m1.json --env prod
port=$(router_port prod)
expect_rc 5 deploy iris@2 --artifact m2.json --env prod --runner ./never-ready.sh --strategy blue-green
expect_err_contains "previous version keeps serving"
infer_many "$port" 20 "$TEST_TMP/still.txt"
expect_eq "$(count_version "$TEST_TMP/still.txt" 1)" 20 "primary still serves"

# A canary that returns errors: the router rolls it back once its error rate
# crosses max_error_rate; clients then only see the primary.
expect_ok deploy iris@2 --artifact m2.json --env prod --runner ./failing.sh --strategy canary --weight 50
infer_many "$port" 200 "$TEST_TMP/errors.txt"
sleep 0.5
expect_ok --json deploy status prod
expect_json "[v['role'] for v in d['versions']] == ['primary'] and 'max_error_rate' in d['notices'][-1]['message']"
infer_many "$port" 50 "$TEST_TMP/after.txt"
expect_eq "$(count_version "$TEST_TMP/after.txt" 1)" 50 "after auto-rollback"
expect_ok --json deploy history prod
expect_json "d[-1]['action'] == 'auto-rollback' and d[-1]['version'] == '2' and 'error rate' in d[-1]['detail']['reason']"

# A canary whose runner crashes (no thresholds in staging): restarted
# max_restarts times, then reported and dropped; its requests fall back to the
# primary, so no client sees a failure.
expect_ok deploy iris@1 --artifact m1.json --env staging
sport=$(router_port staging)
expect_ok deploy iris@2 --artifact m2.json --env staging --runner ./crashy.sh --strategy canary --weight 50
for i in 1 2 3 4 5; do
  infer_many "$sport" 30 "$TEST_TMP/crash$i.txt"
  expect_eq "$(grep -vc ' 200$' "$TEST_TMP/crash$i.txt")" 0 "failed requests while the canary crashes"
  sleep 0.4
done
expect_ok --json deploy history staging
expect_json "[e['action'] for e in d][-2:] == ['runner-failed', 'auto-rollback'] and d[-2]['detail']['restarts'] == 2"
expect_ok deploy status staging
expect_out_contains "giving up"
expect_ok deploy stop staging

# A crashing primary is restarted and serves again.
expect_ok deploy iris@2 --artifact m2.json --env prod --runner ./crashy.sh
infer_many "$port" 5 "$TEST_TMP/p1.txt"
sleep 0.8
infer_many "$port" 3 "$TEST_TMP/p2.txt"
expect_eq "$(count_version "$TEST_TMP/p2.txt" 2)" 3 "restarted primary serves"
expect_ok --json deploy status prod
expect_json "d['versions'][0]['restarts'] == 1 and d['versions'][0]['ready']"
# Once the router gives up on it, redeploying that version is no no-op: its
# runner starts afresh (and the history gains no entry).
primary_state() {
  "$MLO" --json deploy status prod | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["versions"][0]["state"])'
}
for _ in $(seq 100); do
  [ "$(primary_state)" = failed ] && break
  infer_many "$port" 5 "$TEST_TMP/p3.txt"
  sleep 0.2
done
expect_eq "$(primary_state)" failed "the primary after crashing past max_restarts"
expect_ok deploy iris@2 --artifact m2.json --env prod --runner ./crashy.sh
expect_out_contains "Deployed iris@2"
expect_ok --json deploy status prod
expect_json "d['versions'][0]['state'] == 'ready' and d['versions'][0]['restarts'] == 0 and len(d['versions']) == 1"
expect_json "[h['version'] for h in d['history']] == ['1']"
expect_ok deploy stop prod

done_testing
