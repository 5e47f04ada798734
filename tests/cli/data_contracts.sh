#!/usr/bin/env bash
# Data contracts (issue 17): checks: in mlo.yaml, mlo data validate (text,
# --json against its schema, --markdown, GitHub annotations, exit codes),
# mlo data schema infer, bad contracts with mlo.yaml:LINE:COL, stages that
# refuse data failing its contract (no run, no run-cache restore), lineage,
# and the pre-commit hook mlo-data-validate.
source "$(dirname "$0")/lib.sh"
: "${MLO_SOURCE_DIR:?}"
PY=/usr/bin/python3

new_repo project
mkdir data
# 200 rows: id, age 18..77, income (every 50th missing), city, signup date
$PY - <<'PY'
import random
random.seed(7)
with open("data/train.csv", "w") as f:
    f.write("id,age,income,city,signup\n")
    for i in range(200):
        income = "" if i % 50 == 0 else f"{random.uniform(0, 1000):.2f}"
        f.write(f"{i},{18 + i % 60},{income},{random.choice(['paris', 'lyon', 'nice'])},2026-01-{1 + i % 28:02d}\n")
PY
expect_ok data add data/train.csv
git add -A && git commit -qm "data v1" && git tag v1

cat > mlo.yaml <<'YAML'
checks:
  data/train.csv:
    columns:
      id: {type: integer, unique: true, nullable: false}
      age: {type: integer, min: 18, max: 99}
      income: {type: number, max_missing: 0.02}
      city: {in: [paris, lyon, nice]}
      signup: {type: timestamp, regex: '2026-[0-9]{2}-[0-9]{2}'}
    primary_key: id
    rows: {min: 100, max_drop: 0.2}
    drift: {reference: data/train.csv@v1, columns: [age, income], method: ks}
    expect:
      - income >= 0 or income is null
      - {name: adults, rule: "age >= 18 and age < 100"}
YAML
git add mlo.yaml && git commit -qm "contract"

# ---- clean data passes; --json matches its schema
expect_ok data validate
expect_out_contains "data/train.csv: passed"
expect_ok --json data validate data/train.csv
printf '%s' "$OUT" > "$TEST_TMP/ok.json"
$PY - "$MLO_SOURCE_DIR/schemas/data-validate.schema.json" "$TEST_TMP/ok.json" <<'PY' || fail "validate --json does not match schemas/data-validate.schema.json"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
doc = json.load(open(sys.argv[2]))
jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
d = doc["datasets"][0]
assert doc["passed"] and d["rows"] == 200 and d["failed_checks"] == 0, d
assert len(d["version"]) == 64
kinds = {c["check"] for c in d["checks"]}
assert {"presence", "type", "unique", "range", "in", "regex", "max_missing", "primary_key", "rows", "rows_change", "drift", "expect"} <= kinds, kinds
PY
pass

# ---- bad rows: every failed check counted, with file:line examples, exit 1
$PY - <<'PY'
lines = open("data/train.csv").read().splitlines()
lines[3] = "2,abc,10.0,paris,2026-01-03"       # line 4: age not an integer (and the rule fails)
lines[5] = "4,150,-5.0,rome,2026-01-05"        # line 6: age out of range, income < 0, city not allowed
lines[7] = "5,30,1.0,lyon,2026-1-7"            # line 8: id 5 repeated (line 7 has it), signup regex
open("data/train.csv", "w").write("\n".join(lines) + "\n")
PY
expect_ok data add data/train.csv
expect_rc 1 data validate
expect_out_contains "FAIL  type age: 1 value not of type integer"
expect_out_contains "data/train.csv:4: abc"
expect_out_contains "data/train.csv:6: 150"
expect_out_contains "data/train.csv:6: rome"
expect_out_contains "data/train.csv:8: 5"
expect_out_contains "data/train.csv:8: 2026-1-7"
expect_rc 1 --json data validate
expect_json "not d['passed'] and d['datasets'][0]['failed_checks'] == 8"
expect_json "[c['failed'] for c in d['datasets'][0]['checks'] if c['check'] == 'expect'] == [1, 2]"
expect_json "[(e['file'], e['line']) for c in d['datasets'][0]['checks'] if c['check'] == 'unique' for e in c['examples']] == [('data/train.csv', 8)]"
expect_rc 1 data validate --markdown
expect_out_contains "| unique | id | **fail** | 1 | \`data/train.csv:8\` 5 |"
# GitHub Actions: annotations on stderr, the Markdown summary appended
GITHUB_ACTIONS=true GITHUB_STEP_SUMMARY="$TEST_TMP/summary.md" expect_rc 1 --json data validate
expect_err_contains "::error file=data/train.csv,line=4,title=data contract%3A type age::data/train.csv: 1 value not of type integer"
grep -q '## mlo data validate' "$TEST_TMP/summary.md" || fail "no step summary written"
pass

