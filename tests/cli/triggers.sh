#!/usr/bin/env bash
# Retraining triggers (triggers: in mlo.yaml; mlo triggers check|ls|history):
# a schedule fires once per period however often it is checked; new data
# fires on a new version once it grew by the rows asked for (the first
# version is the baseline); a drift trigger runs its monitor and fires on
# drift; each firing runs its action (run, register, propose) and is recorded
# with its evidence (triggers history, mlo audit), claims made in the same
# second in the order they were made; two clones checking the same schedule
# at once with --push act once between them.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_loop.sh"
PY=/usr/bin/python3
new_repo tr
mkdir -p data
gen data/train.csv 500 0 1
gen data/batch.csv 500 0 2
cat > train.py <<'PY'
import csv, json
rows = list(csv.DictReader(open("data/train.csv")))
json.dump({"rows": len(rows)}, open("model.json", "w"))
json.dump({"acc": 0.91}, open("metrics.json", "w"))
PY
{ loop_yaml "/usr/bin/python3 train.py" "train.py, data/train.csv" 0.9; cat <<'YAML'
monitors:
  prod:
    reference: data/train.csv
    current: data/batch.csv
triggers:
  nightly:
    description: retrain every night
    schedule: "0 3 * * *"
    action: {run: [train], register: clf}
  more-data:
    new_data: {path: data/train.csv, rows: 100}
    action: {run: [train], register: clf}
  drifted:
    drift: prod
    action: {run: [train], register: clf, propose: production}
YAML
} > mlo.yaml
$PY - "${MLO_SOURCE_DIR:-$(dirname "$0")/../..}/schemas/mlo-triggers.schema.json" <<'PY' || fail "triggers: does not match its schema"
import json, sys, yaml, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
v.validate(yaml.safe_load(open("mlo.yaml"))["triggers"])
bad = {"t": {"schedule": 5, "new_data": {"rows": 0}, "action": {"deploy": "x"}}, "u": {"schedule": "@daily"}}
assert len(list(v.iter_errors(bad))) >= 4, "schema accepts bad triggers"
PY
pass
expect_ok data add data/train.csv
git add -A && git commit -qm "pipeline, model, monitor, triggers"
expect_ok run -q
expect_ok register clf --stage train
runs() { "$MLO" --json runs ls --stage train | $PY -c "import json,sys; print(len(json.load(sys.stdin)))"; }

# ls: each trigger, its condition and the schedule's next time
expect_ok triggers ls --json
expect_json "[t['name'] for t in d['triggers']] == ['nightly', 'more-data', 'drifted'] and d['triggers'][0]['condition'] == '0 3 * * *'"
expect_ok triggers ls
expect_out_contains "monitor prod finds dataset drift"

# a dry check: says what is due, records nothing
expect_ok --json triggers check --now 2026-12-04T10:00:00Z
expect_json "[(x['trigger'], x['state']) for x in d['decisions']] == [('nightly', 'due'), ('more-data', 'baseline'), ('drifted', 'not-due')]"
expect_json "d['decisions'][0]['evidence']['period_start'] == '2026-12-04T03:00:00Z'"
expect_ok --json triggers history
expect_json "d['decisions'] == []"

# --act: the schedule fires (the stage is up to date: nothing new to register),
# the dataset's version becomes the baseline, no drift
expect_ok --json triggers check --act --now 2026-12-04T10:00:00Z
expect_json "[(x['trigger'], x['state']) for x in d['decisions']] == [('nightly', 'unchanged'), ('more-data', 'baseline'), ('drifted', 'not-due')]"
expect_json "d['decisions'][0]['outcome']['steps'][0]['command'] == 'mlo run train'"
# checked again in the same period (cron every minute): nothing fires twice
expect_ok --json triggers check --act --now 2026-12-04T10:31:00Z
expect_json "[x['state'] for x in d['decisions']] == ['already-fired', 'not-due', 'not-due']"
expect_ok triggers check --act --now 2026-12-05T02:59:59Z
expect_out_contains "nightly (schedule): already-fired"
# the next period fires again
expect_ok --json triggers check --act --trigger nightly --now 2026-12-05T03:00:00Z
expect_json "[(x['trigger'], x['state']) for x in d['decisions']] == [('nightly', 'unchanged')]"

