#!/usr/bin/env bash
# The sklearn runner serves a model fitted on a DataFrame plain arrays when
# the model answers both alike (issue 23: a one-row DataFrame costs ~8x the
# prediction), and keeps DataFrames for a pipeline that picks columns by name.
# Either way the answers equal scikit-learn's own on a DataFrame, and
# non-finite input is handled as scikit-learn handles it.
source "$(dirname "$0")/lib.sh"

if ! /usr/bin/python3 -c 'import sklearn, joblib, pandas' 2>/dev/null; then
  echo "note: python3-sklearn or python3-pandas missing; skipped"
  done_testing
fi
out=$(cd "$TEST_TMP" && /usr/bin/python3 - "$MLO_SOURCE_DIR/examples/serving/mlo-serve-sklearn" <<'PY' 2>&1
import importlib.machinery, importlib.util, operator, sys, warnings
import joblib, numpy as np, pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

loader = importlib.machinery.SourceFileLoader("runner", sys.argv[1])
r = importlib.util.module_from_spec(importlib.util.spec_from_loader("runner", loader))
loader.exec_module(r)
rng = np.random.default_rng(1)
X = pd.DataFrame(rng.normal(size=(300, 3)), columns=["a", "b", "c"])
y = np.where(X.a - X.c > 0, "stay", "churn")
by_name = make_pipeline(FunctionTransformer(operator.itemgetter(["c", "a"])), LogisticRegression())
models = {"gb": (GradientBoostingClassifier(n_estimators=20, random_state=0).fit(X, y), True),
          "columns by name": (make_pipeline(ColumnTransformer([("keep", "passthrough", ["c", "a"])]),
                                            LogisticRegression()).fit(X, y), False),
          "a function of the frame": (by_name.fit(X, y), False)}
probe = X.iloc[:7][["b", "c", "a"]]  # the request's own column order
for what, (est, arrays) in models.items():
    joblib.dump(est, "m.joblib")
    m = r.Model("m.joblib")
    m.warm_up()
    assert (m.pandas is None) == arrays, "%s: served %s" % (what, "arrays" if m.pandas is None else "DataFrames")
    with warnings.catch_warnings(record=True) as seen:
        got = m.predict(list(probe.columns), probe.values.tolist(), ["predict", "predict_proba"])
    want = {"predict": est.predict(X.iloc[:7]), "predict_proba": est.predict_proba(X.iloc[:7])}
    for n in want:
        assert np.array_equal(got[n], want[n]), "%s: %s differs: %s vs %s" % (what, n, got[n], want[n])
    assert not [w for w in seen if "feature names" in str(w.message)], "%s: warned %s" % (what, seen[0].message)
    print("%s: %s, answers equal" % (what, "arrays" if arrays else "DataFrames"))
# Non-finite input is checked by scikit-learn as before (the runner skips
# that check only for finite rows): refused by a model that cannot take NaN,
# scored by one that can.
nan = [[float("nan"), 0.5, 1.0]]
try:
    m.compute(nan, ["predict"])
    raise AssertionError("a NaN row was scored by a model that refuses NaN")
except ValueError as e:
    assert "NaN" in str(e), e
from sklearn.ensemble import HistGradientBoostingClassifier
hgb = HistGradientBoostingClassifier(max_iter=10).fit(X.values, y)
joblib.dump(hgb, "m.joblib")
m = r.Model("m.joblib")
m.warm_up()
assert np.array_equal(m.compute(nan, ["predict_proba"])["predict_proba"], hgb.predict_proba(np.array(nan)))
print("NaN: refused by a pipeline of LogisticRegression, scored by HistGradientBoosting as scikit-learn does")
PY
) || fail "$out"
echo "$out"
pass
done_testing