# ---- results are kept: lineage shows them next to the data version
expect_ok lineage data/train.csv
expect_out_contains "[contract FAILED: 8 checks]"
expect_ok --json lineage data/train.csv
expect_json "d['validation']['passed'] is False and d['validation']['failed_checks'] == 8"
expect_ok index rebuild
expect_ok lineage data/train.csv
expect_out_contains "[contract FAILED: 8 checks]"
git checkout -q HEAD -- data/train.csv.mlo && expect_ok data checkout --force data/train.csv

# ---- rows relative to the previous version, drift against v1
head -101 data/train.csv > "$TEST_TMP/half.csv" && cp "$TEST_TMP/half.csv" data/train.csv
expect_ok data add data/train.csv
expect_rc 1 --json data validate
expect_json "[c['detail']['previous_rows'] for c in d['datasets'][0]['checks'] if c['check'] == 'rows_change'] == [200]"
expect_json "[c['passed'] for c in d['datasets'][0]['checks'] if c['check'] == 'rows_change'] == [False]"
$PY - <<'PY'
import random
random.seed(8)
with open("data/train.csv", "w") as f:
    f.write("id,age,income,city,signup\n")
    for i in range(200):
        f.write(f"{i},{18 + i % 60},{random.uniform(5000, 9000):.2f},paris,2026-02-01\n")
PY
expect_ok data add data/train.csv
expect_rc 1 --json data validate
expect_json "[c['failed'] for c in d['datasets'][0]['checks'] if c['check'] == 'drift'] == [1]"
expect_json "[x['column'] for c in d['datasets'][0]['checks'] if c['check'] == 'drift' for x in c['detail']['columns'] if x['drifted']] == ['income']"
git checkout -q HEAD -- data/train.csv.mlo && expect_ok data checkout --force data/train.csv
expect_ok data validate

# ---- schema infer: a starting contract the data passes
expect_ok data schema infer data/train.csv -o "$TEST_TMP/inferred.yaml"
grep -q "id: {type: integer, nullable: false, min: 0, max: 199, unique: true}" "$TEST_TMP/inferred.yaml" \
  || fail "inferred contract: $(cat "$TEST_TMP/inferred.yaml")"
grep -q "city: {type: string, nullable: false, in: \[lyon, nice, paris\]}" "$TEST_TMP/inferred.yaml" || fail "no categories inferred"
grep -q "income: {type: number, max_missing: 0.02" "$TEST_TMP/inferred.yaml" || fail "no missing share inferred"
cp mlo.yaml "$TEST_TMP/mlo.yaml.keep" && grep -v '^#' "$TEST_TMP/inferred.yaml" > mlo.yaml
expect_ok data validate
cp "$TEST_TMP/mlo.yaml.keep" mlo.yaml

# ---- bad contracts: exit 3, mlo.yaml:LINE:COL
bad_contract() {  # YAML-LINES EXPECTED-STDERR
  printf 'checks:\n  data/train.csv:\n%s\n' "$1" > mlo.yaml
  expect_rc 3 data validate
  expect_err_contains "$2"
}
bad_contract "    colums: {age: integer}" "mlo.yaml:3:5: unknown key 'colums' in checks.data/train.csv (did you mean 'columns'?)"
bad_contract "    columns: {age: {type: integr}}" "mlo.yaml:3:27: unknown column type 'integr'"
bad_contract "    columns: {age: {kind: integer}}" "mlo.yaml:3:21: unknown key 'kind'"
bad_contract "    expect: ['income >= 0 or or income is null']" "mlo.yaml:3:30: in 'income >= 0 or or income is null': expected a column"
bad_contract "    expect: ['incme >= 0']" "mlo.yaml:3:15: the checks of data/train.csv name column 'incme', which data/train.csv does not have"
bad_contract "    expect: ['(age > 1']" "'(' is never closed"
bad_contract "    columns: {city: {regex: 'a(('}}" "mlo.yaml:3:29: regex 'a((' does not compile"
bad_contract "    drift: {reference: data/train.csv@nope}" "mlo.yaml:3:12: drift reference: unknown revision 'nope'"
printf 'checks:\n  data/none.csv: {}\n' > mlo.yaml
expect_rc 3 data validate
expect_err_contains "data/none.csv: no such file, folder or tracked dataset"
expect_rc 3 data validate data/other.csv
expect_err_contains "mlo.yaml has no checks for data/other.csv"
cp "$TEST_TMP/mlo.yaml.keep" mlo.yaml

