#!/usr/bin/env bash
# mlo monitor --segment-by / segments: (issue 13): drift, quality and
# performance per segment, disparity metrics between segments in every report,
# and the registry's fairness gate on a version's evaluation data. The
# fairness numbers are checked against numpy computations of the definitions
# (fairlearn's demographic_parity_ratio, equal_opportunity_difference, ...)
# written out below, not against mlo's own output.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
$PY -c "import numpy, pandas" 2>/dev/null || skip "python3-numpy/pandas not installed (make deps)"
new_repo seg
# gender F/M; in the current data only F drifts (age) and the model favours M
gen() {  # FILE N DRIFT SEED
  $PY - "$@" <<'PYEOF'
import sys, numpy as np
f, n, drift, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(seed)
with open(f, "w") as out:
    out.write("gender,age,income,label,score,amount,predicted_amount\n")
    for i in range(n):
        g = "F" if rng.random() < 0.45 else "M"
        age = rng.normal(40 + (12 if drift and g == "F" else 0), 8)
        inc = rng.lognormal(10, 0.5)
        label = int(rng.random() < 0.4)
        bias = -0.15 if (drift and g == "F") else 0.05
        score = min(1, max(0, (0.62 if label else 0.3) + bias + rng.normal(0, 0.15)))
        amount = rng.normal(100, 20)
        pred = amount + rng.normal(0, 5 if g == "M" else 12)
        out.write(f"{g},{age:.3f},{inc:.2f},{label},{score:.4f},{amount:.3f},{pred:.3f}\n")
PYEOF
}
gen ref.csv 2000 0 1
gen cur.csv 1600 1 2

# --- checks per segment and disparities (JSON)
expect_ok monitor --no-record --json -r ref.csv -c cur.csv --target label --prediction score --ignore amount,predicted_amount --segment-by gender
printf '%s' "$OUT" > seg.json
$PY - seg.json cur.csv ref.csv <<'PYEOF' || fail "segments or fairness differ from the numpy computation"
import json, sys
import numpy as np, pandas as pd
res = json.load(open(sys.argv[1]))
cur, ref = pd.read_csv(sys.argv[2]), pd.read_csv(sys.argv[3])
sec = res["segments"][0]
assert sec["column"] == "gender"
segs = {s["value"]: s for s in sec["segments"]}
assert set(segs) == {"F", "M"}, segs.keys()
# F drifts (age), M does not; gender is not tested within its own segments
assert segs["F"]["drift"] == "drift" and "age" in segs["F"]["drifted_columns"], segs["F"]
assert segs["M"]["drift"] == "ok", segs["M"]
assert segs["F"]["current_rows"] == int((cur.gender == "F").sum()) and segs["M"]["reference_rows"] == int((ref.gender == "M").sum())
assert "gender" not in segs["F"]["drifted_columns"]
assert abs(segs["M"]["metrics"]["accuracy"] - float(((cur.score >= 0.5).astype(int) == cur.label)[cur.gender == "M"].mean())) < 1e-12
def fairness(df):
    # the definitions, per group g: selection rate P(yhat=1), TPR P(yhat=1 | y=1),
    # accuracy, F1 of the positive label (the larger one: 1); yhat = score >= 0.5
    out = {}
    for g, d in df.groupby("gender"):
        yhat, y = (d.score >= 0.5).astype(int).to_numpy(), d.label.to_numpy()
        tp, fp, fn = int(((yhat == 1) & (y == 1)).sum()), int(((yhat == 1) & (y == 0)).sum()), int(((yhat == 0) & (y == 1)).sum())
        out[g] = {"selection_rate": yhat.mean(), "true_positive_rate": tp / (tp + fn),
                  "accuracy": (yhat == y).mean(), "f1": 2 * tp / (2 * tp + fp + fn)}
    sel = [v["selection_rate"] for v in out.values()]
    tpr = [v["true_positive_rate"] for v in out.values()]
    acc = [v["accuracy"] for v in out.values()]
    f1 = [v["f1"] for v in out.values()]
    disp = {"demographic_parity_ratio": min(sel) / max(sel), "demographic_parity_difference": max(sel) - min(sel),
            "equal_opportunity_difference": max(tpr) - min(tpr), "equal_opportunity_ratio": min(tpr) / max(tpr),
            "accuracy_difference": max(acc) - min(acc), "min_accuracy": min(acc), "f1_difference": max(f1) - min(f1),
            "min_f1": min(f1)}
    return out, disp
for side, df in (("current", cur), ("reference", ref)):
    got = sec["fairness"][side]
    per, disp = fairness(df)
    assert got["task"] == "classification" and got["positive_label"] == "1", got
    for s in got["segments"]:
        for k, v in per[s["value"]].items():
            assert abs(s[k] - v) < 1e-12, (side, s["value"], k, s[k], v)
    for k, v in disp.items():
        assert abs(got["disparities"][k] - v) < 1e-12, (side, k, got["disparities"][k], v)
    print(side, {k: round(v, 4) for k, v in disp.items()})
# the model favours M in the current data: the parity ratio drops below 0.8
assert sec["fairness"]["current"]["disparities"]["demographic_parity_ratio"] < 0.8
assert sec["fairness"]["reference"]["disparities"]["demographic_parity_ratio"] > 0.8
PYEOF
pass

