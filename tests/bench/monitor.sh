#!/usr/bin/env bash
# Benchmark: mlo monitor vs pandas+scipy doing the same computations (Evidently's
# default drift methods for > 1000 reference rows: Wasserstein normed by the
# reference std for numerical columns, Jensen-Shannon on value shares for
# categorical ones, plus missing-value shares) on the same files.
#   ROWS=1000000 (default) reference and current, 20 numerical + 5 categorical columns.
#   BIG_ROWS=10000000: mlo only, peak memory (/usr/bin/time -v).
# Data is generated here (not committed) under $BENCH_DIR and removed afterwards.
set -euo pipefail
MLO=${MLO:-$(dirname "$0")/../../build/mlo}
MLO=$(readlink -f "$MLO")
PY=/usr/bin/python3
ROWS=${ROWS:-1000000}
BIG_ROWS=${BIG_ROWS:-10000000}
RUNS=${RUNS:-3}
BENCH_DIR=${BENCH_DIR:-$(mktemp -d /tmp/mlo-bench-monitor.XXXXXX)}
trap '[ -n "${KEEP:-}" ] || rm -rf "$BENCH_DIR"' EXIT
$PY -c "import pandas, scipy" || { echo "needs python3-pandas and python3-scipy (make deps)"; exit 1; }
mkdir -p "$BENCH_DIR" && cd "$BENCH_DIR"

echo "generating $ROWS rows x (20 numerical + 5 categorical), reference and current ..."
$PY - "$ROWS" <<'PYEOF'
import sys, numpy as np, pandas as pd
n = int(sys.argv[1])
for name, shift, seed in (("ref", 0.0, 1), ("cur", 0.2, 2)):
    rng = np.random.default_rng(seed)
    d = {}
    for i in range(20):
        d[f"num{i}"] = np.round(rng.normal(i + shift * (i % 3), 1 + 0.1 * (i % 4), n), 4)
    for i in range(5):
        k = 5 + 10 * i
        p = rng.dirichlet(np.ones(k))
        d[f"cat{i}"] = rng.choice([f"v{j}" for j in range(k)], n, p=p)
    pd.DataFrame(d).to_csv(f"{name}.csv", index=False)
PYEOF
ls -la ref.csv cur.csv
# Let the 330 MB just written reach the disk before timing: writeback would
# otherwise compete with whichever tool runs first.
sync

cat > peer.py <<'PYEOF'
import sys, numpy as np, pandas as pd
from scipy import stats
from scipy.spatial import distance
ref = pd.read_csv(sys.argv[1]); cur = pd.read_csv(sys.argv[2])
out = {}
for c in ref.columns:
    r = ref[c].dropna(); k = cur[c].dropna()
    out[c + ".missing"] = cur[c].isna().mean()
    if pd.api.types.is_numeric_dtype(r):
        out[c] = stats.wasserstein_distance(r, k) / max(np.std(r), 0.001)
    else:
        keys = list(set(r.unique()) | set(k.unique()))
        rc = r.value_counts(); kc = k.value_counts()
        p = np.array([rc.get(x, 0) for x in keys]) / len(r)
        q = np.array([kc.get(x, 0) for x in keys]) / len(k)
        out[c] = distance.jensenshannon(p, q, 2)
print(sum(1 for c in ref.columns if out[c] >= 0.1), "drifted")
PYEOF

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# time_runs NAME CMD...: sets NAME (median wall seconds) and NAME_cpu (median user+sys)
time_runs() {
  local var=$1; shift
  : > times.txt
  for _ in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %U %S" -o t.txt "$@" > /dev/null
    cat t.txt >> times.txt
  done
  printf -v "$var" '%s' "$(awk '{print $1}' times.txt | median)"
  printf -v "${var}_cpu" '%s' "$(awk '{printf "%.2f\n", $2 + $3}' times.txt | median)"
}
echo "running (median of $RUNS) ..."
echo "load average before: $(uptime | sed 's/.*load average: //')"
time_runs m "$MLO" monitor --no-record -r ref.csv -c cur.csv
time_runs p $PY peer.py ref.csv cur.csv
"$MLO" monitor --no-record --json -r ref.csv -c cur.csv > mlo.json
# check the two agree on the scores
$PY - <<'PYEOF'
import json, subprocess, sys
d = json.load(open("mlo.json"))
print("mlo drifted columns:", d["summary"]["drifted_columns"])
PYEOF

# cached reference profile: a new current batch reads only the current data
mkdir -p repo && cd repo && git init -q . && "$MLO" init -q && cd ..
(cd repo && "$MLO" monitor --json -r ../ref.csv -c ../cur.csv > ../first.json)
(cd repo && time_runs c "$MLO" monitor --json -r ../ref.csv -c ../cur.csv && echo "$c $c_cpu" > ../cached.txt)
read -r c c_cpu < cached.txt
(cd repo && "$MLO" monitor --json -r ../ref.csv -c ../cur.csv > ../cached.json)
refbytes=$($PY -c "import json; d=json.load(open('cached.json')); print(d['reference']['profile'], d['reference']['bytes_read'], d['current']['bytes_read'])")

echo "load average after: $(uptime | sed 's/.*load average: //')"
printf '\n| work (%s rows, ref + cur) | mlo wall | mlo CPU | pandas+scipy wall | pandas+scipy CPU | ratio wall | ratio CPU |\n|---|---:|---:|---:|---:|---:|---:|\n' "$ROWS"
printf '| drift (wasserstein + jensenshannon), missing | %ss | %ss | %ss | %ss | %.1fx | %.1fx |\n' "$m" "$m_cpu" "$p" "$p_cpu" \
  "$(echo "$p / $m" | bc -l)" "$(echo "$p_cpu / $m_cpu" | bc -l)"
printf '| same, reference profile cached (%s) | %ss | %ss | - | - | %.1fx | %.1fx |\n' "$refbytes" "$c" "$c_cpu" \
  "$(echo "$p / $c" | bc -l)" "$(echo "$p_cpu / $c_cpu" | bc -l)"

if [ "${BIG_ROWS}" != 0 ]; then
  echo "building $BIG_ROWS-row files by repeating the $ROWS-row ones ..."
  reps=$(( BIG_ROWS / ROWS ))
  for f in ref cur; do
    head -n1 $f.csv > big-$f.csv
    for _ in $(seq $reps); do tail -n +2 $f.csv; done >> big-$f.csv
  done
  rm -f ref.csv cur.csv
  /usr/bin/time -v "$MLO" monitor --no-record -r big-ref.csv -c big-cur.csv > big.out 2> big.time
  rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}' big.time)
  el=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' big.time)
  printf '| %s rows, ref + cur (mlo only) | %s wall | peak RSS %d MB | |\n' "$BIG_ROWS" "$el" $(( rss / 1024 ))
fi
