#!/usr/bin/env bash
# Redeploying what already serves (issue 23): the same version with the same
# settings is a no-op (message, exit 0, no event, no history entry, no
# restart); a changed setting is applied to the same runner without a history
# entry; rollback steps back to the previous *different* version.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"

new_repo
linear_model m1.json 1
linear_model m2.json 2
# primary_pid: the pid of the runner serving as primary.
primary_pid() {
  "$MLO" --json deploy status prod | /usr/bin/python3 -c '
import json, sys
print(next(v["pid"] for v in json.load(sys.stdin)["versions"] if v["role"] == "primary"))'
}
events() { wc -l <deploy/prod/events.jsonl | tr -d ' '; }

expect_ok deploy iris@1 --artifact m1.json --env prod
expect_ok deploy iris@2 --artifact m2.json --env prod
first=$(primary_pid)
n=$(events)

# The same version again: nothing happens.
expect_ok deploy iris@2 --artifact m2.json --env prod
expect_out_contains "iris@2 already serves prod; nothing changed"
expect_ok --json deploy iris@2 --artifact m2.json --env prod
expect_json "d['changed'] is False and d['version'] == '2' and d['primary']['version'] == '2'"
expect_eq "$(events)" "$n" "events after two no-op redeploys"
expect_eq "$(primary_pid)" "$first" "primary runner after a no-op redeploy"
# --ready-timeout is how long the deploy waits, not a serving setting: a
# redeploy that changes only it is a no-op too.
expect_ok --json deploy iris@2 --artifact m2.json --env prod --ready-timeout 77
expect_json "d['changed'] is False"
expect_eq "$(events)" "$n" "events after a redeploy with only a new --ready-timeout"
expect_eq "$(primary_pid)" "$first" "primary runner after a redeploy with only a new --ready-timeout"
expect_ok --json deploy status prod
expect_json "[h['version'] for h in d['history']] == ['1']"

# Another artifact under the same version label is a new version.
linear_model m2b.json 5
expect_ok --json deploy iris@2 --artifact m2b.json --env prod
expect_json "d['changed'] is True"
expect_ok deploy rollback prod
expect_out_contains "now serving iris@2"

# A changed setting restarts the same version's runner, recorded, no history entry.
printf 'deployments:\n  prod:\n    serving: {workers: 2}\n' >mlo.yaml
n=$(events)
first=$(primary_pid)
expect_ok deploy iris@2 --artifact m2.json --env prod
expect_out_contains "Deployed iris@2"
expect_eq "$(events)" "$((n + 1))" "events after a settings change"
second=$(primary_pid)
[ "$second" != "$first" ] || fail "the runner was not restarted for the new settings"; pass
expect_eq "$(pgrep -P "$second" | wc -l)" 2 "worker processes after the settings change"
expect_ok --json deploy status prod
expect_json "d['versions'][0]['version'] == '2' and len(d['versions']) == 1"

# A canary already at that weight: no-op; a new weight is applied to the same runner.
expect_ok deploy iris@1 --artifact m1.json --env prod --strategy canary --weight 20
canary() {
  "$MLO" --json deploy status prod | /usr/bin/python3 -c '
import json, sys
print(next(v["pid"] for v in json.load(sys.stdin)["versions"] if v["role"] == "canary"))'
}
c=$(canary)
expect_ok deploy iris@1 --artifact m1.json --env prod --strategy canary --weight 20
expect_out_contains "iris@1 already serves prod as canary at 20%; nothing changed"
expect_ok deploy iris@1 --artifact m1.json --env prod --strategy canary --weight 40
expect_out_contains "40% of requests"
expect_eq "$(canary)" "$c" "the canary's runner after a weight change"
expect_ok deploy rollback prod

# Rollback steps to the previous different version, however often v2 was deployed.
expect_ok deploy rollback prod
expect_out_contains "now serving iris@1"
expect_rc 3 deploy rollback prod
expect_err_contains "nothing to roll back to"
expect_ok --json deploy history prod
expect_json "[e['action'] for e in d] == ['deploy','deploy','deploy','rollback','deploy','deploy','deploy','rollback','rollback']"
done_testing
