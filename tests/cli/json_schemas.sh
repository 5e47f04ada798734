#!/usr/bin/env bash
# Every command's --json output validates against its schema in schemas/cli/
# (issue 15). One generated repository exercises data, remotes, the pipeline,
# runs, the registry, deploy (batch, k8s, local), monitor and maintenance; each
# output is saved as NAME.N.json and checked at the end by one python process,
# which also checks that every leaf command of `mlo help` has a schema here or
# is listed as printing no JSON, and that each schema refuses a damaged output.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"
: "${MLO_SOURCE_DIR:?}"
/usr/bin/python3 -c "import jsonschema, numpy" 2>/dev/null \
  || fail "python3-jsonschema and python3-numpy are needed (.ci/debian-packages.txt)"
OUTS=${JSON_SCHEMAS_OUT:-$TEST_TMP/outs}
mkdir -p "$OUTS"
COVERED="$TEST_TMP/covered"
: >"$COVERED"

# J SCHEMA [rc=N] ARGS... : mlo --json ARGS, exit status 0 (or N); the output
# is kept for SCHEMA (schemas/cli/SCHEMA.schema.json).
J() {
  local schema=$1 want=0; shift
  case "$1" in rc=*) want=${1#rc=}; shift ;; esac
  expect_rc "$want" --json "$@"
  local n=1
  while [ -e "$OUTS/$schema.$n.json" ]; do n=$((n + 1)); done
  printf '%s\n' "$OUT" >"$OUTS/$schema.$n.json"
}

new_repo r
# --- data
mkdir -p data/imgs && printf 'a,b\n1,2\n3,4\n' >data/t.csv && printf x >data/imgs/1.bin && printf y >data/imgs/2.bin
J data-add data add data/t.csv data/imgs
git add -A && git commit -qm data
printf '5,6\n' >>data/t.csv && printf z >data/imgs/3.bin
J data-status data status
J data-status rc=1 data status --exit-code
J data-diff data diff
J data-ls data ls
J data-ls data ls data/imgs
J data-add data commit
git add -A && git commit -qm data2
git checkout -q HEAD~1 -- data/t.csv.mlo
J data-checkout data checkout
J data-diff data diff HEAD~1 HEAD
git checkout -q HEAD -- data/t.csv.mlo && "$MLO" -q data checkout

# --- remotes and transfers
J remote-add remote add origin "$TEST_TMP/store"
J remote-add remote add spare "$TEST_TMP/spare"
J remote-modify remote modify spare region eu-west-1
J remote-ls remote ls
J remote-rm remote rm spare
J transfer push
J transfer fetch
J transfer pull
J remote-check fsck --remote origin
J remote-probe remote check origin

# --- pipeline, runs, metrics, params, experiments
cat >params.yaml <<'YAML'
train: {lr: 0.1, seed: 1}
YAML
cat >mlo.yaml <<'YAML'
stages:
  train:
    cmd: [/usr/bin/python3, -c, "import json,yaml; p=yaml.safe_load(open('params.yaml'))['train']; open('model.json','w').write(json.dumps({'format':'mlo-linear','version':1,'task':'regression','features':['a','b'],'coef':[p['lr'],1],'intercept':0})); json.dump({'accuracy': 0.9 + p['lr'] / 10, 'loss': 1 - p['lr']}, open('metrics.json','w'))"]
    deps: [data/t.csv]
    params: [train.lr, train.seed]
    outs: [model.json]
    metrics: [metrics.json]
models:
  lin:
    path: model.json
    type: mlo-linear
registry:
  stages:
    staging: {}
    production:
      gates:
        metrics: ["accuracy >= 0.5"]
checks:
  data/t.csv:
    columns:
      a: {type: integer, min: 0}
    rows: {min: 1}
triggers:
  nightly:
    schedule: "0 3 * * *"
    action: {run: [train]}
  more-data:
    new_data: {path: data/t.csv, rows: 100}
    action: {run: [train]}
