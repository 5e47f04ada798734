#!/usr/bin/env bash
# The data_valid promotion gate (issue 17) across two clones. A trains v0.0.1
# on data that breaks its contract (the stage opts out of validation) and
# v0.0.2 on clean data; registering records each verdict in the tag. B, a
# fresh clone that has pulled no data, promotes: the recorded verdicts decide
# while the contract is unchanged. B then tightens the contract: the recorded
# verdict no longer applies, the gate cannot decide without the data and
# says to pull it; after 'mlo pull' B validates the data itself.
source "$(dirname "$0")/lib.sh"

git init -q --bare "$TEST_TMP/origin.git"
new_repo a
git remote add origin "$TEST_TMP/origin.git"
expect_ok remote add store "$TEST_TMP/store" --default
mkdir data
# rows x, label: x in 0..99; BAD puts a negative x on line 5 and a stray label on line 8.
make_data() {
  /usr/bin/python3 - "$1" <<'PY'
import sys
bad = sys.argv[1] == "bad"
with open("data/train.csv", "w") as f:
    f.write("x,label\n")
    for i in range(60):
        x = -3 if bad and i == 3 else i
        label = "c" if bad and i == 6 else "ab"[i % 2]
        f.write(f"{x},{label}\n")
PY
}
make_data bad
expect_ok data add data/train.csv
cat > mlo.yaml <<'YAML'
stages:
  train:
    cmd: sh -c 'wc -l < data/train.csv > model.txt; cksum data/train.csv >> model.txt'
    validate: false
    deps: [data/train.csv]
    outs: [model.txt]
checks:
  data/train.csv:
    columns:
      x: {type: integer, min: 0}
      label: {in: [a, b]}
registry:
  stages:
    production:
      gates:
        data_valid: true
YAML
git add -A && git commit -qm "bad data" || fail "commit"
expect_ok run -q
git add -A && git commit -qm "v1 trained" || fail "commit"
expect_ok --json register m --stage train
expect_json "d['version'] == 'v0.0.1'"
# The verdict is in the register tag's metadata.
tag1=$(git tag -l 'm@v0.0.1')
# tag_meta TAG : the mlo metadata of a tag message, as JSON in OUT.
tag_meta() { OUT=$(git tag -l --format='%(contents)' "$1" | sed -n '/^mlo-metadata:/,$p' | tail -n +2); }
tag_meta "$tag1"
expect_json "[(v['path'], v['passed'], v['failed']) for v in d['data_validation']] == [('data/train.csv', False, ['range x', 'in label'])]"

make_data good
expect_ok data add data/train.csv
expect_ok run -q
git add -A && git commit -qm "v2 trained on clean data" || fail "commit"
expect_ok --json register m --stage train
expect_json "d['version'] == 'v0.0.2'"

# A's own gate (data in its cache) agrees.
expect_rc 1 --json promote m@v0.0.1 --to production --dry-run
expect_json "any(g['gate'] == 'data_valid' and not g['passed'] for g in d['gates'])"
expect_ok push
git push -q origin HEAD:main --tags || fail "git push (A)"

# ---- B: a fresh clone without the data
git clone -q "$TEST_TMP/origin.git" "$TEST_TMP/b" && cd "$TEST_TMP/b" || fail "clone b"
expect_no_file .mlo/cache/contracts/results.log
expect_rc 1 --json promote m@v0.0.1 --to production
expect_json "[(g['value'], g['passed']) for g in d['gates']] == [('failed 2 checks', False)]"
expect_json "'range x' in d['gates'][0]['detail'] and 'in label' in d['gates'][0]['detail'] and 'recorded when the version was registered' in d['gates'][0]['detail']"
expect_json "'mlo.yaml:' in d['gates'][0]['what'] and not d['promoted']"
expect_rc 1 promote m@v0.0.1 --to production
expect_err_contains "refused"
expect_out_contains "data_valid: data/train.csv passes its contract"

expect_ok --json promote m@v0.0.2 --to production
expect_json "d['promoted'] and [(g['gate'], g['value'], g['passed']) for g in d['gates']] == [('data_valid', 'passed', True)]"
expect_json "'recorded when the version was registered' in d['gates'][0]['detail']"
# The audit record (the promote tag) carries the gate's verdict.
ptag=$(git tag -l 'm#production#*' | tail -1)
tag_meta "$ptag"
expect_json "[(g['gate'], g['value'], g['passed']) for g in d['gates']] == [('data_valid', 'passed', True)]"

# ---- B tightens the contract: the recorded verdicts no longer apply
sed -i 's|x: {type: integer, min: 0}|x: {type: integer, min: 0, nullable: false}|' mlo.yaml
git commit -qam "x may not be missing"
expect_ok demote m@v0.0.2 --from production
expect_rc 1 --json promote m@v0.0.2 --to production
expect_json "d['gates'][0]['value'] == 'unknown' and 'mlo pull data/train.csv' in d['gates'][0]['detail']"
expect_ok pull
expect_ok --json promote m@v0.0.2 --to production
expect_json "d['promoted'] and d['gates'][0]['passed'] and 'validated now' in d['gates'][0]['detail']"
# ... and the result is stored: lineage shows it next to the data version.
expect_ok lineage m@v0.0.2
expect_out_contains "[contract passed]"

# ---- no training data recorded, no contract, a bad gate value
printf 'x\n' > other.bin
expect_ok data add other.bin
git add -A && git commit -qm other
expect_ok register n other.bin
expect_rc 1 --json promote n@v0.0.1 --to production
expect_json "d['gates'][0]['value'] == 'no data' and 'records no training data' in d['gates'][0]['detail']"
sed -i 's|data_valid: true|data_valid: [true]|' mlo.yaml
expect_rc 3 promote m@v0.0.1 --to production
expect_err_contains "data_valid"

done_testing
