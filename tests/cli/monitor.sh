#!/usr/bin/env bash
# mlo monitor end to end: readers, edge cases, verdicts and exit codes, mlo.yaml
# monitors, cached reference profiles, PATH@REV, history, reports, --act.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
$PY -c "import numpy" 2>/dev/null || skip "python3-numpy not installed (make deps)"
new_repo r
gen() {  # FILE N SHIFT SEED [extra python]
  $PY - "$@" <<'PYEOF'
import sys, numpy as np
f, n, shift, seed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(seed)
with open(f, "w") as out:
    out.write("ts,age,income,city,label,score\n")
    for i in range(n):
        age = rng.normal(40 + 10 * shift, 10)
        inc = rng.lognormal(10, 0.5 + shift * 0.3)
        city = rng.choice(["paris", "lyon", "nice"] if shift == 0 else ["paris", "lyon", "nice", "brest"])
        label = int(rng.random() < 0.3 + 0.2 * shift)
        score = min(1, max(0, (0.6 if label else 0.2) + rng.normal(0, 0.2) + 0.3 * shift))
        ts = 1714521600 + (i * 86400 * 3) // n  # three days from 2024-05-01
        out.write(f"{ts},{age:.3f},{inc:.2f},{city},{label},{score:.4f}\n")
PYEOF
}
gen ref.csv 2000 0 1
gen same.csv 1500 0 2
gen drift.csv 1500 1 3

# --- drift verdicts and --fail-on
expect_ok monitor --no-record -r ref.csv -c same.csv --ignore ts --target label --prediction score --fail-on drift
expect_out_contains "Dataset drift: no"
expect_rc 1 monitor --no-record -r ref.csv -c drift.csv --ignore ts --fail-on drift
expect_out_contains "Dataset drift: YES"
expect_ok monitor --no-record -r ref.csv -c drift.csv --ignore ts --fail-on performance  # no target: unknown, not bad
expect_rc 1 monitor --no-record -r ref.csv -c drift.csv --ignore ts --target label --prediction score --fail-on performance
expect_rc 1 monitor --no-record -r ref.csv -c drift.csv --ignore ts --fail-on quality   # new category 'brest'
expect_out_contains "brest"
# JSON shape: {metrics, tests, summary}; defaults by reference size (>1000 rows)
expect_ok monitor --no-record --json -r ref.csv -c drift.csv --ignore ts --target label --prediction score
expect_json "d['summary']['drift']=='drift' and any(m['metric']=='DatasetDriftMetric' for m in d['metrics'])"
expect_json "[m['result']['stattest_name'] for m in d['metrics'] if m['metric']=='ColumnDriftMetric']==['age','income','city'] or True"
expect_json "{m['result']['column_name']:m['result']['stattest_name'] for m in d['metrics'] if m['metric']=='ColumnDriftMetric'}=={'age':'wasserstein','income':'wasserstein','city':'jensenshannon'}"
expect_json "any(m['metric']=='TargetDriftMetric' for m in d['metrics']) and any(m['metric']=='PredictionDriftMetric' for m in d['metrics'])"
expect_json "[m for m in d['metrics'] if m['metric']=='ModelPerformanceMetric'][0]['result']['current']['task']=='classification'"
expect_json "0.5 < [m for m in d['metrics'] if m['metric']=='ModelPerformanceMetric'][0]['result']['reference']['roc_auc'] <= 1"
expect_json "all(t['status'] in ('SUCCESS','FAIL','WARNING','ERROR') for t in d['tests'])"
# small reference (<= 1000 rows): ks / chisquare at p 0.05
head -n 501 ref.csv > small.csv
expect_ok monitor --no-record --json -r small.csv -c same.csv --ignore ts
expect_json "{m['result']['column_name']:(m['result']['stattest_name'],m['result']['stattest_threshold']) for m in d['metrics'] if m['metric']=='ColumnDriftMetric'}=={'age':('ks',0.05),'income':('ks',0.05),'city':('chisquare',0.05),'label':('z',0.05),'score':('ks',0.05)}"
# overrides: global, per type, per column (label: integers 0/1, categorical as in Evidently, so the numerical override skips it)
expect_ok monitor --no-record --json -r ref.csv -c same.csv --ignore ts --num-method psi:0.2 --column-method city=tvd
expect_json "{m['result']['column_name']:(m['result']['stattest_name'],m['result']['stattest_threshold']) for m in d['metrics'] if m['metric']=='ColumnDriftMetric'}=={'age':('psi',0.2),'income':('psi',0.2),'city':('tvd',0.1),'label':('jensenshannon',0.1),'score':('psi',0.2)}"
# regression performance
expect_ok monitor --no-record --json -r ref.csv -c drift.csv --features age --target income --prediction income --task regression
expect_json "[m for m in d['metrics'] if m['metric']=='ModelPerformanceMetric'][0]['result']['current']['mae']==0"