YAML
J dag dag
J run status
J run rc=1 status --exit-code
J run run
J run run
J run status
git add -A && git commit -qm pipeline
sed -i 's/lr: 0.1/lr: 0.3/' params.yaml
J run run
J metrics-show metrics show
J metrics-diff metrics diff
J params-diff params diff
J exp-show exp show
J runs-ls runs ls
run_a=$("$MLO" --json runs ls | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
run_b=$("$MLO" --json runs ls | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
J runs-show runs show "$run_a"
J runs-diff runs diff "$run_a" "$run_b"
J runs-log runs log "$run_a"
printf '%s\n' "$(cat "$OUTS/runs-show.1.json" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); d["run_id"]="imported-1"; d["metric_series"]={"loss":[{"step":1,"value":0.5},{"step":2,"value":0.25}]}; print(json.dumps(d))')" >runs.jsonl
J runs-import runs import runs.jsonl
J plots plots show imported-1 "$run_a"
J plots plots diff HEAD workspace
# mlo ui prints its address once it listens, then serves until stopped.
"$MLO" --json ui --port 0 >"$OUTS/ui.1.json" 2>"$TEST_TMP/ui.err" &
ui_pid=$!
for _ in $(seq 1 100); do grep -q url "$OUTS/ui.1.json" && break; sleep 0.1; done
kill "$ui_pid" && wait "$ui_pid" || true
grep -q url "$OUTS/ui.1.json" || fail "mlo --json ui printed no url: $(cat "$TEST_TMP/ui.err")"
exp_id=$("$MLO" --json exp show | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
J exp-apply exp apply "$exp_id"
git checkout -q -- params.yaml && "$MLO" -q run
J data-validate data validate
J triggers-ls triggers ls
J triggers-check triggers check --now 2026-12-04T10:00:00Z
J triggers-check triggers check --act --trigger nightly --now 2026-12-04T10:00:00Z
J triggers-check triggers history

# --- registry
echo '{"accuracy": 0.95}' >m.json
J register register lin --version v1.0.0 --metrics m.json -l team=ds -d "A linear model"
J register register lin --bump minor --metrics m.json
J promote promote lin@v1.0.0 --to production --dry-run
J promote promote lin@v1.0.0 --to production -m first
J promote promote lin@v1.1.0 --to staging
J approve approve lin@v1.1.0 --stage production -m ok
J demote demote lin@v1.1.0 --from staging
J models-alias models alias lin@v1.0.0 champion
J models-ls models ls
J models-show models show lin
J models-show-version models show lin@v1.0.0
J models-history models history lin
J models-card models card lin@v1.0.0
J models-card models card lin@v1.0.0 -o card.md
expect_eq "$(cat card.md)" "$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["markdown"], end="")' "$OUTS/models-card.1.json")" "models card -o writes the same Markdown"
J models-get models get lin@v1.0.0 -o got.json
J lineage lineage lin@v1.0.0
J audit audit
J check-ref registry check-ref lin@v1.0.0
J check-ref registry check-ref "lin#production#1"
J check-ref rc=1 registry check-ref lin@v7.0.0
J registry-rebuild registry rebuild
J register register other model.json --version v0.1.0
J deprecate deprecate other@v0.1.0 -m old

# --- deploy: batch and k8s renders, a local router with a canary
printf 'a,b\n1,2\n3,4\n' >input.csv
J deploy deploy lin@v1.0.0 --env nightly --target batch --input input.csv --output preds.csv
J deploy deploy lin@v1.0.0 --env kube --target k8s
J deploy deploy "lin#production" --env prod
J deploy deploy lin@v1.1.0 --env prod --strategy canary --weight 20
J deploy-experiment-plan deploy experiment plan --metric label --baseline 0.3 --mde 0.1
J deploy-experiment-plan deploy experiment plan --env prod --metric label --kind mean --sd 2 --mde 0.5
J deploy-experiment-status rc=1 deploy experiment status prod --metric label
port=$(router_port prod)
for i in 1 2 3; do
  curl -sf -o /dev/null -H "X-Request-Id: q$i" -H 'Content-Type: application/json' \
    -d '{"dataframe_split":{"columns":["a","b"],"data":[[1,2]]}}' "http://127.0.0.1:$port/invocations" || fail "request q$i"
done
sleep 0.5  # the router flushes its request log every 100 ms
printf 'request_id,y\nq1,1\nq2,0\nq9,1\n' >late.csv
J monitor-labels monitor labels prod --from late.csv --target y
# a bandit: two arms, a 0/1 reward joined by request id
"$MLO" -q deploy "lin#production" --env arms && "$MLO" -q deploy lin@v1.1.0 --env arms --strategy bandit
port=$(router_port arms)
printf 'request_id,won\n' >won.csv
for i in 1 2 3 4 5 6; do
  curl -sf -o /dev/null -H "X-Request-Id: b$i" -H 'Content-Type: application/json' \
    -d '{"dataframe_split":{"columns":["a","b"],"data":[[1,2]]}}' "http://127.0.0.1:$port/invocations" || fail "request b$i"
  printf 'b%s,%s\n' "$i" $((i % 2)) >>won.csv
done
for _ in $(seq 300); do  # the router flushes its request log every 100 ms
  [ "$(cat .mlo/deploy/arms/requests.jsonl 2>/dev/null | wc -l)" -ge 6 ] && break; sleep 0.1
done
J deploy-experiment-bandit deploy experiment bandit arms --metric won --from won.csv --seed 3 --dry-run
J deploy-experiment-bandit deploy experiment bandit arms --metric won --from won.csv --min-share 20
"$MLO" -q deploy stop arms
J deploy-status deploy status prod
J deploy-ls deploy ls
J deploy-traffic deploy traffic prod --weight 30
J deploy-action deploy promote prod
J deploy-action deploy rollback prod
J deploy-history deploy history prod
J deploy-action deploy stop prod
J deploy-status deploy status prod
J deploy-ls deploy ls

# --- monitor
/usr/bin/python3 - <<'PY'
import numpy as np
rng = np.random.default_rng(7)
for name, shift in (("ref.csv", 0.0), ("cur.csv", 1.0)):
    with open(name, "w") as f:
        f.write("age,city,label,score\n")
        for _ in range(300):
            label = int(rng.random() < 0.3 + 0.2 * shift)
            f.write(f"{rng.normal(40 + 8 * shift, 10):.2f},{rng.choice(['a', 'b'])},{label},{min(1, max(0, 0.2 + 0.5 * label + rng.normal(0, 0.2))):.3f}\n")
PY
J monitor monitor -r ref.csv -c ref.csv --target label --prediction score
J monitor rc=1 monitor -r ref.csv -c cur.csv --target label --prediction score --fail-on drift
J monitor-history monitor history

# --- runners and maintenance
J runners-ls runners ls
J runners-exec runners exec -- true
J gc gc --dry-run
J gc-remote gc --remote origin --dry-run -y
J fsck fsck
J doctor doctor
J index-status index status
J index-rebuild index rebuild
J data-rm data rm data/imgs
mkdir -p "$TEST_TMP/fresh" && cd "$TEST_TMP/fresh" && git init -q .
J init init
cd "$TEST_TMP/r"

# Each leaf command of `mlo help` and the schemas of its --json outputs
# (schemas/cli/NAME.schema.json); none for a command that prints no JSON.
cat >"$TEST_TMP/commands" <<'TXT'
help:
deploy logs:
init: init
data add: data-add
data commit: data-add
data status: data-status
data checkout: data-checkout
data diff: data-diff
data ls: data-ls
data rm: data-rm
remote add: remote-add
remote ls: remote-ls
remote rm: remote-rm
remote modify: remote-modify
push: transfer
fetch: transfer
pull: transfer
run: run
dag: dag
exp show: exp-show
exp apply: exp-apply
runs ls: runs-ls
runs show: runs-show
runs diff: runs-diff
runs import: runs-import
runs log: runs-log
plots show: plots
plots diff: plots
ui: ui
metrics show: metrics-show
metrics diff: metrics-diff
params diff: params-diff
register: register
promote: promote
demote: demote
deprecate: deprecate
approve: approve
lineage: lineage
audit: audit
registry check-ref: check-ref
registry rebuild: registry-rebuild
models ls: models-ls
models show: models-show models-show-version
models history: models-history
models card: models-card
models get: models-get
models alias: models-alias
monitor: monitor
monitor history: monitor-history
deploy: deploy
deploy ls: deploy-ls
deploy status: deploy-status
deploy stop: deploy-action
deploy promote: deploy-action
deploy rollback: deploy-action
deploy traffic: deploy-traffic
deploy history: deploy-history
runners ls: runners-ls
runners exec: runners-exec
gc: gc gc-remote
fsck: fsck remote-check
doctor: doctor
index rebuild: index-rebuild
index status: index-status
completion:
status: run
triggers check: triggers-check
triggers ls: triggers-ls
triggers history: triggers-check
remote check: remote-probe
data validate: data-validate
data schema infer:
deploy experiment plan: deploy-experiment-plan
deploy experiment status: deploy-experiment-status
monitor labels: monitor-labels
deploy experiment bandit: deploy-experiment-bandit
TXT
# Commands that print --json whose schema is still to be written would be
# listed here as "COMMAND: pending" (none are), so a new one cannot slip
# through unseen.

/usr/bin/python3 - "$MLO_SOURCE_DIR/schemas" "$OUTS" "$MLO" "$TEST_TMP/commands" <<'PYCHECK' || fail "schema check"
import copy, json, pathlib, re, subprocess, sys
import jsonschema

schemas_dir, outs, mlo, commands_file = sys.argv[1:5]
cli_dir = pathlib.Path(schemas_dir) / "cli"


# The file schemas (schemas/*.schema.json) name themselves by URL; a command's
# schema that refers to one finds it here, offline.
by_url = {}
for other in pathlib.Path(schemas_dir).glob("*.schema.json"):
    doc = json.load(open(other))
    if str(doc.get("$id", "")).startswith("https://"):
        by_url[doc["$id"]] = doc


def validator(path):
    schema = json.load(open(path))
    jsonschema.Draft202012Validator.check_schema(schema)
    # Relative $refs resolve against the file's own location: offline.
    resolver = jsonschema.RefResolver(base_uri=path.resolve().as_uri(), referrer=schema, store=by_url)
    return jsonschema.Draft202012Validator(schema, resolver=resolver)


def damaged(doc, schema):
    """The document without the first key the schema requires (None if it requires none)."""
    doc = copy.deepcopy(doc)
    obj = doc[0] if isinstance(doc, list) and doc else doc
    required = schema.get("required") or schema.get("items", {}).get("required") or []
    if not isinstance(obj, dict) or not required or required[0] not in obj:
        return None
    del obj[required[0]]
    return doc


# Every output matches its schema, and a schema that requires keys refuses the
# output without one (so the check can fail).
checked = set()
for out in sorted(pathlib.Path(outs).glob("*.json")):
    name = out.name.split(".")[0]
    path = cli_dir / f"{name}.schema.json"
    assert path.exists(), f"no schema {path} for {out.name}"
    v = validator(path)
    doc = json.load(open(out))
    errors = sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, f"{out.name} does not match {path.name}: {errors[0].message} at {list(errors[0].absolute_path)}"
    bad = damaged(doc, v.schema)
    assert bad is None or list(v.iter_errors(bad)), f"{path.name} accepts {out.name} with a required key removed"
    checked.add(name)
schemas = {p.name[: -len(".schema.json")] for p in cli_dir.glob("*.schema.json")} - {"defs"}
assert schemas == checked, f"schemas no output was checked against: {sorted(schemas - checked)}"

# The table holds every leaf command of `mlo help`, and names every schema.
table = {}
for line in open(commands_file):
    command, _, names = line.partition(":")
    table[command.strip()] = names.split()


def leaves(path):
    text = subprocess.run([mlo, "help", *path], capture_output=True, text=True).stdout
    subs = re.findall(r"^  ([a-z][a-z-]*) ", text.split("Subcommands:")[1], re.M) if "Subcommands:" in text else []
    usage = re.search(r"^Usage: .*$", text, re.M).group(0)
    if not usage.endswith(" SUBCOMMAND"):  # runs on its own (a group like data needs a subcommand)
        yield " ".join(path)
    for s in subs:
        yield from leaves(path + [s])


found = set(leaves([])) | {"help"}
assert found == set(table), f"mlo help and this test's table differ: {sorted(found ^ set(table))}"
pending = sorted(c for c, ss in table.items() if ss == ["pending"])
named = {s for ss in table.values() for s in ss if ss != ["pending"]}
assert named == schemas, f"schemas the table does not name, or names and lacks: {sorted(named ^ schemas)}"
print(f"{sum(1 for _ in pathlib.Path(outs).glob('*.json'))} outputs of {len(found)} commands match {len(schemas)} schemas")
if pending:
    print(f"--json schema still to write for {len(pending)} commands: {', '.join(pending)}")
PYCHECK
pass
done_testing
