#!/usr/bin/env bash
# Configuration typos are errors (exit 3, FILE:LINE:COL, "did you mean"), never
# a silently dropped gate: mlo.yaml is checked against schemas/mlo.schema.json
# and .mlo/config.yaml against schemas/config.schema.json (built into mlo).
source "$(dirname "$0")/lib.sh"

new_repo typos
printf 'weak' > m.bin
echo '{"accuracy": 0.5}' > metrics.json
git add -A && git commit -qm base
expect_ok register churn m.bin --version v1.0.0 --metrics metrics.json

promote_refused_by_typo() {  # $1: the expected "FILE:LINE:COL: ..." start, $2: the suggestion
  local before; before=$(git tag | sort | tr '\n' ' ')
  expect_rc 3 promote churn@v1.0.0 --to production
  expect_err_contains "$1"
  expect_err_contains "did you mean '$2'?"
  expect_eq "$(git tag | sort | tr '\n' ' ')" "$before" "tags after a promote refused for a typo"
}

cat > mlo.yaml <<'YAML'
registry:
  stagse:
    production:
      gates:
        metrics: ["accuracy >= 0.9"]
YAML
promote_refused_by_typo "mlo.yaml:2:3: unknown key 'stagse' in registry" stages

cat > mlo.yaml <<'YAML'
registry:
  stages:
    production:
      gates:
        metric: ["accuracy >= 0.9"]
YAML
promote_refused_by_typo "mlo.yaml:5:9: unknown key 'metric' in registry.stages.production.gates" metrics

cat > mlo.yaml <<'YAML'
registry:
  stages:
    production:
      gates:
        beats:
          - metric: accuracy
YAML
promote_refused_by_typo "mlo.yaml:5:9: unknown key 'beats'" beat

cat > mlo.yaml <<'YAML'
registry:
  stages:
    production:
      gates:
        beat:
          - metric: accuracy
            min_absolute_chnage: 0.01
YAML
promote_refused_by_typo "mlo.yaml:7:13: unknown key 'min_absolute_chnage'" min_absolute_change

# Spelled right, the gate refuses the weak model (exit 1), and no tag is made.
cat > mlo.yaml <<'YAML'
registry:
  stages:
    production:
      gates:
        metrics: ["accuracy >= 0.9"]
YAML
expect_rc 1 promote churn@v1.0.0 --to production
expect_out_contains "[FAIL] metric: accuracy >= 0.9 -> 0.5"
expect_ok --json models show churn@v1.0.0
expect_json "d['stages'] == []"

# Other sections and the top level, through other commands.
printf 'registry: {}\nmodles:\n  churn: m.bin\n' > mlo.yaml
expect_rc 3 promote churn@v1.0.0 --to production
expect_err_contains "mlo.yaml:2:1: unknown key 'modles' at the top level (did you mean 'models'?)"
printf 'stages:\n  a:\n    cmd: echo hi\n    outz: [x]\n' > mlo.yaml
expect_rc 3 run
expect_err_contains "mlo.yaml:4:5: unknown key 'outz' in stage 'a' (did you mean 'outs'?)"
printf 'deployments:\n  prod:\n    modle: churn#production\n' > mlo.yaml
expect_rc 3 run
expect_err_contains "unknown key 'modle' in deployment 'prod' (did you mean 'model'?)"
printf 'monitors:\n  m:\n    reference: a.csv\n    drfit: {}\n' > mlo.yaml
expect_rc 3 promote churn@v1.0.0 --to production
expect_err_contains "unknown key 'drfit' in monitors.m (did you mean 'drift'?)"
rm mlo.yaml

# .mlo/config.yaml
printf 'version: 1\ncahce:\n  link: copy\n' > .mlo/config.yaml
expect_rc 3 promote churn@v1.0.0 --to production
expect_err_contains ".mlo/config.yaml:2:1: unknown key 'cahce' at the top level (did you mean 'cache'?)"
printf 'version: 1\ncache:\n  lnik: copy\n' > .mlo/config.yaml
expect_rc 3 data status
expect_err_contains "unknown key 'lnik' in cache (did you mean 'link'?)"
done_testing