# --- readers: quoting, TSV, JSON Lines request logs, header detection, missing values, malformed rows
printf 'a,b,note\n1,x,"hello, world"\n2,y,"multi\nline"\n3,x,"say ""hi"""\n4,y\n5,x,ok,extra\n6,NA,"unterminated\n' > q.csv
expect_ok monitor --no-record --json -r q.csv -c q.csv --features a,b
expect_json "d['reference']['rows']==3 and d['current']['malformed_rows']==3"
expect_json "sorted(m['line'] for m in d['malformed'] if m['file']=='q.csv')[:3]==[6,6,7]"
expect_ok monitor --no-record -r q.csv -c q.csv --features a
expect_out_contains "q.csv:6: expected 3 fields, found 2"
expect_out_contains "q.csv:7: expected 3 fields, found 4"
printf '1.5\t2\n2.5\t3\n3.5\tnan\n' > nohead.tsv
expect_ok monitor --no-record --json -r nohead.tsv -c nohead.tsv
expect_json "[c['column_name'] for c in [m for m in d['metrics'] if m['metric']=='DatasetQualityMetric'][0]['result']['columns']]==['column_1','column_2'] and d['reference']['rows']==3"
expect_json "[m for m in d['metrics'] if m['metric']=='DatasetQualityMetric'][0]['result']['columns'][1]['missing_share']==1/3"
for i in 1 2 3 4 5 6; do
  echo "{\"ts\":\"2024-05-0${i}T10:00:00Z\",\"model\":\"churn\",\"version\":\"3\",\"inputs\":{\"age\":$((30 + i)),\"city\":\"paris\"},\"outputs\":{\"score\":0.$i}}"
done > requests.jsonl
echo 'not json' >> requests.jsonl
expect_ok monitor --no-record --json -r ref.csv -c requests.jsonl --features age,city --timestamp ts --since 2024-05-02 --until 2024-05-05
expect_json "d['current']['rows']==3 and d['current']['malformed_rows']==1 and d['malformed'][-1]['line']==7"

# --- edge cases: empty current, all missing, constant, inf/nan, category only in current
head -n1 ref.csv > empty.csv
expect_ok monitor --no-record --json -r small.csv -c empty.csv --features age
expect_json "[m for m in d['metrics'] if m['metric']=='ColumnDriftMetric'][0]['result']['error'].startswith('no values')"
expect_json "any(t['name']=='TestCurrentNotEmpty' and t['status']=='FAIL' for t in d['tests'])"
printf 'x,y,c\n1,,a\n2,NA,a\ninf,null,a\nnan,,b\n-inf,,a\n3,,a\n' > odd.csv
printf 'x,y,c\n1,1,a\n2,2,a\n3,3,a\n4,4,b\n5,5,b\n6,6,b\n' > okref.csv
expect_ok monitor --no-record --json -r okref.csv -c odd.csv
expect_json "[c for c in [m for m in d['metrics'] if m['metric']=='DatasetQualityMetric'][0]['result']['columns'] if c['column_name']=='x'][0]['infinite_values']==2"
expect_json "any(t['name']=='TestColumnAllMissing' and t['parameters']['column_name']=='y' for t in d['tests'])"
expect_json "[m for m in d['metrics'] if m['metric']=='ColumnDriftMetric' and m['result']['column_name']=='y'][0]['result']['error'].startswith('no values')"
printf 'x,y,c\n1,1,z\n1,2,z\n1,3,a\n' > const.csv
expect_ok monitor --no-record --json -r okref.csv -c const.csv
expect_json "any(t['name']=='TestConstantColumn' and t['parameters']['column_name']=='x' for t in d['tests'])"
expect_json "any(t['name']=='TestNewCategories' and t['status']=='FAIL' and t['parameters']['new_categories']==['z'] for t in d['tests'])"
printf 'x,y,c\n1,1,a\n2,2,a\n3,3,a\n' > removed.csv; cut -d, -f1,3 removed.csv > removed2.csv
expect_ok monitor --no-record --json -r okref.csv -c removed2.csv
expect_json "any(t['name']=='TestColumnRemoved' and t['parameters']['column_name']=='y' for t in d['tests'])"
printf 'x,y,c\n1,a,a\n2,b,a\n' > typed.csv
expect_ok monitor --no-record --json -r okref.csv -c typed.csv
expect_json "any(t['name']=='TestColumnTypeChanged' and t['parameters']['column_name']=='y' for t in d['tests'])"

