#!/usr/bin/env bash
# The strict reader checks value kinds too (a list, a mapping, a number, an
# integer, a boolean; schemas/), with FILE:LINE:COL, exit 3; deploy and
# monitor check mlo.yaml when they read it; a stage's params: naming a key
# params.yaml lacks is an error with "did you mean".
source "$(dirname "$0")/lib.sh"

new_repo types
printf 'weak' > m.bin
git add -A && git commit -qm base
expect_ok register churn m.bin --version v1.0.0

cat > mlo.yaml <<'YAML'
registry:
  stages:
    production:
      gates:
        approvals: two
YAML
expect_rc 3 promote churn@v1.0.0 --to production
expect_err_contains "mlo.yaml:5:20: 'registry.stages.production.gates.approvals' must be an integer, not 'two'"
expect_eq "$(git tag -l 'churn#*')" "" "stage tags after a refused promote"

cat > mlo.yaml <<'YAML'
stages:
  train:
    cmd: echo hi > out.txt
    outs: {file: out.txt}
YAML
expect_rc 3 run
expect_err_contains "mlo.yaml:4:11: 'stages.train.outs' must be a string or a list, not a mapping"

# deploy reads deployments: and checks the whole file first
cat > mlo.yaml <<'YAML'
deployments:
  prod:
    model: churn@v1.0.0
    weigth: 10
YAML
expect_rc 3 deploy --env prod --target batch --input m.bin
expect_err_contains "mlo.yaml:4:5: unknown key 'weigth'"
expect_err_contains "did you mean 'weight'?"
cat > mlo.yaml <<'YAML'
deployments:
  prod:
    model: churn@v1.0.0
    port: http
YAML
expect_rc 3 deploy --env prod
expect_err_contains "mlo.yaml:4:11: 'deployments.prod.port' must be an integer, not 'http'"

# monitor reads monitors: and checks the whole file first
printf 'a\n1\n2\n' > ref.csv
cat > mlo.yaml <<'YAML'
monitors:
  m:
    reference: ref.csv
    current: ref.csv
    drift:
      drift_share: high
YAML
expect_rc 3 monitor m --no-record
expect_err_contains "mlo.yaml:6:20: 'monitors.m.drift.drift_share' must be a number, not 'high'"
cat > mlo.yaml <<'YAML'
stages:
  s:
    cmd: echo
registry:
  stagse: {}
monitors:
  m:
    reference: ref.csv
    current: ref.csv
YAML
expect_rc 3 monitor m --no-record
expect_err_contains "unknown key 'stagse'"

# params: a key params.yaml does not have
printf 'train:\n  lr: 0.1\n  depth: 3\n' > params.yaml
cat > mlo.yaml <<'YAML'
stages:
  train:
    cmd: echo ok > out.txt
    params: [train.lrr]
    outs: [out.txt]
YAML
expect_rc 3 run
expect_err_contains "no param 'train.lrr' (did you mean 'train.lr'?)"
sed -i 's/train.lrr/trian.lr/' mlo.yaml
expect_rc 3 run
expect_err_contains "no param 'trian.lr' (did you mean 'train.lr'?)"
sed -i 's/trian.lr/train.lr/' mlo.yaml
expect_ok run -q
expect_eq "$(cat out.txt)" "ok" "the stage ran"
done_testing
