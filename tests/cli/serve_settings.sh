#!/usr/bin/env bash
# Changed serving settings reach running runners (issue 23): a deploy whose
# deployments.ENV.serving differs from what a runner was started with restarts
# that runner in place (a new one beside it takes over once ready, no request
# fails); a deploy with the same settings leaves running runners alone.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"

new_repo
linear_model m1.json 1
linear_model m2.json 2
printf 'deployments:\n  prod:\n    serving: {workers: 1}\n' >mlo.yaml
expect_ok deploy iris@1 --artifact m1.json --env prod
port=$(router_port prod)
# pid_of ROLE: the pid of the runner with that role.
pid_of() {
  "$MLO" --json deploy status prod | /usr/bin/python3 -c '
import json, sys
print(next(v["pid"] for v in json.load(sys.stdin)["versions"] if v["role"] == sys.argv[1]))' "$1"
}
first=$(pid_of primary)
expect_eq "$(pgrep -P "$first" | wc -l)" 0 "worker processes of a one-process runner"

# Same settings, a canary: the primary's runner keeps running.
expect_ok deploy iris@2 --artifact m2.json --env prod --strategy canary --weight 10
expect_eq "$(pid_of primary)" "$first" "primary runner after a deploy with the same settings"
expect_ok deploy rollback prod

# New settings with the next deploy, under load: the primary's runner is
# restarted with them and no request fails.
printf 'deployments:\n  prod:\n    serving: {workers: 2, max_batch_size: 8, max_batch_time_ms: 1}\n' >mlo.yaml
infer_many "$port" 2000 load.txt &
load=$!
expect_ok deploy iris@2 --artifact m2.json --env prod --strategy canary --weight 10
wait $load
expect_eq "$(grep -vc ' 200$' load.txt)" 0 "failed requests while the primary restarted"
second=$(pid_of primary)
[ "$second" != "$first" ] || fail "the primary's runner was not restarted for the new settings"; pass
expect_eq "$(pgrep -P "$second" | wc -l)" 2 "worker processes after the restart"
pid_running "$first" && fail "the old primary runner still runs"; pass
canary=$(pid_of canary)
expect_eq "$(pgrep -P "$canary" | wc -l)" 2 "the canary's worker processes"
expect_eq "$(cat .mlo/deploy/prod/runner-*.pid | sort | tr '\n' ' ')" "$(printf '%s\n' "$second" "$canary" | sort | tr '\n' ' ')" \
  "pid files of the running runners"
expect_ok --json deploy status prod
expect_json "any('serving settings changed: restarting the runner of iris version 1' in n['message'] for n in d['notices'])"
infer_many "$port" 20 after.txt
expect_eq "$(grep -c ' 200$' after.txt)" 20 "answers after the restart"
done_testing
