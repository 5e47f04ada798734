#!/usr/bin/env bash
# Sweeps and the experiments view (issue 12): every sweep point, restored
# ones included, carries the sweep id; downstream stages of a point carry its
# params; a fully cached sweep's compare command lists its points.
# `mlo exp show` gives one row per run or sweep point with the params and
# metrics of all its stages (--sort, --asc, -n, --md, --json); `mlo exp
# apply ID` writes the params back into params.yaml, keeping the rest.
source "$(dirname "$0")/lib.sh"
new_repo w
cat >params.yaml <<'YAML'
# training params
train:
  lr: 0.1   # learning rate
  depth: 3
eval:
  k: 2
YAML
cat >mlo.yaml <<'YAML'
stages:
  train:
    cmd: >-
      echo "lr=$MLO_PARAM_TRAIN_LR depth=$MLO_PARAM_TRAIN_DEPTH" > model.txt &&
      awk -v lr="$MLO_PARAM_TRAIN_LR" 'BEGIN{printf "{\"acc\": %.3f}\n", 1 - lr}' > train.json
    params: [train]
    outs: [model.txt]
    metrics: [train.json]
  evaluate:
    cmd: >-
      lr=$(sed 's/^lr=\([^ ]*\) .*/\1/' model.txt) &&
      awk -v lr="$lr" -v k="$MLO_PARAM_EVAL_K" 'BEGIN{printf "{\"auc\": %.4f}\n", 0.5 + lr / k}' > eval.json
    deps: [model.txt]
    params: [eval.k]
    metrics: [eval.json]
YAML
git add -A && git commit -qm pipeline

# No runs yet.
expect_ok exp show
expect_out_contains "No experiments yet"
expect_ok --json exp show
expect_json "d == []"
expect_rc 2 exp apply 0123abcd
expect_err_contains "no experiment '0123abcd' (no runs recorded yet)"
expect_err_contains "mlo run"