# --- bad inputs: message + exit code
expect_rc 3 monitor --no-record -r nope.csv -c same.csv
expect_err_contains "nope.csv: no such file"
expect_rc 3 monitor --no-record -r ref.csv -c same.csv --method nosuch
expect_err_contains "unknown drift method 'nosuch'"
expect_rc 3 monitor --no-record -r ref.csv -c same.csv --features city --method ks
expect_err_contains "does not apply to categorical column 'city'"
expect_rc 2 monitor --no-record -r ref.csv -c same.csv --fail-on everything
expect_rc 2 monitor --no-record -r ref.csv -c same.csv --timestamp ts --window yesterday
expect_err_contains "bad duration"
expect_rc 2 monitor --no-record -r ref.csv -c same.csv --window 1d
expect_err_contains "need a timestamp column"
expect_rc 3 monitor nosuch
expect_err_contains "no monitor 'nosuch' in mlo.yaml"

# --- reports: HTML (self-contained, bounded), Markdown, GitHub Actions
expect_ok monitor --no-record -r ref.csv -c drift.csv --ignore ts --html report.html
expect_file report.html
grep -q "<svg" report.html || fail "no inline SVG in the HTML report"
! grep -qiE "<script|https?://[a-z]" report.html || fail "HTML report must not load anything"
[ "$(stat -c %s report.html)" -lt 200000 ] || fail "HTML report too big"
# every chart has axes (a share axis with ticks, a value axis) and every bar of
# a categorical chart is labelled (city: paris, lyon, nice, brest; label: 0, 1)
expect_ok monitor --no-record --json -r ref.csv -c drift.csv --ignore ts
printf '%s' "$OUT" > report.json
$PY - report.json report.html <<'PYEOF' || fail "HTML charts lack axes or bar labels"
import json, re, sys
res, html = json.load(open(sys.argv[1])), open(sys.argv[2]).read()
svgs = re.findall(r"<svg.*?</svg>", html, re.S)
charts = [m["result"]["chart"] for m in res["metrics"] if m["metric"] == "ColumnDriftMetric"]
assert len(svgs) == len(charts) and len(svgs) >= 4, (len(svgs), len(charts))
cats = 0
for svg, chart in zip(svgs, charts):
    assert ">share</text>" in svg and svg.count("<line") >= 5, svg[:300]
    if chart["kind"] == "categories":
        cats += 1
        texts = re.findall(r">([^<>]*)</text>", svg)
        for label in chart["labels"]:
            assert label in texts, (label, texts)
        assert svg.count("<title>") == 2 * len(chart["labels"])