# new data: 50 more rows are not enough, 120 are; the trigger retrains on them
gen data/more.csv 50 0 3
tail -n +2 data/more.csv >> data/train.csv
expect_ok data add data/train.csv
expect_ok --json triggers check --act --trigger more-data
expect_json "d['decisions'][0]['state'] == 'not-due' and d['decisions'][0]['evidence']['rows_added'] == 50"
gen data/more.csv 70 0 4
tail -n +2 data/more.csv >> data/train.csv
expect_ok data add data/train.csv
expect_ok --json triggers check --act --trigger more-data
expect_json "d['decisions'][0]['state'] == 'done' and d['decisions'][0]['evidence']['rows_added'] == 120 and d['decisions'][0]['outcome']['version'] == 'clf@v0.0.2'"
expect_ok --json models show clf@v0.0.2
expect_eq "$(runs)" 2 "training runs after the new-data trigger"
expect_ok --json triggers check --act --trigger more-data
expect_json "d['decisions'][0]['state'] == 'not-due'"

# drift: the check runs the monitor (recording its result) and retrains, registers, promotes
gen data/batch.csv 500 1 5
expect_ok --json triggers check --act --trigger drifted
expect_json "d['decisions'][0]['state'] in ('done', 'unchanged') and 'age' in d['decisions'][0]['evidence']['drifted_columns']"
expect_ok --json triggers check --act --trigger drifted
expect_json "d['decisions'][0]['state'] == 'already-fired'"
expect_ok --json monitor history prod
expect_json "len(d['results']) >= 2"

# every decision, with its evidence and who made it: history and audit
expect_ok --json triggers history
expect_json "[x['trigger'] for x in d['decisions']].count('nightly') == 2 and all(x['claimed_by'].startswith('Test Author') for x in d['decisions'])"
expect_json "any(x['trigger'] == 'more-data' and x['state'] == 'baseline' for x in d['decisions'])"
expect_ok audit
expect_out_contains "[trigger]"
expect_out_contains "new version"
expect_ok triggers ls
expect_out_contains "done"

# bad triggers: exactly one condition, a valid schedule, a known monitor
cp mlo.yaml good.yaml
printf '  both:\n    schedule: "@daily"\n    drift: prod\n    action: {run: [train]}\n' >> mlo.yaml
expect_rc 3 triggers check
expect_err_contains "has 2 conditions; it needs exactly one"
cp good.yaml mlo.yaml
printf '  typo:\n    schedule: "0 25 * * *"\n    action: {run: [train]}\n' >> mlo.yaml
expect_rc 3 triggers ls
expect_err_contains "mlo.yaml:"
expect_err_contains "hour field '25' is outside 0-23"
cp good.yaml mlo.yaml
printf '  unknown:\n    drift: nope\n    action: {run: [train]}\n' >> mlo.yaml
expect_rc 3 triggers check --trigger unknown
expect_err_contains "names monitor 'nope'"
cp good.yaml mlo.yaml
printf '  wrong:\n    schedule: "@daily"\n    actions: {run: [train]}\n' >> mlo.yaml
expect_rc 3 triggers ls
expect_err_contains "unknown key 'actions'"
cp good.yaml mlo.yaml
expect_rc 2 triggers check --push
expect_rc 3 triggers check --trigger nope

# two machines, one shared git remote: both check at the same moment, one acts
git init -q --bare "$TEST_TMP/origin.git"
mkdir "$TEST_TMP/two" && cd "$TEST_TMP/two" || fail "cd"
git init -q a && cd a && "$MLO" init -q || fail "init"
cat > mlo.yaml <<YAML
stages:
  stamp:
    cmd: "echo \$\$ >> $TEST_TMP/acted.log && date +%s%N > stamp.txt"
    outs: [stamp.txt]
triggers:
  hourly:
    schedule: "@hourly"
    action: {run: [stamp]}
