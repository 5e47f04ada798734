#!/usr/bin/env bash
# mlo lineage from the run index's edge table (run_edges, issue 16): every
# edge it draws for a version, a run, tracked data and a stage output is in
# the run records (checked here in Python), in --json, --dot and text; and the fix for a run that only reads a data file
# being drawn as also writing it, because it wrote the same bytes elsewhere.
source "$(dirname "$0")/lib.sh"
new_repo li
mkdir -p data
printf 'a,b\n1,2\n3,4\n' >data/raw.csv
expect_ok data add data/raw.csv
# backup writes a copy of the raw data (same bytes, another path): it reads
# data/raw.csv and never writes it.
cat >mlo.yaml <<'YAML'
stages:
  backup:
    cmd: cp data/raw.csv raw_copy.csv
    deps: [data/raw.csv]
    outs: [raw_copy.csv]
  prep:
    cmd: sort -r data/raw.csv > features.csv
    deps: [data/raw.csv]
    outs: [features.csv]
  train:
    cmd: wc -l features.csv > model.txt
    deps: [features.csv]
    outs: [model.txt]
YAML
git add -A && git commit -qm pipeline
expect_ok run -q
expect_ok --json register lin --stage train
backup_run=$(sed -n '/backup:/,/run:/s/^ *run: *\([0-9a-z]*\).*/\1/p' mlo.lock | head -1)
[ -n "$backup_run" ] || fail "no backup run in mlo.lock: $(cat mlo.lock)"; pass

# Every edge the index walk draws is in the run records (read here by
# `mlo runs show`, not through the index): data -> run where the run's deps
# name the path with that hash, run -> data where its outs do; the --dot and
# text forms show the same runs as --json.
for target in lin@v0.0.1 data/raw.csv features.csv "$backup_run"; do
  expect_ok --json lineage "$target"
  printf '%s' "$OUT" >graph.json
  runs=$(/usr/bin/python3 -c "import json; print(' '.join(sorted(n['id'] for n in json.load(open('graph.json'))['nodes'] if n['kind'] == 'run')))")
  for r in $runs; do "$MLO" --json runs show "$r" >"rec-$r.json" || fail "runs show $r"; done
  /usr/bin/python3 - <<'PY' || fail "lineage $target draws an edge its run records do not have"
import json
g = json.load(open("graph.json"))
sha = {n["key"]: n.get("sha256") for n in g["nodes"]}
checked = 0
for e in g["edges"]:
    a, b = e["from"].split(":", 1), e["to"].split(":", 1)
    if a[0] == "data" and b[0] == "run":
        deps = json.load(open(f"rec-{b[1]}.json"))["deps"]
        assert deps.get(a[1]) == sha[e["from"]], (e, deps)
        checked += 1
    elif a[0] == "run" and b[0] == "data":
        outs = json.load(open(f"rec-{a[1]}.json"))["outs"]
        assert outs.get(b[1], {}).get("sha256") == sha[e["to"]], (e, outs)
        checked += 1
assert checked >= 1, g["edges"]
PY
  pass
  for form in --dot text; do
    args=(lineage "$target"); [ "$form" = --dot ] && args+=(--dot)
    expect_ok "${args[@]}"
    for r in $runs; do expect_out_contains "$r"; done
  done
done

# The version's lineage: prep reads data/raw.csv; backup, which wrote a copy
# of those bytes at raw_copy.csv, is no producer of it (it was drawn as
# data/raw.csv -> backup -> data/raw.csv).
expect_ok --json lineage lin@v0.0.1
expect_json "all(e['to'] != 'data:data/raw.csv' for e in d['edges'])"
expect_json "'run:$backup_run' not in {n['key'] for n in d['nodes']}"
expect_json "sorted(n['stage'] for n in d['nodes'] if n['kind'] == 'run') == ['prep', 'train']"
# Downstream from the raw data, backup is there, as a reader.
expect_ok --json lineage data/raw.csv
expect_json "[e['from'] for e in d['edges'] if e['to'] == 'run:$backup_run'] == ['data:data/raw.csv']"
expect_json "all(e['to'] != 'data:data/raw.csv' for e in d['edges'])"

# An index from before the edge table: the next command fills it from the records.
/usr/bin/python3 - <<'PY' || fail "downgrading the index"
import sqlite3
db = sqlite3.connect(".mlo/index.db")
db.executescript("DROP TABLE run_values; DROP TABLE run_edges; DROP TABLE runs_backfill; DROP INDEX runs_started_id; DROP INDEX runs_experiment;"
                 "DROP TABLE experiments; DROP TABLE experiment_values;"
                 "UPDATE mlo_schema SET version = 2 WHERE module = 'runs';")
PY
expect_ok --json lineage lin@v0.0.1
expect_json "sorted(n['stage'] for n in d['nodes'] if n['kind'] == 'run') == ['prep', 'train']"
n=$(/usr/bin/python3 -c "import sqlite3; print(sqlite3.connect('.mlo/index.db').execute('select count(*) from run_edges').fetchone()[0])")
expect_eq "$n" 6 "run_edges rows after the upgrade (3 runs, a dep and an out each)"
done_testing
