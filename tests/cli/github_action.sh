#!/usr/bin/env bash
# GitHub Actions (issue 15): action.yml's steps run as the runner would run
# them (bash, GITHUB_ACTIONS=true, GITHUB_OUTPUT / GITHUB_PATH files per step,
# `if:` on inputs), without act; and `mlo run`, `metrics diff`, `promote`
# write job summaries to $GITHUB_STEP_SUMMARY.
source "$(dirname "$0")/lib.sh"
: "${MLO_SOURCE_DIR:?}"
/usr/bin/python3 -c "import yaml" 2>/dev/null || fail "python3-yaml is needed (.ci/debian-packages.txt)"

new_repo r
printf 'x' >m.bin
cat >mlo.yaml <<'YAML'
stages:
  train:
    cmd: [sh, -c, "printf '{\"acc\": %s}' $(cat lr) > metrics.json"]
    deps: [lr]
    metrics: [metrics.json]
registry:
  stages:
    production:
      gates:
        metrics: ["acc >= 0.5"]
YAML
echo 0.7 >lr

# run_action INPUT=VALUE... : runs action.yml's steps; OUT = the action's outputs (KEY=VALUE lines).
run_action() {
  OUT=$(/usr/bin/python3 - "$MLO_SOURCE_DIR" "$TEST_TMP" "$@" <<'PYACTION'
import os, re, subprocess, sys, yaml

src, tmp, *pairs = sys.argv[1:]
action = yaml.safe_load(open(os.path.join(src, "action.yml")))
assert action["runs"]["using"] == "composite"
inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
inputs.update(p.split("=", 1) for p in pairs)
runner_temp = os.path.join(tmp, "runner")
os.makedirs(runner_temp, exist_ok=True)
github_path = os.path.join(tmp, "github_path")
steps = {}


def expand(text):
    def value(m):
        expr = m.group(1).strip()
        if expr == "github.action_path":
            return src
        if expr == "runner.temp":
            return runner_temp
        if expr.startswith("inputs."):
            return expand(inputs[expr[7:]])
        if expr.startswith("steps."):
            _, sid, _, key = expr.split(".")
            return steps.get(sid, {}).get(key, "")
        raise AssertionError(f"the test does not know ${{{{ {expr} }}}}")
    return re.sub(r"\$\{\{(.*?)\}\}", value, str(text))


def condition(expr):
    m = re.fullmatch(r"inputs\.([\w-]+) (==|!=) ''", expr.strip())
    assert m, f"the test does not know if: {expr}"
    return (inputs[m.group(1)] == "") == (m.group(2) == "==")


failed = None
for step in action["runs"]["steps"]:
    if "if" in step and not condition(step["if"]):
        continue
    if "uses" in step:
        continue  # actions/cache: nothing to run here
    assert step.get("shell") == "bash", step
    out_file = os.path.join(tmp, f"output-{len(steps)}")
    open(out_file, "w").close()
    env = dict(os.environ, GITHUB_ACTIONS="true", GITHUB_OUTPUT=out_file, GITHUB_PATH=github_path,
               RUNNER_TEMP=runner_temp, **{k: expand(v) for k, v in step.get("env", {}).items()})
    rc = subprocess.run(["bash", "-e", "-c", expand(step["run"])], env=env).returncode
    steps[step.get("id", str(len(steps)))] = dict(l.split("=", 1) for l in open(out_file).read().splitlines() if "=" in l)
    if rc != 0:
        failed = f"step '{step['name']}' exited {rc}"
        break
for key, out in action["outputs"].items():
    print(f"{key}={expand(out['value'])}")
if failed:
    print(f"failed={failed}")
PYACTION
)
}

# The action with a prebuilt mlo: it goes on GITHUB_PATH; check-ref explains a tag.
expect_ok run
expect_ok register churn m.bin --version v1.0.0 --metrics metrics.json
expect_ok promote churn@v1.0.0 --to production
run_action mlo="$MLO" check-ref="refs/tags/churn#production#1"
expect_out_contains "mlo-version=mlo "
expect_out_contains "exists=true"
expect_out_contains "event=assignment"
expect_out_contains "name=churn"
expect_out_contains "version=v1.0.0"
expect_out_contains "stage=production"
expect_out_not_contains "failed="
expect_eq "$(cat "$TEST_TMP/github_path")" "$TEST_TMP/runner/mlo-bin" "GITHUB_PATH"
"$TEST_TMP/runner/mlo-bin/mlo" --version >/dev/null || fail "the mlo put on PATH does not run"; pass
# A tag that is not there: exists=false and the step fails, so the job stops.
run_action mlo="$MLO" check-ref="churn#production#7"
expect_out_contains "exists=false"
expect_out_contains "failed=step 'What the registry tag means' exited 1"
# No check-ref: that step is skipped.
run_action mlo="$MLO"
expect_out_contains "exists="$'\n'
expect_out_not_contains "failed="
# A missing binary fails with an annotation.
run_action mlo="$TEST_TMP/no-such-mlo"
expect_out_contains "failed=step 'Put mlo on PATH' exited 1"

# Job summaries under GitHub Actions.
export GITHUB_ACTIONS=true GITHUB_STEP_SUMMARY="$TEST_TMP/summary.md"
git add -A && git commit -qm v1
echo 0.9 >lr
expect_ok run
grep -q "^### mlo run" "$GITHUB_STEP_SUMMARY" || fail "run wrote no summary"; pass
grep -q "^| train | ran |" "$GITHUB_STEP_SUMMARY" || fail "run summary lacks the stage: $(cat "$GITHUB_STEP_SUMMARY")"; pass
: >"$GITHUB_STEP_SUMMARY"
expect_ok metrics diff --md
grep -q "^### mlo metrics diff HEAD workspace" "$GITHUB_STEP_SUMMARY" || fail "metrics diff wrote no summary"; pass
grep -q "^| metrics.json | acc | 0.7 | 0.9 |" "$GITHUB_STEP_SUMMARY" || fail "metrics summary: $(cat "$GITHUB_STEP_SUMMARY")"; pass
: >"$GITHUB_STEP_SUMMARY"
echo 0.2 >lr && "$MLO" -q run
printf 'y' >m.bin
expect_ok register churn m.bin --version v2.0.0 --metrics metrics.json
expect_rc 1 promote churn@v2.0.0 --to production
grep -q "^### mlo promote churn@v2.0.0 to production: refused" "$GITHUB_STEP_SUMMARY" || fail "promote summary: $(cat "$GITHUB_STEP_SUMMARY")"; pass
grep -q "| metric | acc >= 0.5 | 0.2 | FAIL |" "$GITHUB_STEP_SUMMARY" || fail "promote gate row: $(cat "$GITHUB_STEP_SUMMARY")"; pass
# Outside GitHub Actions nothing is written.
unset GITHUB_ACTIONS
: >"$GITHUB_STEP_SUMMARY"
expect_rc 1 promote churn@v2.0.0 --to production
[ ! -s "$GITHUB_STEP_SUMMARY" ] || fail "a summary outside GitHub Actions"; pass
done_testing
