#!/usr/bin/env bash
# mlo monitor's statistics against an independent implementation: scipy/numpy
# (Debian python3-scipy, python3-numpy) on the same generated files, 1e-6 relative.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
$PY -c "import scipy, numpy" 2>/dev/null || skip "python3-scipy/python3-numpy not installed (make deps)"
CHECK="$(dirname "$0")/monitor/scipy_check.py"
cd "$TEST_TMP"

NUMS=n_norm,n_shift,n_ties
# n_small holds integers with at most 5 distinct reference values: categorical,
# as in Evidently (NUMBER_UNIQUE_AS_CATEGORICAL)
CATS=c_multi,c_bin,n_small
run_case() {  # DIR: every method through mlo, then one scipy process checks them all
  local d=$1 pairs=()
  for m in ks wasserstein energy anderson cramer_von_mises mannw t_test psi kl_div jensenshannon hellinger; do
    expect_ok monitor --no-record --json -r "$d/ref.csv" -c "$d/cur.csv" --features $NUMS --method $m
    printf '%s' "$OUT" > "$d/$m.json"
    pairs+=("$m=$d/$m.json")
  done
  for m in chisquare z g_test psi kl_div jensenshannon hellinger tvd; do
    local cols=$CATS
    [ $m = z ] && cols=c_bin
    expect_ok monitor --no-record --json -r "$d/ref.csv" -c "$d/cur.csv" --features $cols --cat-method $m
    printf '%s' "$OUT" > "$d/cat-$m.json"
    pairs+=("$m=$d/cat-$m.json")
  done
  expect_ok monitor --no-record --json -r "$d/ref.csv" -c "$d/cur.csv" --features c_bin --cat-method fisher_exact
  printf '%s' "$OUT" > "$d/fisher.json"
  pairs+=("fisher_exact=$d/fisher.json")
  $PY "$CHECK" check "$d" "${pairs[@]}" || fail "mlo differs from scipy on $d (see BAD lines above)"
}

# small: exact KS p-value path, unequal sizes
mkdir small && $PY "$CHECK" gen small 1 400 300 && run_case small
# equal sizes (KS closed form) and larger than 10000 (asymptotic kstwo) with ties
mkdir equal && $PY "$CHECK" gen equal 2 800 800 && run_case equal
mkdir large && $PY "$CHECK" gen large 3 3000 12000 && run_case large
# tiny samples: exact Mann-Whitney and exact Cramer-von Mises
mkdir tiny && $PY "$CHECK" gen tiny 4 7 9
pairs=()
for m in mannw cramer_von_mises ks; do
  expect_ok monitor --no-record --json -r tiny/ref.csv -c tiny/cur.csv --features n_norm,n_shift --method $m
  printf '%s' "$OUT" > tiny/$m.json
  pairs+=("$m=tiny/$m.json")
done
$PY "$CHECK" check tiny "${pairs[@]}" || fail "mlo differs from scipy on tiny samples"

# DIR FEATURES METHOD...: each method through mlo on those columns, then one scipy check
run_methods() {
  local d=$1 cols=$2 pairs=()
  shift 2
  for m in "$@"; do
    expect_ok monitor --no-record --json -r "$d/ref.csv" -c "$d/cur.csv" --features "$cols" --method "$m"
    printf '%s' "$OUT" > "$d/x-$m.json"
    pairs+=("$m=$d/x-$m.json")
  done
  $PY "$CHECK" check "$d" "${pairs[@]}" || fail "mlo differs from scipy on $d ($cols)"
}
# Evidently's formulas (issue 13): mannw one-sided "less", Cramer-von Mises
# exact up to max(n) = 20, missing values dropped, a 1e9 offset for t_test,
# hellinger 0 on a constant column, jensenshannon in natural log.
for size in "8 15" "20 18" "30 30"; do
  d=n${size/ /_}
  mkdir "$d" && $PY "$CHECK" gen "$d" 5 $size
  run_methods "$d" n_norm,n_shift,n_miss mannw cramer_von_mises ks t_test es
  run_methods "$d" n_const,n_ties ks wasserstein hellinger psi jensenshannon
done
mkdir big && $PY "$CHECK" gen big 6 1001 1000
run_methods big n_big,n_miss,n_shift,n_ties t_test mannw cramer_von_mises hellinger jensenshannon es
run_methods big n_const es
run_methods big n_const hellinger psi kl_div jensenshannon
# empirical_mmd (issue 13): the same permutations as numpy after
# np.random.seed(0) on sorted columns, so the p-value matches exactly; the
# statistic within 1e-9. Seeded: a second run gives the same p-value.
run_methods n8_15 n_norm,n_shift,n_miss,n_ties,n_const empirical_mmd
run_methods small n_norm,n_shift,n_ties empirical_mmd
run_methods big n_shift,n_miss empirical_mmd
expect_ok monitor --no-record --json -r big/ref.csv -c big/cur.csv --features n_shift,n_miss --method empirical_mmd
printf '%s' "$OUT" > big/mmd-again.json
$PY - big/x-empirical_mmd.json big/mmd-again.json <<'EOF' || fail "empirical_mmd gave different p-values on the same input"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
score = lambda r: [m["result"]["drift_score"] for m in r["metrics"] if m["metric"] == "ColumnDriftMetric"]
assert score(a) == score(b) and len(score(a)) == 2, (score(a), score(b))
EOF
# more distinct values than the kernel takes: refused with a hint, exit 3
expect_rc 3 monitor --no-record -r large/ref.csv -c large/cur.csv --features n_norm --method empirical_mmd
expect_err_contains "empirical_mmd compares every pair"
# the default method for categorical columns above 1,000 reference rows is
# jensenshannon: its verdicts follow Evidently's natural-log distance
expect_ok monitor --no-record --json -r big/ref.csv -c big/cur.csv --features c_multi,c_bin
printf '%s' "$OUT" > big/default.json
grep -q '"stattest_name": *"jensenshannon"\|"method": *"jensenshannon"' big/default.json ||
  fail "categorical default above 1,000 rows is not jensenshannon"
$PY "$CHECK" check big jensenshannon=big/default.json || fail "default jensenshannon differs from Evidently's"
done_testing