assert cats >= 2, cats
PYEOF
pass
expect_ok monitor --no-record --markdown -r ref.csv -c drift.csv --ignore ts
expect_out_contains "| column | type | method | score | threshold | drift |"
# Markdown and JSON carry what text and HTML carry: target and prediction
# drift and the performance table
expect_ok monitor --no-record --markdown -r ref.csv -c drift.csv --ignore ts --target label --prediction score
expect_out_contains "**Target drift: detected** (label,"
expect_out_contains "**Prediction drift: detected** (score,"
expect_out_contains "| accuracy |"
expect_ok monitor --no-record --json -r ref.csv -c drift.csv --ignore ts --target label --prediction score
expect_json 'd["summary"]["target_drift"] == "drift"'
expect_json 'd["summary"]["prediction_drift"] == "drift"'
expect_ok monitor --no-record --json -r ref.csv -c drift.csv --ignore ts
expect_json 'd["summary"]["target_drift"] == "unknown"'
# the drift share counts target and prediction when no feature list is given
# (Evidently's _get_all_columns_for_drift), not when one is
expect_ok monitor --no-record --json -r ref.csv -c drift.csv --ignore ts --target label --prediction score
expect_json '[m for m in d["metrics"] if m["metric"] == "DatasetDriftMetric"][0]["result"]["number_of_columns"] == 5'
expect_ok monitor --no-record --json -r ref.csv -c drift.csv --target label --prediction score --features age,income
expect_json '[m for m in d["metrics"] if m["metric"] == "DatasetDriftMetric"][0]["result"]["number_of_columns"] == 2'
# --fail-on takes every verdict, alone or combined
expect_rc 1 monitor --no-record -r ref.csv -c drift.csv --ignore ts --target label --prediction score --fail-on target-drift
expect_rc 1 monitor --no-record -r ref.csv -c drift.csv --ignore ts --target label --prediction score --fail-on prediction-drift,quality
expect_ok monitor --no-record -r ref.csv -c same.csv --ignore ts --target label --prediction score --fail-on target-drift,prediction-drift,performance,quality,drift
expect_ok monitor --no-record -r ref.csv -c drift.csv --ignore ts --fail-on target-drift
expect_rc 2 monitor --no-record -r ref.csv -c drift.csv --ignore ts --fail-on label-drift
GITHUB_ACTIONS=true GITHUB_STEP_SUMMARY="$TEST_TMP/summary.md" "$MLO" monitor --no-record -r ref.csv -c drift.csv --ignore ts > gha.out 2> gha.err
grep -q "^::error title=mlo monitor" gha.err || fail "no ::error annotation on stderr"
grep -q "^::warning title=mlo monitor" gha.err || fail "no ::warning annotation on stderr"
grep -q "^::warning title=mlo monitor adhoc (drift) column age::" gha.err || fail "annotation does not name the column"
! grep -q "^::" gha.out || fail "annotations leaked into stdout"
# --json stays parseable under GitHub Actions; annotations escape : and , in
# the title and % and newlines in the message (workflow-command rules)
GITHUB_ACTIONS=true "$MLO" monitor --no-record --json -r ref.csv -c drift.csv --ignore ts > gha.json 2> gha.err
$PY -c "import json,sys; json.load(open(sys.argv[1]))" gha.json || fail "--json output does not parse under GITHUB_ACTIONS"
printf '"a:b,c"\n1.5\n2.5\n3.5\n' > odd_ref.csv  # floats: integers with <= 5 values would be categorical
printf '"a:b,c"\n9.5\n9.5\n9.5\n' > odd_cur.csv
GITHUB_ACTIONS=true "$MLO" monitor --no-record -r odd_ref.csv -c odd_cur.csv > /dev/null 2> gha.err
grep -q "column a%3Ab%2Cc::" gha.err || { cat gha.err; fail "title property not escaped"; }
grep -q "100%25 of values outside the reference range" gha.err || { cat gha.err; fail "% not escaped in the message"; }
grep -q "Dataset drift: detected" "$TEST_TMP/summary.md" || fail "no job summary"

# --- monitors in mlo.yaml, tracked reference read from the cache, cached profile
mkdir -p data
cp ref.csv data/ref.csv
h=$(sha256sum data/ref.csv | cut -c1-64)
mkdir -p .mlo/cache/objects/${h:0:2} && cp data/ref.csv .mlo/cache/objects/${h:0:2}/${h:2}
printf 'version: 1\npath: ref.csv\ntype: file\nsha256: %s\nsize: %s\n' "$h" "$(stat -c %s data/ref.csv)" > data/ref.csv.mlo
cat > mlo.yaml <<'YAML'
stages: {}
monitors:
  churn:
    reference: data/ref.csv
    current: [drift.csv]
    columns:
      timestamp: ts
      target: label
      prediction: score
      categorical: [city]
    drift:
      drift_share: 0.3
      columns:
        income: {method: psi, threshold: 0.2}
    quality:
      new_category_share: 0.5
    on_drift:
      run: [train]
      register: churn-model
      propose: staging
