#!/usr/bin/env bash
# Shadow mirroring is forwarded like any request (issue 23): a shadow that
# never answers holds no thread and no slot of the primary; at most its
# in-flight limit and queue (serving.max_inflight + max_queue) of mirrored
# requests wait for it, the rest are dropped and counted, and every client is
# answered by the primary meanwhile.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"

new_repo
linear_model m1.json 1
linear_model m3.json 3
cat >mlo.yaml <<'EOF'
deployments:
  prod:
    serving: {max_inflight: 2, max_queue: 3}
EOF
# The shadow's runner takes 20 s over each prediction: through the 20
# requests below, its 2 slots and 3 queue places stay taken.
fault_runner stuck.sh delay=20000
expect_ok deploy iris@1 --artifact m1.json --env prod
expect_ok deploy iris@3 --artifact m3.json --env prod --strategy shadow --runner "$PWD/stuck.sh"
port=$(router_port prod)
infer_many "$port" 20 answers.txt
expect_eq "$(grep -c ' 200$' answers.txt)" 20 "primary answers while the shadow is stuck"
expect_eq "$(count_version answers.txt 1)" 20 "answers from the primary"
# The last mirror may still be on its way into the forwarder: wait for the count to settle.
for _ in $(seq 100); do
  dropped=$(curl -s "http://127.0.0.1:$port/metrics" | sed -n 's/^mlo_shadow_dropped_total{[^}]*} //p')
  [ "$dropped" = 15 ] && break
  sleep 0.1
done
expect_eq "$dropped" 15 "mirrored requests dropped (20 less 2 in flight and 3 queued)"
# The primary's 20 lines are in the request log (written every 100 ms) and no
# shadow line is: the shadow has answered nothing, and nothing waited for it.
for _ in $(seq 100); do
  [ "$(grep -c '"role":"primary"' .mlo/deploy/prod/requests.jsonl 2>/dev/null)" -ge 20 ] && break
  sleep 0.1
done
expect_eq "$(grep -c '"role":"primary"' .mlo/deploy/prod/requests.jsonl)" 20 "primary lines in the request log"
expect_eq "$(grep -c '"role":"shadow"' .mlo/deploy/prod/requests.jsonl)" 0 "shadow lines before the shadow answered"
# Dropping the shadow does not wait for its stuck requests beyond the drain time.
expect_ok deploy rollback prod
infer_many "$port" 5 after.txt
expect_eq "$(count_version after.txt 1)" 5 "answers after the shadow was dropped"
done_testing