# One plain run: one experiment with both stages side by side.
expect_ok run
expect_ok --json exp show
expect_json "len(d) == 1 and d[0]['stages'] == ['train', 'evaluate'] and d[0]['sweep'] is None"
expect_json "d[0]['params'] == {'train.lr': 0.1, 'train.depth': 3, 'eval.k': 2}"
expect_json "d[0]['metrics'] == {'acc': 0.9, 'auc': 0.55} and d[0]['status'] == 'succeeded'"
plain=$(printf '%s' "$OUT" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')

# A sweep of train (evaluate is downstream): one experiment per point.
expect_ok run train --grid train.lr=0.1,0.2,0.3
expect_out_contains "Running train [train.lr=0.2]"
sweep=$(printf '%s' "$OUT" | sed -n 's/^Sweep \([0-9a-f]*\): .*/\1/p')
[ -n "$sweep" ] || fail "no sweep id in: $OUT"
expect_ok --json runs ls --where "sweep=$sweep" --where params.train.lr=0.2
expect_json "sorted(r['stage'] for r in d) == ['evaluate', 'train']"
eval_id=$(printf '%s' "$OUT" | /usr/bin/python3 -c 'import json,sys; print([r["id"] for r in json.load(sys.stdin) if r["stage"] == "evaluate"][0])')
expect_ok runs show "$eval_id"
expect_out_contains "point    train.lr=0.2"
expect_ok --json exp show
expect_json "sorted(e['id'] for e in d if e['sweep'] == '$sweep') == ['$sweep-1', '$sweep-2', '$sweep-3']"
expect_json "{e['id']: e['params']['train.lr'] for e in d if e['sweep']} == {'$sweep-1': 0.1, '$sweep-2': 0.2, '$sweep-3': 0.3}"
expect_json "all(e['stages'] == ['train', 'evaluate'] and e['metrics']['auc'] == round(0.5 + e['params']['train.lr'] / 2, 4) for e in d)"

# The same sweep again: every point comes from the run cache, and is still
# a point of the new sweep (its own record, restored_from the original).
expect_ok run train --grid train.lr=0.1,0.2,0.3
expect_out_not_contains "Running"
expect_out_contains "restored evaluate [train.lr=0.3] from the run cache"
again=$(printf '%s' "$OUT" | sed -n 's/^Sweep \([0-9a-f]*\): .*/\1/p')
[ -n "$again" ] && [ "$again" != "$sweep" ] || fail "no new sweep id in: $OUT"
expect_out_contains "mlo runs ls --where sweep=$again"
expect_ok --json runs ls --where "sweep=$again"
expect_json "len(d) == 6 and all(r['sweep'] == '$again' for r in d)"
expect_ok runs ls --where "sweep=$again"
expect_out_contains "evaluate"
restored_id=$("$MLO" --json runs ls --where "sweep=$again" --where stage=train --where params.train.lr=0.3 |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
expect_ok --json runs show "$restored_id"
expect_json "d['sweep'] == '$again' and d['point'] == {'train.lr': 0.3} and len(d['restored_from']) == 16"
expect_json "d['restored_from'] != d['run_id'] and d['metrics'] == {'acc': 0.7}"
# The record still validates against the schema.
printf '%s' "$OUT" | /usr/bin/python3 -c '
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
doc = json.load(sys.stdin)
doc.pop("record", None)
jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)' "$MLO_SOURCE_DIR/schemas/run-record.schema.json" ||
  fail "a restored point's record does not match schemas/run-record.schema.json"
pass
expect_ok --json exp show
expect_json "len(d) == 7"

# Sorting, limits, Markdown.
expect_ok --json exp show --sort acc -n 3
expect_json "[e['params']['train.lr'] for e in d] == [0.1, 0.1, 0.1]"
expect_ok --json exp show --sort acc --asc -n 2
expect_json "[e['params']['train.lr'] for e in d] == [0.3, 0.3]"
expect_ok --json exp show --sort metrics.auc --desc -n 1
expect_json "d[0]['metrics']['auc'] == 0.65"
expect_ok --json exp show --sort train.lr --asc
expect_json "[e['params']['train.lr'] for e in d] == [0.1, 0.1, 0.1, 0.2, 0.2, 0.3, 0.3]"
expect_ok exp show --sort auc -n 2 --md
expect_out_contains "| experiment | started | status | stages | eval.k | train.depth | train.lr | acc | auc |"
expect_out_contains "| 0.3 |"
expect_ok exp show -n 1
expect_out_contains "train,evaluate"
expect_rc 2 exp show --sort acx
expect_err_contains "did you mean 'acc'"
expect_rc 2 exp show --sort acc --asc --desc
expect_rc 2 exp show -n -1

# Apply point 3 (lr 0.3): params.yaml keeps its comments, key order and the
# other keys; mlo run then restores that point's results.
expect_ok exp apply "$sweep-3"
expect_out_contains "params.yaml: train.lr 0.1 -> 0.3"
expect_eq "$(cat params.yaml)" "# training params
train:
  lr: 0.3   # learning rate
  depth: 3
eval:
  k: 2" "params.yaml after exp apply"
expect_ok run
expect_out_contains "restored train from the run cache"
expect_eq "$(cat model.txt)" "lr=0.3 depth=3" "model of the applied point"
expect_ok --json exp apply "$sweep-3"
expect_json "d['changed'] == []"
expect_ok --json exp apply "$plain"
expect_json "d['changed'] == [{'file': 'params.yaml', 'key': 'train.lr', 'old': 0.3, 'new': 0.1}]"
expect_ok --json exp apply "${plain:0:10}"
expect_json "d['changed'] == [] and d['experiment'] == '$plain'"

# Bad ids: unknown (with a suggestion), ambiguous (a sweep id is the prefix
# of its points).
expect_rc 2 exp apply "${sweep}-9"
expect_err_contains "did you mean '$sweep-"
expect_rc 2 exp apply "$sweep"
expect_err_contains "ambiguous"
expect_rc 2 exp apply zzzz-not-there
expect_err_contains "mlo exp show"

# A key the file lacks is added; a flow-style file is rewritten with its order.
printf 'train: {depth: 3, lr: 0.5}\neval: {k: 2}\n' >params.yaml
expect_ok exp apply "$sweep-2"
expect_ok --json params diff
/usr/bin/python3 - <<'PY' || fail "flow-style params.yaml after apply: $(cat params.yaml)"
import yaml
d = yaml.safe_load(open("params.yaml"))
assert d == {"train": {"depth": 3, "lr": 0.2}, "eval": {"k": 2}}, d
assert list(d["train"]) == ["depth", "lr"], d
PY
pass
git checkout -q params.yaml
done_testing
