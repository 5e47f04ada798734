#!/usr/bin/env bash
# mlo lineage and mlo audit past the registry: a registered version deployed
# by a real router (deploy, canary, rollback), requests served and logged, a
# monitor result computed on that request log; the lineage tree (text, --json,
# dot) shows the deployments under the version and the monitor result under
# the deployment; audit lists deploy and rollback events with who and when.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"

new_repo
linear_model m1.json 1
linear_model m2.json 2
expect_ok register iris m1.json --version v1.0.0
expect_ok register iris m2.json --version v2.0.0

# No deployments yet: the tree ends at the version.
expect_ok --json lineage iris@v1.0.0
expect_json "all(c['kind'] != 'deployment' for c in d['children'])"

expect_ok deploy iris@v1.0.0 --env prod
port=$(router_port prod)
infer_many "$port" 5 "$TEST_TMP/r1.txt"
expect_eq "$(grep -c ' 200$' "$TEST_TMP/r1.txt")" 5 "requests answered"
# A canary of v2, then a rollback to v1 (as another person).
expect_ok deploy iris@v2.0.0 --env prod --strategy canary --weight 50
GIT_COMMITTER_NAME="Bob Ops" GIT_COMMITTER_EMAIL=bob@example.com expect_ok deploy rollback prod
infer_many "$port" 5 "$TEST_TMP/r2.txt"
expect_ok deploy stop prod
expect_file .mlo/deploy/prod/requests.jsonl

# A monitor result computed on the deployment's request log.
expect_ok --json monitor -r .mlo/deploy/prod/requests.jsonl -c .mlo/deploy/prod/requests.jsonl
rid=$(/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["id"])' <<<"$OUT")
[ -n "$rid" ] || fail "the monitor result has no id"; pass

expect_ok --json lineage iris@v1.0.0
expect_json "[c['action'] for c in d['children'] if c['kind'] == 'deployment'] == ['deploy', 'rollback', 'stop']"
expect_json "all(c['env'] == 'prod' and c['by'] for c in d['children'] if c['kind'] == 'deployment')"
expect_json "[c for c in d['children'] if c['kind'] == 'deployment'][0]['strategy'] == 'replace'"
expect_json "[c for c in d['children'] if c['kind'] == 'deployment'][1]['by'] == 'Bob Ops <bob@example.com>'"
expect_json "[m['id'] for c in d['children'] if c['kind'] == 'deployment' for m in c['children']] == ['$rid']"
expect_json "[m for c in d['children'] if c['kind'] == 'deployment' for m in c['children']][0]['kind'] == 'monitor_result'"
expect_ok --json lineage iris@v2.0.0
expect_json "[(c['action'], c['strategy']) for c in d['children'] if c['kind'] == 'deployment'] == [('deploy', 'canary')]"
expect_json "all(c['children'] == [] for c in d['children'] if c['kind'] == 'deployment')"
expect_ok lineage iris@v1.0.0
expect_out_contains "deploy iris@v1.0.0 in prod (local, replace"
expect_out_contains "rollback iris@v1.0.0 in prod"
expect_out_contains "by Test Author <author@example.com>"
expect_out_contains "monitor adhoc: drift ok"
expect_ok lineage --dot iris@v1.0.0
expect_out_contains "shape=hexagon"
expect_out_contains "\"monitor_result:$rid\""
# A path reaches the same deployments through the version.
expect_ok --json lineage m1.json
expect_json "any(g['kind'] == 'deployment' for c in d['children'] for g in c['children'])"

# Audit: registry and deploy events together, oldest first, with who and when.
expect_ok --json audit iris
expect_json "[(e['source'], e['event']) for e in d] == [('registry', 'registration'), ('registry', 'registration'), ('deploy', 'deploy'), ('deploy', 'deploy'), ('deploy', 'rollback'), ('deploy', 'stop')]"
expect_json "[e['author'] for e in d if e['event'] == 'rollback'] == ['Bob Ops'] and all(e['date'] and e['time'] for e in d)"
expect_json "[e['env'] for e in d if e['source'] == 'deploy'] == ['prod'] * 4"
expect_ok audit
expect_out_contains "rollback  iris@v1.0.0  env prod"
expect_out_contains "by Bob Ops <bob@example.com>  [deploy]"
expect_ok --json audit --since 2999-01-01
expect_json "d == []"
expect_ok --json audit nosuch
expect_json "d == []"

# The deploy log is tracked, so the index rebuilds with it.
rm -f .mlo/index.db*
expect_ok --json lineage iris@v1.0.0
expect_json "len([c for c in d['children'] if c['kind'] == 'deployment']) == 3"

done_testing
