#!/usr/bin/env bash
# The pipeline parts of the team workflow (issue 12): a whole params section
# (params: [train]) takes --set and counts each key; `mlo run -n` says exactly
# what `mlo run` would do and --exit-code answers "up to date?"; "Updated
# mlo.lock" only when it changed; a dep that is tracked data with uncommitted
# changes is a warning, or an error with --strict.
source "$(dirname "$0")/lib.sh"
new_repo w
printf 'train:\n  C: 1.0\n  depth: 3\n' >params.yaml
seq 1 100 >raw.csv
"$MLO" -q data add raw.csv || fail "data add"
cat >mlo.yaml <<'YAML'
stages:
  prepare:
    cmd: sort -n raw.csv > prep.csv
    deps: [raw.csv]
    outs: [prep.csv]
  train:
    cmd: echo "C=$MLO_PARAM_TRAIN_C depth=$MLO_PARAM_TRAIN_DEPTH" > model.txt
    deps: [prep.csv]
    params: [train]
    outs: [model.txt]
  flaky:
    cmd: test "$MLO_PARAM_TRAIN_DEPTH" != 5 && echo ok > flaky.txt
    params: [train.depth]
    outs: [flaky.txt]
YAML
git add -A && git commit -qm pipeline
expect_ok run
expect_out_contains "Updated mlo.lock"
expect_eq "$(cat model.txt)" "C=1.0 depth=3" "model with the file's params"
expect_ok --json runs ls --stage train
expect_json "d[0]['params'] == {'train.C': 1.0, 'train.depth': 3}"

# --set on a key of the section.
expect_ok run --set train.C=0.01
expect_out_contains "Running train"
expect_eq "$(cat model.txt)" "C=0.01 depth=3" "model with the override"
expect_out_contains "Updated mlo.lock"
# Back to the file's values: restored; then nothing to do and no "Updated".
expect_ok run
expect_out_contains "restored train from the run cache"
expect_ok run
expect_out_contains "train is up to date"
expect_out_not_contains "Updated mlo.lock"
git add -A && git commit -qm lock

# -n and --exit-code.
expect_ok run -n --exit-code
expect_out_contains "prepare is up to date"
expect_out_contains "train is up to date"
sed -i 's/depth: 3/depth: 4/' params.yaml
expect_rc 1 run -n --exit-code
expect_out_contains "would run train"
expect_out_contains "param train.depth changed (3 -> 4)"
git checkout -q params.yaml
rm prep.csv model.txt
expect_rc 1 run --exit-code
expect_out_contains "would restore prepare from the run cache"
expect_out_contains "would restore train from the run cache"
expect_out_not_contains "would run"
expect_no_file model.txt
expect_ok run
expect_out_contains "restored prepare from the run cache"
expect_out_contains "restored train from the run cache"
expect_out_not_contains "Updated mlo.lock"
expect_ok run -n --exit-code

# A sweep with a failing point names the sweep, so its runs can be compared.
expect_rc 5 run flaky --grid train.depth=3,5
expect_err_contains "mlo runs ls --where sweep="

# A tracked dep with uncommitted changes.
echo 101 >>raw.csv
expect_ok run -n
expect_err_contains "dep 'raw.csv' of stage 'prepare' is tracked data with uncommitted changes"
expect_rc 3 run --strict
expect_err_contains "uncommitted changes"
expect_out_not_contains "Running"
done_testing
