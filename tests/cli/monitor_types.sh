#!/usr/bin/env bash
# Evidently's column types and infinities (issue 13): integer columns with at
# most 5 distinct reference values are categorical (NUMBER_UNIQUE_AS_CATEGORICAL),
# and +-inf count in out-of-range shares as pandas/Evidently count them. The
# expected values come from pandas/scipy on the same files (Evidently's formulas
# written out here), not from mlo.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
$PY -c "import scipy, numpy, pandas" 2>/dev/null || skip "python3-scipy/numpy/pandas not installed (make deps)"
cd "$TEST_TMP"

# grade: integers 1..4, shifted in the current data (categorical)
# code:  integers 0..2 (categorical; 3 appears in the current data: a new category)
# score: two distinct floats (numerical: not an integer dtype)
# level: integers with a missing value in the current data (float dtype: numerical)
# many:  integers with 12 distinct values (numerical)
$PY - <<'PY'
import numpy as np
rng = np.random.default_rng(7)
def write(name, n, cur):
    grade = rng.choice([1, 2, 3, 4], n, p=[0.4, 0.3, 0.2, 0.1] if not cur else [0.25, 0.25, 0.25, 0.25])
    code = rng.integers(0, 3 + cur, n)
    score = rng.choice([0.5, 1.5], n)
    level = rng.integers(0, 3, n).astype(object)
    if cur: level[3] = ""
    many = rng.integers(0, 12, n)
    with open(name, "w") as f:
        f.write("grade,code,score,level,many\n")
        for i in range(n):
            f.write(f"{grade[i]},{code[i]},{score[i]},{level[i]},{many[i]}\n")
write("ref.csv", 400, 0)
write("cur.csv", 300, 1)
PY
expect_ok monitor --no-record --json -r ref.csv -c cur.csv
printf '%s' "$OUT" > default.json
$PY - default.json ref.csv cur.csv <<'PY' || fail "column types or scores differ from Evidently's rules"
import json, sys
import pandas as pd
from scipy import stats
res = json.load(open(sys.argv[1]))
ref, cur = pd.read_csv(sys.argv[2]), pd.read_csv(sys.argv[3])
cols = {m["result"]["column_name"]: m["result"] for m in res["metrics"] if m["metric"] == "ColumnDriftMetric"}
# Evidently's _get_column_type for features: integer dtype (of the current
# column) and nunique of the reference <= 5 -> categorical
for c in ref.columns:
    dtype = cur[c].dtype
    want = "cat" if pd.api.types.is_integer_dtype(dtype) and ref[c].nunique() <= 5 else "num"
    assert cols[c]["column_type"] == want, (c, cols[c]["column_type"], want)
assert sorted(c for c in cols if cols[c]["column_type"] == "cat") == ["code", "grade"], cols.keys()
# grade: 400 reference values, 4 keys: chisquare on the value counts
keys = sorted(set(ref.grade) | set(cur.grade))
rc = [int((ref.grade == k).sum()) for k in keys]
cc = [int((cur.grade == k).sum()) for k in keys]
p = stats.chisquare(cc, [r * len(cur) / len(ref) for r in rc])[1]
g = cols["grade"]
assert g["stattest_name"] == "chisquare", g["stattest_name"]
assert abs(g["drift_score"] - p) <= 1e-6 * p, (g["drift_score"], p)
# quality follows the type: new categories for grade, out-of-range for the others
tests = {(t["name"], t["parameters"].get("column_name")) for t in res["tests"]}
assert ("TestNewCategories", "code") in tests and ("TestShareOfOutRangeValues", "code") not in tests, tests
assert ("TestShareOfOutRangeValues", "many") in tests, tests
newcat = [t for t in res["tests"] if t["name"] == "TestNewCategories" and t["parameters"]["column_name"] == "code"][0]
share = float((~cur.code.isin(ref.code)).mean())
assert abs(newcat["parameters"]["share"] - share) < 1e-12 and share > 0, (newcat, share)
PY
pass
# an explicit method follows the type: a numerical-only method is refused for grade
expect_rc 3 monitor --no-record -r ref.csv -c cur.csv --features grade --column-method grade=ks
expect_err_contains "does not apply to categorical column 'grade'"
expect_ok monitor --no-record --json -r ref.csv -c cur.csv --features grade --column-method grade=tvd
expect_json 'd["metrics"][1]["result"]["stattest_name"] == "tvd"'
# a declared type wins
expect_ok monitor --no-record --json -r ref.csv -c cur.csv --features grade --numerical grade --column-method grade=ks
expect_json '[m for m in d["metrics"] if m["metric"] == "ColumnDriftMetric"][0]["result"]["column_type"] == "num"'

# ---- infinities: dropped from drift tests; in out-of-range shares as Evidently
# (range = reference min/max with +-inf; share over current non-missing values with +-inf)
$PY - <<'PY'
import numpy as np
rng = np.random.default_rng(11)
ref = [repr(float(v)) for v in rng.normal(0, 1, 200)] + ["inf"] * 3
cur = [repr(float(v)) for v in rng.normal(0.5, 1.5, 150)] + ["inf", "-inf", "-inf", ""]
for name, vals in (("iref.csv", ref), ("icur.csv", cur)):
    with open(name, "w") as f:
        f.write("x,y\n")
        for i, v in enumerate(vals):
            # y: finite on the reference side only (+-inf in the current one is out of range)
            y = repr(float(i % 7)) if name == "iref.csv" else ("-inf" if i % 50 == 0 else repr(float(i % 9)))
            f.write(f"{v},{y}\n")
PY
expect_ok monitor --no-record --json -r iref.csv -c icur.csv --method ks
printf '%s' "$OUT" > inf.json
$PY - inf.json iref.csv icur.csv <<'PY' || fail "infinities are not counted as Evidently counts them"
import json, sys
import numpy as np
import pandas as pd
from scipy import stats
res = json.load(open(sys.argv[1]))
ref, cur = pd.read_csv(sys.argv[2]), pd.read_csv(sys.argv[3])
for col in ("x", "y"):
    r, c = ref[col], cur[col]
    # ColumnValueRangeMetric: left/right from the reference, current.dropna(), between inclusive
    left, right = float(r.min()), float(r.max())
    cc = c.dropna()
    share = 1 - cc.between(left, right, inclusive="both").sum() / len(cc)
    t = [t for t in res["tests"] if t["name"] == "TestShareOfOutRangeValues" and t["parameters"]["column_name"] == col][0]
    assert abs(t["parameters"]["share"] - share) < 1e-12, (col, t, share)
    # get_one_column_drift: +-inf replaced by NaN and dropped before the stattest
    rr = r.replace([-np.inf, np.inf], np.nan).dropna()
    cr = c.replace([-np.inf, np.inf], np.nan).dropna()
    m = [m["result"] for m in res["metrics"] if m["metric"] == "ColumnDriftMetric" and m["result"]["column_name"] == col][0]
    p = stats.ks_2samp(rr, cr)[1]
    assert abs(m["drift_score"] - p) <= 1e-6 * p and m["current_values"] == len(cr), (col, m, p)
    print("ok", col, "out-of-range", share, "ks", p)
# x: the reference has +inf, so current +inf is in range and the bound is "inf"
x = [t for t in res["tests"] if t["name"] == "TestShareOfOutRangeValues" and t["parameters"]["column_name"] == "x"][0]
assert x["parameters"]["max"] == "inf", x
PY
pass
done_testing