# --- regression: per-segment RMSE and MAE, rmse ratio/difference
expect_ok monitor --no-record --json -r ref.csv -c cur.csv --target amount --prediction predicted_amount --task regression --features age --segment-by gender
printf '%s' "$OUT" > reg.json
$PY - reg.json cur.csv <<'PYEOF' || fail "regression fairness differs from numpy"
import json, sys
import numpy as np, pandas as pd
res, cur = json.load(open(sys.argv[1])), pd.read_csv(sys.argv[2])
got = res["segments"][0]["fairness"]["current"]
assert got["task"] == "regression", got
rmse = {g: float(np.sqrt(((d.amount - d.predicted_amount) ** 2).mean())) for g, d in cur.groupby("gender")}
for s in got["segments"]:
    assert abs(s["rmse"] - rmse[s["value"]]) <= 1e-9 * rmse[s["value"]], (s, rmse)
d = got["disparities"]
assert abs(d["rmse_ratio"] - min(rmse.values()) / max(rmse.values())) < 1e-9
assert abs(d["max_rmse"] - max(rmse.values())) < 1e-9 and d["demographic_parity_ratio"] is None
PYEOF
pass

# --- the same facts in text, Markdown and HTML
expect_ok monitor --no-record -r ref.csv -c cur.csv --target label --prediction score --ignore amount,predicted_amount --segment-by gender --html seg.html
expect_out_contains "Segments by gender:"
expect_out_contains "fairness (current): demographic_parity_ratio"
expect_out_contains "selection rate"
grep -q "<h2>Segments by gender</h2>" seg.html || fail "HTML report lacks the segments table"
grep -q "equal_opportunity_difference" seg.html || fail "HTML report lacks the disparities"
expect_ok monitor --no-record --markdown -r ref.csv -c cur.csv --target label --prediction score --ignore amount,predicted_amount --segment-by gender
expect_out_contains "### Segments by gender"
expect_out_contains "| F |"
expect_out_contains "demographic_parity_ratio"

# --- segments: in a monitor of mlo.yaml
cat > mlo.yaml <<'YAML'
monitors:
  fair:
    reference: ref.csv
    current: cur.csv
    segments: [gender]
    columns: {target: label, prediction: score, ignored: [amount, predicted_amount]}
YAML
expect_ok monitor fair --no-record --json
expect_json 'd["segments"][0]["column"] == "gender" and len(d["segments"][0]["segments"]) == 2'
# bad input: a segment column that does not exist
expect_rc 3 monitor --no-record -r ref.csv -c cur.csv --segment-by nosuch
expect_err_contains "segment column 'nosuch' is not in the reference data"

# --- the fairness gate: evaluated on the evaluation data the version names
mkdir -p data eval
cp cur.csv data/holdout.csv
cat > mlo.yaml <<'YAML'
stages:
  evaluate:
    cmd: cp data/holdout.csv eval/predictions.csv && echo model > model.txt
    deps: [data/holdout.csv]
    outs: [eval/predictions.csv, model.txt]
  train_only:
    cmd: echo other > model2.txt
    outs: [model2.txt]
registry:
  stages:
    production:
      gates:
        fairness:
          checks: ["demographic_parity_ratio(gender) >= 0.8", "equal_opportunity_difference(gender) <= 0.5"]
          target: label
          prediction: score
    staging:
      gates:
        fairness: ["demographic_parity_ratio(gender) >= 0.5"]
YAML
expect_ok data add data/holdout.csv
git add -A && git commit -qm "evaluation stage"
expect_ok run -q evaluate
expect_ok --json register fair model.txt --stage evaluate
# the ratio on the version's predictions is below 0.8: refused (exit 1), with the value
expect_rc 1 --json promote fair@v0.0.1 --to production
printf '%s' "$OUT" > gate.json
$PY - gate.json seg.json <<'PYEOF' || fail "fairness gate value differs from the monitor's (numpy-checked) value"
import json, sys
out, seg = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
gates = [g for g in out["gates"] if g["gate"] == "fairness"]
assert len(gates) == 2, out
dp = seg["segments"][0]["fairness"]["current"]["disparities"]["demographic_parity_ratio"]
g = [g for g in gates if g["what"].startswith("demographic_parity_ratio")][0]
assert not g["passed"] and abs(float(g["value"]) - dp) < 1e-5 and "eval/predictions.csv" in g["detail"], g
PYEOF
pass
# columns default to target/prediction: this data has neither, so staging refuses with the reason
expect_rc 1 promote fair@v0.0.1 --to staging
expect_out_contains "no data"
expect_ok run -q train_only
expect_ok register other --stage train_only
expect_rc 1 promote other@v0.0.1 --to production
expect_out_contains "names no evaluation data"
# a typo in a gate is an error in mlo.yaml (exit 3), not a silently dropped gate
sed -i 's/demographic_parity_ratio(gender) >= 0.5/demographic_parity_ration(gender) >= 0.5/' mlo.yaml
expect_rc 3 promote fair@v0.0.1 --to staging
expect_err_contains "unknown fairness metric 'demographic_parity_ration'"
sed -i 's/fairness: \["demographic_parity_ration(gender) >= 0.5"\]/fairness: [{min_f1: 0.5}]/' mlo.yaml
expect_rc 3 promote fair@v0.0.1 --to staging
# the schema check (lib/repo/yaml_schema) names the entry and its kind
expect_err_contains "fairness[0]' must be a string, not a mapping"
done_testing