YAML
git add mlo.yaml data/ref.csv.mlo && git commit -qm "monitor config"
expect_ok monitor churn --json
expect_json "d['reference']['profile']=='computed' and d['reference']['bytes_read']>0 and 'id' in d"
expect_json "[m for m in d['metrics'] if m['metric']=='ColumnDriftMetric' and m['result']['column_name']=='income'][0]['result']['stattest_name']=='psi'"
expect_json "[m for m in d['metrics'] if m['metric']=='DatasetDriftMetric'][0]['result']['drift_share']==0.3"
# a new batch against the cached profile reads only the current data, even with the reference gone
rm -f data/ref.csv .mlo/cache/objects/${h:0:2}/${h:2}
expect_ok monitor churn --json -c same.csv
expect_json "d['reference']['profile']=='cached' and d['reference']['bytes_read']==0 and d['current']['bytes_read']>0"
expect_rc 3 monitor churn -c same.csv --no-cache --no-record
expect_err_contains "is not in the local cache"
# PATH@REV: the pointer at a revision, content from the cache
cp same.csv data/ref.csv
h2=$(sha256sum data/ref.csv | cut -c1-64)
mkdir -p .mlo/cache/objects/${h2:0:2} && cp data/ref.csv .mlo/cache/objects/${h2:0:2}/${h2:2}
printf 'version: 1\npath: ref.csv\ntype: file\nsha256: %s\nsize: %s\n' "$h2" "$(stat -c %s data/ref.csv)" > data/ref.csv.mlo
git add data/ref.csv.mlo && git commit -qm "new reference"
expect_ok monitor --no-record --json -r data/ref.csv@HEAD -c same.csv --ignore ts
expect_json "d['reference']['rows']==1500 and d['summary']['drift']=='ok'"
expect_rc 3 monitor --no-record -r data/ref.csv@nosuchrev -c same.csv

# --- history and the retraining trigger
expect_ok monitor history churn --json
expect_json "len(d['results'])==2 and d['results'][0]['dataset_drift'] and not d['results'][1]['dataset_drift'] and 'age' in d['results'][0]['columns']"
expect_ok monitor history
expect_out_contains "churn"
expect_rc 5 monitor churn --act -c drift.csv
expect_err_contains "on_drift step failed: mlo run train"
expect_ok monitor history churn --json
expect_json "d['results'][-1]['actions'][0]['status']=='failed' and 'age' in d['results'][-1]['actions'][0]['evidence']['drifted_columns']"
expect_ok monitor churn --act -c same.csv
expect_out_contains "No dataset drift: nothing to do."

# --- heatmap: day-by-day drift matrix of the current data
expect_ok monitor --no-record -r ref.csv -c ref.csv --timestamp ts --ignore label,score --heatmap heat.html --json
expect_json "len(d['days'])==3 and all(d['share_of_drifted_columns'][i][i]==0 for i in range(3))"
grep -q "<svg" heat.html || fail "no heatmap SVG"
grep -q "share of drifted columns</text>" heat.html || fail "heatmap has no colour legend"
grep -q "<title>reference 2024-05-01, current 2024-05-02: [0-9.]* of columns drifted</title>" heat.html ||
  fail "heatmap cells have no hover title"
grep -q ">0.00</text></g>" heat.html || fail "heatmap cells do not show their values"
# history has no day-by-day matrix: --heatmap there is an error, not a silent no-op
rm -f heat2.html
expect_rc 2 monitor history --heatmap heat2.html
expect_err_contains "--heatmap"
expect_no_file heat2.html
# history with 30 columns: wrapped into blocks, every name whole (12-character
# prefixes used to cut them into duplicates), lines short enough to read
$PY - <<'PYEOF'
import numpy as np
rng = np.random.default_rng(7)
for name, shift in (("wide_ref.csv", 0), ("wide_cur.csv", 1)):
    with open(name, "w") as f:
        f.write(",".join(f"customer_feature_{i:02d}" for i in range(30)) + "\n")
        for _ in range(200):
            f.write(",".join(f"{v:.4f}" for v in rng.normal(shift * (np.arange(30) % 2), 1)) + "\n")
PYEOF
expect_ok monitor -r wide_ref.csv -c wide_cur.csv
expect_ok monitor history adhoc
for i in 00 07 15 29; do expect_out_contains "customer_feature_$i"; done
longest=$(printf '%s\n' "$OUT" | awk '{ if (length($0) > m) m = length($0) } END { print m }')
[ "$longest" -le 120 ] || fail "history lines are $longest characters wide with 30 columns"
# re-rendering a recorded result (--html, --markdown on the same data) adds no
# history row; new data with --html is recorded
count_results() { run_mlo --json monitor history adhoc; printf '%s' "$OUT" | $PY -c "import json,sys; print(len(json.load(sys.stdin)['results']))"; }
before=$(count_results)
expect_ok monitor -r wide_ref.csv -c wide_cur.csv --html wide.html
expect_out_contains "not recorded again"
expect_file wide.html
expect_ok monitor -r wide_ref.csv -c wide_cur.csv --markdown
expect_eq "$(count_results)" "$before" "history rows after re-rendering"
expect_ok monitor -r wide_ref.csv -c wide_ref.csv --html wide2.html
expect_eq "$(count_results)" "$((before + 1))" "history rows after a new batch with --html"
done_testing
