#!/usr/bin/env bash
# mlo monitor's statistics against an independent implementation: scipy/numpy
# (Debian python3-scipy, python3-numpy) on the same generated files, 1e-6 relative.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
$PY -c "import scipy, numpy" 2>/dev/null || skip "python3-scipy/python3-numpy not installed (make deps)"
CHECK="$(dirname "$0")/monitor/scipy_check.py"
cd "$TEST_TMP"

NUMS=n_norm,n_shift,n_ties,n_small
CATS=c_multi,c_bin
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
done_testing
