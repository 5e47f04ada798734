#!/usr/bin/env bash
# Benchmark: mlo monitor vs pandas+scipy doing the same computations (Evidently's
# default drift methods for > 1000 reference rows: Wasserstein normed by the
# reference std for numerical columns, Jensen-Shannon on value shares for
# categorical ones, plus missing-value shares) on the same files.
#   ROWS=1000000 (default) reference and current, 20 numerical + 5 categorical columns.
#   BIG_ROWS=10000000: mlo only, peak memory (/usr/bin/time -v); 0 skips it.
#   RUNS=5: mlo and pandas+scipy run in alternation (A B A B ...), so both see
#   the same machine load; medians of wall and CPU (user+sys) time.
#   MLO_BASE=/path/to/old/mlo: also check that both builds print the same JSON
#   (every score and statistic) on these files, whose values repeat.
# Data is generated here (not committed) under $BENCH_DIR and removed afterwards.
# Nothing fails on speed; the machine may be shared: the load average is printed.
set -euo pipefail
MLO=${MLO:-$(dirname "$0")/../../build/mlo}
MLO=$(readlink -f "$MLO")
PY=/usr/bin/python3
ROWS=${ROWS:-1000000}
BIG_ROWS=${BIG_ROWS:-10000000}
RUNS=${RUNS:-5}
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
# timed NAME CMD...: one run; appends "wall cpu peak_rss_kb" to NAME.times
timed() {
  local name=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o t.txt "$@" > /dev/null
  awk '{printf "%s %.2f %d\n", $1, $2 + $3, $4}' t.txt >> "$name.times"
}
# medians NAME: sets NAME (median wall seconds), NAME_cpu (median user+sys), NAME_rss (MB)
medians() {
  printf -v "$1" '%s' "$(awk '{print $1}' "$1.times" | median)"
  printf -v "${1}_cpu" '%s' "$(awk '{print $2}' "$1.times" | median)"
  printf -v "${1}_rss" '%s' "$(awk '{print int($3 / 1024)}' "$1.times" | median)"
}
echo "running mlo and pandas+scipy in alternation, $RUNS runs each (medians) ..."
echo "load average before: $(uptime | sed 's/.*load average: //')"
rm -f m.times p.times
for _ in $(seq "$RUNS"); do
  timed m "$MLO" monitor --no-record -r ref.csv -c cur.csv
  timed p $PY peer.py ref.csv cur.csv
done
medians m; medians p
"$MLO" monitor --no-record --json -r ref.csv -c cur.csv > mlo.json
$PY -c 'import json; print("mlo drifted columns:", json.load(open("mlo.json"))["summary"]["drifted_columns"])'
if [ -n "${MLO_BASE:-}" ]; then
  "$(readlink -f "$MLO_BASE")" monitor --no-record --json -r ref.csv -c cur.csv > base.json
  $PY - <<'PYEOF'
import json
a, b = json.load(open("base.json")), json.load(open("mlo.json"))
for d in (a, b):
    d.pop("created_at", None)
    d["summary"].pop("seconds", None)
print("same JSON as MLO_BASE (every score, statistic and count):", "yes" if a == b else "NO")
PYEOF
fi

# cached reference profile: a new current batch reads only the current data
mkdir -p repo && cd repo && git init -q . && "$MLO" init -q && cd ..
(cd repo && "$MLO" monitor --json -r ../ref.csv -c ../cur.csv > ../first.json)
for _ in $(seq "$RUNS"); do (cd repo && timed ../c "$MLO" monitor --json -r ../ref.csv -c ../cur.csv); done
medians c
(cd repo && "$MLO" monitor --json -r ../ref.csv -c ../cur.csv > ../cached.json)
refbytes=$($PY -c "import json; d=json.load(open('cached.json')); print(d['reference']['profile'], d['reference']['bytes_read'], d['current']['bytes_read'])")

echo "load average after: $(uptime | sed 's/.*load average: //')"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs; $(uname -sr); mlo $("$MLO" --version)"
echo "reproduce: ROWS=$ROWS RUNS=$RUNS BIG_ROWS=$BIG_ROWS${MLO_BASE:+ MLO_BASE=$MLO_BASE} tests/bench/monitor.sh"
printf '\n| work (%s rows, ref + cur) | mlo wall | mlo CPU | mlo peak RSS | pandas+scipy wall | pandas+scipy CPU | pandas+scipy peak RSS | ratio wall | ratio CPU |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n' "$ROWS"
printf '| drift (wasserstein + jensenshannon), missing | %ss | %ss | %s MB | %ss | %ss | %s MB | %.1fx | %.1fx |\n' \
  "$m" "$m_cpu" "$m_rss" "$p" "$p_cpu" "$p_rss" "$(echo "$p / $m" | bc -l)" "$(echo "$p_cpu / $m_cpu" | bc -l)"
printf '| same, reference profile cached (%s) | %ss | %ss | %s MB | - | - | - | %.1fx | %.1fx |\n' "$refbytes" "$c" "$c_cpu" \
  "$c_rss" "$(echo "$p / $c" | bc -l)" "$(echo "$p_cpu / $c_cpu" | bc -l)"
# The targets set for the first run (README, "Registry, monitoring, ..."):
# mlo at least 15x faster than pandas+scipy in wall time and 8x in CPU.
met() { if [ "$(echo "$1 >= $2" | bc -l)" = 1 ]; then echo met; else echo "NOT met"; fi; }
echo "targets: wall >= 15x: $(met "$p / $m" 15); CPU >= 8x: $(met "$p_cpu / $m_cpu" 8)"

if [ "${BIG_ROWS}" != 0 ]; then
  echo "building $BIG_ROWS-row files by repeating the $ROWS-row ones ..."
  reps=$(( BIG_ROWS / ROWS ))
  for f in ref cur; do
    head -n1 $f.csv > big-$f.csv
    for _ in $(seq $reps); do tail -n +2 $f.csv; done >> big-$f.csv
  done
  rm -f ref.csv cur.csv
  sync
  /usr/bin/time -v "$MLO" monitor --no-record --json -r big-ref.csv -c big-cur.csv > big.json 2> big.time
  rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}' big.time)
  el=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' big.time)
  cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.2f", u + s}' big.time)
  echo "load average after the big run: $(uptime | sed 's/.*load average: //')"
  printf '| %s rows, ref + cur (mlo only) | %s wall | %ss CPU | peak RSS %d MB |\n' "$BIG_ROWS" "$el" "$cpu" $(( rss / 1024 ))
  # the repeated file has the same value shares as the 1M-row one: the same drift scores
  $PY - <<'PYEOF'
import json
a, b = json.load(open("mlo.json")), json.load(open("big.json"))
cols = lambda d: {m["result"]["column_name"]: m["result"] for m in d["metrics"] if m["metric"] == "ColumnDriftMetric"}
ca, cb = cols(a), cols(b)
print("big run: approximate columns:", sum(1 for r in cb.values() if r["approximate"]), "of", len(cb),
      "; largest relative difference from the", a["reference"]["rows"], "row run's drift scores:",
      "%.1e" % max(abs(cb[k]["drift_score"] - v["drift_score"]) / max(abs(v["drift_score"]), 1e-300) for k, v in ca.items()))
PYEOF
fi
