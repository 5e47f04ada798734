#!/usr/bin/env bash
# mlo lineage from the run index's edge table (run_edges, issue 16): the same
# output as reading every run record (MLO_LINEAGE_SCAN=records, how lineage
# worked before) for a version, a run, tracked data and a stage output, in
# --json, --dot and text; and the fix for a run that only reads a data file
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

# Old (every record read) and new (edges by hash) give the same lineage.
for target in lin@v0.0.1 data/raw.csv features.csv "$backup_run"; do
  for form in --json --dot text; do
    args=(lineage "$target"); [ "$form" = --json ] && args=(--json "${args[@]}"); [ "$form" = --dot ] && args+=(--dot)
    new=$("$MLO" "${args[@]}" 2>&1) || fail "mlo ${args[*]}: $new"
    old=$(MLO_LINEAGE_SCAN=records "$MLO" "${args[@]}" 2>&1) || fail "mlo ${args[*]} (records): $old"
    expect_eq "$new" "$old" "lineage $target $form from the index and from the records"
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