YAML
git add -A && git commit -qm shared && git remote add origin "$TEST_TMP/origin.git" && git push -q origin main
cd .. && git clone -q "$TEST_TMP/origin.git" b || fail "clone"
(cd a && "$MLO" --json triggers check --act --push --now 2026-12-04T10:00:00Z > ../a.json 2> ../a.err) &
(cd b && "$MLO" --json triggers check --act --push --now 2026-12-04T10:00:00Z > ../b.json 2> ../b.err) &
wait
expect_eq "$(wc -l < "$TEST_TMP/acted.log" | tr -d ' ')" 1 "stage runs between the two clones"
$PY - <<'PY' || fail "the two clones' decisions: $(cat a.json b.json a.err b.err)"
import json
s = sorted(json.load(open(f))["decisions"][0]["state"] for f in ("a.json", "b.json"))
assert s in (["already-fired", "done"], ["claimed-elsewhere", "done"]), s
PY
pass
expect_eq "$(git -C a ls-remote origin 'refs/mlo/triggers/*' | wc -l | tr -d ' ')" 1 "claims on the remote"
# the clone that did not act sees the claim (and its outcome) in its history
cd b
expect_ok --json triggers check --act --push --now 2026-12-04T10:59:00Z
expect_json "d['decisions'][0]['state'] == 'already-fired'"
expect_ok --json triggers history
expect_json "len(d['decisions']) == 1 and d['decisions'][0]['state'] == 'done'"
# the interleaving that loses the race, made certain: b has fetched the
# claims and made its own when a's claim for the same occasion lands, before
# b pushes (a git reference-transaction hook in b runs a's check as b's claim
# is made). The two claims have the same time, identity and host: only a
# nonce keeps them from being one object, which the remote would take twice.
cd "$TEST_TMP/two"
git -C b fetch -q origin '+refs/mlo/triggers/*:refs/mlo/triggers/*' '+refs/mlo/trigger-outcomes/*:refs/mlo/trigger-outcomes/*'
cat > b/.git/hooks/reference-transaction <<HOOK
#!/bin/sh
[ "\$1" = committed ] || exit 0
[ -e "$TEST_TMP/hook.done" ] && exit 0
touch "$TEST_TMP/hook.done"
cd "$TEST_TMP/two/a" && env -u GIT_DIR -u GIT_WORK_TREE -u GIT_INDEX_FILE "$MLO" --json triggers check --act --push --now 2026-12-04T12:00:00Z > ../a2.json 2> ../a2.err
exit 0
HOOK
chmod +x b/.git/hooks/reference-transaction
(cd b && "$MLO" --json triggers check --act --push --now 2026-12-04T12:00:00Z > ../b2.json 2> ../b2.err)
[ -e "$TEST_TMP/hook.done" ] || fail "b made no claim: $(cat b2.err)"
rm b/.git/hooks/reference-transaction
expect_eq "$(git -C a ls-remote origin 'refs/mlo/triggers/*' | wc -l | tr -d ' ')" 2 "claims on the remote after the interleaved race"
$PY - <<'PY' || fail "the interleaved decisions (a, b): $(cat a2.json b2.json a2.err b2.err)"
import json
s = [json.load(open(f))["decisions"][0]["state"] for f in ("a2.json", "b2.json")]
assert s == ["done", "claimed-elsewhere"], s
PY
pass

# claims made in the same second are listed in the order they were made, not
# by their refs' names: mid alone, then one check firing hourly, zeta, alpha
# (mlo.yaml's order); a claim from before claimed_ns comes first in its second
cd a
printf '  %s:\n    schedule: "0 0 1 1 *"\n    action: {run: [stamp]}\n' zeta alpha mid >> mlo.yaml
printf '{"trigger": "legacy", "kind": "schedule", "key": "k", "reason": "r", "evidence": {}, "claimed_at": "2027-01-01T00:30:00Z", "claimed_by": "x", "baseline": false}\n' \
  | git hash-object -w --stdin | xargs git update-ref refs/mlo/triggers/legacy/k
expect_ok --json triggers check --act --trigger mid --now 2027-01-01T00:30:00Z
expect_ok --json triggers check --act --now 2027-01-01T00:30:00Z
expect_json "[x['state'] for x in d['decisions']] == ['done', 'done', 'done', 'already-fired']"
expect_ok --json triggers history
expect_json "[x['trigger'] for x in d['decisions'] if x['claimed_at'] == '2027-01-01T00:30:00Z'] == ['legacy', 'mid', 'hourly', 'zeta', 'alpha']"
expect_ok triggers ls --json
expect_json "{t['name']: t['last']['at'] for t in d['triggers'] if 'last' in t}['zeta'] == '2027-01-01T00:30:00Z'"
done_testing
