#!/usr/bin/env bash
# A value of the wrong kind (a list or mapping where one value belongs) in
# each YAML file mlo reads, read by each reader (pipeline, registry, models,
# deploy, monitor, config, params, pointer, mlo.lock): exit 3 naming
# FILE:LINE:COLUMN, never the catch-all in cmd/main.cpp (which cannot name
# the file) or exit 70. A monitor's per-column drift method given as a list
# reached that catch-all before (issue 11).
source "$(dirname "$0")/lib.sh"

new_repo kinds
printf 'a,b\n1,x\n2,y\n3,x\n' >ref.csv
printf 'w' >m.bin
git add -A && git commit -qm base || fail "commit base"
expect_ok register churn m.bin --version v1.0.0

# expect_kind_error WHERE ARGS...: the command exits 3 and names WHERE (FILE:LINE:COL).
expect_kind_error() {
  local where=$1
  shift
  expect_rc 3 "$@"
  expect_err_contains "$where"
  [[ "$ERR" != *"internal error"* && "$ERR" != *"a YAML file has a value"* ]] ||
    fail "mlo $*: reached the catch-all: $ERR"
  pass
}

# monitors: a per-column drift method given as a list (the reader's own check).
cat >mlo.yaml <<'YAML'
monitors:
  m:
    reference: ref.csv
    current: ref.csv
    drift:
      columns:
        a: {method: [psi], threshold: 0.2}
YAML
expect_kind_error "mlo.yaml:7:21: 'method' must be the name of a drift test, not a list" monitor m --no-record
# stages (pipeline)
printf 'stages:\n  s:\n    cmd: echo\n    deps: {a: 1}\n' >mlo.yaml
expect_kind_error "mlo.yaml:4:11:" run -n
# registry gates
printf 'registry:\n  stages:\n    production:\n      gates:\n        metrics: {acc: 1}\n' >mlo.yaml
expect_kind_error "mlo.yaml:5:18:" promote churn@v1.0.0 --to production
# models
printf 'models:\n  churn:\n    path: [m.bin]\n' >mlo.yaml
expect_kind_error "mlo.yaml:3:11:" register churn --version v2.0.0
# deployments: the kind, and a whole number outside what the key takes
printf 'deployments:\n  prod:\n    model: churn@v1.0.0\n    runner: [a]\n' >mlo.yaml
expect_kind_error "mlo.yaml:4:13:" deploy --env prod --target batch --input m.bin
printf 'deployments:\n  prod:\n    model: churn@v1.0.0\n    port: 3000000000\n' >mlo.yaml
expect_kind_error "mlo.yaml:4: deployments.prod.port must be between 0 and 65535, not 3000000000" \
  deploy --env prod --target batch --input m.bin
rm mlo.yaml

# .mlo/config.yaml
cp .mlo/config.yaml "$TEST_TMP/config.yaml"
printf 'cache:\n  link: [copy]\n' >>.mlo/config.yaml
expect_kind_error ".mlo/config.yaml:" data status
cp "$TEST_TMP/config.yaml" .mlo/config.yaml

# params.yaml: a stage's param that is a mapping is fine (it expands); a params file that is a list is not.
printf -- '- 1\n- 2\n' >params.yaml
printf 'stages:\n  s:\n    cmd: echo\n    params: [lr]\n' >mlo.yaml
expect_kind_error "params.yaml: no param 'lr'" run -n
rm params.yaml mlo.yaml

# a pointer file
echo hi >d.txt && expect_ok data add d.txt
sed -i 's/^path: .*/path: [d.txt]/' d.txt.mlo
expect_kind_error "d.txt.mlo:" data status
git checkout -q -- . 2>/dev/null
rm -f d.txt.mlo d.txt

# mlo.lock
printf 'stages:\n  s:\n    cmd: echo hi >o.txt\n    outs: [o.txt]\n' >mlo.yaml
expect_ok run
sed -i 's/^version: .*/version: [1]/' mlo.lock
expect_kind_error "mlo.lock" run -n

done_testing
