#!/usr/bin/env bash
# What a deployment leaves for git: .mlo/deploy/artifacts/ is ignored and is
# no environment; the tracked events.jsonl holds no local paths; a clone's
# index notices events that git pull brought.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"

git init -q --bare "$TEST_TMP/origin.git"
new_repo a
git remote add origin "$TEST_TMP/origin.git"
linear_model m.json 2
git add -A && git commit -qm model || fail commit
expect_ok register lin m.json
git push -q origin HEAD:main --tags || fail "git push"
git clone -q "$TEST_TMP/origin.git" "$TEST_TMP/b" || fail clone

cd "$TEST_TMP/a"
expect_ok --json deploy lin@v0.0.1 --env prod
expect_json "d['version'] == 'v0.0.1'"
sha=$(sha256sum m.json | cut -c1-64)
expect_file ".mlo/deploy/artifacts/$sha/m.json"
expect_eq "$(git status --porcelain --untracked-files=all .mlo)" "" "git status of .mlo/ while serving"
expect_ok --json deploy ls
expect_json "[e['env'] for e in d] == ['prod']"
expect_rc 2 deploy lin@v0.0.1 --env artifacts
expect_err_contains "holds the deployed models' bytes"
expect_ok deploy stop prod
grep -q "$TEST_TMP" deploy/prod/events.jsonl && fail "events.jsonl holds local paths: $(cat deploy/prod/events.jsonl)"; pass
/usr/bin/python3 - <<'PY' || fail "the deploy event does not name the registered artifact"
import json
e = [json.loads(l) for l in open("deploy/prod/events.jsonl")][0]
assert e["action"] == "deploy" and e["detail"]["artifact"] == "m.json", e
PY
pass
git add -A && git commit -qm deployed && git push -q origin HEAD:main || fail "git push"

# B has an index with the deploy table already; git pull brings A's events
cd "$TEST_TMP/b"
expect_ok --json deploy history
expect_json "d == []"
git pull -q origin main || fail "git pull"
expect_ok --json deploy history prod
expect_json "[e['action'] for e in d] == ['deploy', 'stop'] and d[0]['version'] == 'v0.0.1'"
done_testing
