#!/usr/bin/env bash
# mlo plots show|diff: self-contained HTML/SVG of step-wise metric series and
# metrics across revisions and runs, Markdown for job summaries, JSON; bad
# input; hostile series names.
source "$(dirname "$0")/lib.sh"

new_repo plots
cat >params.yaml <<'YAML'
train:
  lr: 0.5
YAML
# loss at step s is lr / s; a second series named like an attack and like a path.
cat >mlo.yaml <<'YAML'
stages:
  train:
    cmd: |-
      for s in 1 2 3 4 5; do
        awk -v s=$s -v lr=${params.train.lr} 'BEGIN{printf "{\"key\":\"loss\",\"value\":%g,\"step\":%d}\n", lr/s, s}' >> "$MLO_METRICS_FILE"
      done
      printf '{"key":"<script>alert(1)</script>","value":1,"step":1}\n{"key":"../../evil","value":2,"step":1}\n' >> "$MLO_METRICS_FILE"
      printf '{"acc": %s}\n' "$(awk -v lr=${params.train.lr} 'BEGIN{print 1-lr/10}')" > metrics.json
    params: [train.lr]
    metrics: [metrics.json]
YAML
expect_ok run
git add -A && git commit -qm "lr 0.5" || fail "commit"
first_run=$(sed -n 's/^ *run: *\([0-9a-z]*\).*/\1/p' mlo.lock | head -1)
[ -n "$first_run" ] || fail "no run id in mlo.lock: $(cat mlo.lock)"
sed -i 's/lr: 0.5/lr: 0.25/' params.yaml
expect_ok run
second_run=$(sed -n 's/^ *run: *\([0-9a-z]*\).*/\1/p' mlo.lock | head -1)

# diff (HEAD vs the work tree): one chart per series, one per metric, files beside the page.
expect_ok plots diff
expect_out_contains "Wrote mlo_plots/index.html"
expect_file mlo_plots/index.html
expect_file mlo_plots/series-loss.svg
expect_file mlo_plots/metric-acc.svg
html=$(cat mlo_plots/index.html)
[[ "$html" == *"HEAD: step 2, loss 0.25"* ]] || fail "no hover value of HEAD's loss at step 2"; pass
[[ "$html" == *"workspace: step 2, loss 0.125"* ]] || fail "no hover value of the work tree's loss at step 2"; pass
[[ "$html" == *"HEAD: acc 0.95"* && "$html" == *"workspace: acc 0.975"* ]] || fail "metric bars lack acc per revision"; pass
# Self-contained: no script, nothing fetched from anywhere.
[[ "$html" != *"<script"* ]] || fail "the page has a script (or an unescaped series name)"; pass
[[ "$html" == *"&lt;script&gt;alert(1)&lt;/script&gt;"* ]] || fail "the hostile series name is not shown escaped"; pass
grep -Eq "(src|href)=['\"]?(https?:)?//" mlo_plots/index.html && fail "the page refers to an external asset"; pass
# A series name is never a path: its SVG stays inside the output folder.
expect_no_file evil.svg
[ -z "$(find "$TEST_TMP" -name '*evil*' ! -path '*/mlo_plots/*')" ] || fail "a file escaped mlo_plots/"; pass
ls mlo_plots | grep -q '^series-\.\._\.\._evil\.svg$' || fail "sanitised file name missing: $(ls mlo_plots)"; pass

# Markdown for job summaries: image references to the SVG files and a metrics table.
expect_ok plots diff HEAD workspace --md --html report/plots.html
expect_out_contains "![loss](report/series-loss.svg)"
expect_out_contains "| acc | 0.95 | 0.975 |"
expect_file report/series-loss.svg

# JSON: the plotted data.
expect_ok --json plots diff
expect_json "d['series']['loss']['HEAD'][1] == {'step': 2, 'value': 0.25} and len(d['series']['loss']['workspace']) == 5"
expect_json "d['metrics']['acc'] == {'HEAD': 0.95, 'workspace': 0.975}"

# show: runs by id, one line each; default the work tree's runs.
expect_ok --json plots show "$first_run" "$second_run"
expect_json "sorted(d['series']['loss']) == sorted(['$first_run train', '$second_run train'])"
expect_ok plots show --html ws/index.html
expect_file ws/series-loss.svg

# Bad input: exit 2/3 with a message, never 70.
expect_rc 3 plots diff no-such-rev
expect_rc 3 plots show ffffffffffff
expect_err_contains "ffffffffffff"
expect_rc 3 plots diff HEAD --html /proc/nonexistent/x.html
expect_rc 2 plots frobnicate
new_repo empty
expect_rc 3 plots diff
expect_err_contains "nothing to plot"
done_testing