# ---- pipelines: a stage whose dep fails its contract does not run (exit 1), nor do its dependants
cat >> mlo.yaml <<'YAML'
stages:
  train:
    cmd: cp data/train.csv model.csv && echo ran >> "$TEST_TMP/count.train"
    deps: [data/train.csv]
    outs: [model.csv]
  report:
    cmd: wc -l model.csv > report.txt
    deps: [model.csv]
    outs: [report.txt]
YAML
sed -i "s|\$TEST_TMP|$TEST_TMP|" mlo.yaml
expect_ok run
expect_eq "$(wc -l < "$TEST_TMP/count.train")" 1 "train ran once"
rm -f model.csv report.txt
# a tighter contract: the data v1 that produced the cached model.csv now fails it
sed -i 's/age: {type: integer, min: 18, max: 99}/age: {type: integer, min: 18, max: 50}/' mlo.yaml
expect_rc 1 run
expect_err_contains "stage 'train' failed: data contract failed: data/train.csv: 1 of 21 checks failed (range age)"
expect_out_contains "skipped report: an upstream stage did not succeed"
expect_no_file model.csv   # not restored from the run cache
expect_eq "$(wc -l < "$TEST_TMP/count.train")" 1 "train did not run again"
refused_run=$(printf '%s' "$ERR" | sed -n 's/.*(run \([0-9a-f]*\)).*/\1/p')
expect_ok --json runs show "$refused_run"
expect_json "d['status'] == 'failed' and d['contracts'][0]['dataset'] == 'data/train.csv' and 'range age' in d['message']"
# validate: false on the stage opts out; the model is restored from the run cache
sed -i 's|    deps: \[data/train.csv\]|    validate: false\n    deps: [data/train.csv]|' mlo.yaml
expect_ok run
expect_file model.csv
expect_eq "$(wc -l < "$TEST_TMP/count.train")" 1 "restored, not run"

# ---- pre-commit: mlo-data-validate runs the contracts of changed pointer files
if command -v pre-commit >/dev/null && git -C "$MLO_SOURCE_DIR" rev-parse HEAD >/dev/null 2>&1; then
  export PATH="$(dirname "$MLO"):$PATH" PRE_COMMIT_HOME="$TEST_TMP/pre-commit-cache"
  cp "$TEST_TMP/mlo.yaml.keep" mlo.yaml
  echo "a,b" > other.csv && expect_ok data add other.csv
  pre-commit try-repo "$MLO_SOURCE_DIR" mlo-data-validate --files other.csv.mlo >"$TEST_TMP/pc.out" 2>&1 \
    || fail "mlo-data-validate failed on a pointer without checks: $(cat "$TEST_TMP/pc.out")"
  pass
  sed -i 's/^5,/5x,/' data/train.csv && expect_ok data add data/train.csv
  if pre-commit try-repo "$MLO_SOURCE_DIR" mlo-data-validate --files data/train.csv.mlo other.csv.mlo >"$TEST_TMP/pc.out" 2>&1; then
    fail "mlo-data-validate passed data that fails its contract"
  fi
  grep -q "data/train.csv:7: 5x" "$TEST_TMP/pc.out" || fail "hook output lacks the example: $(cat "$TEST_TMP/pc.out")"
  pass
else
  echo "note: pre-commit or the source checkout is missing; the hook part is not run" >&2
  command -v pre-commit >/dev/null || fail "pre-commit is not installed (Debian package pre-commit)"
fi

done_testing
