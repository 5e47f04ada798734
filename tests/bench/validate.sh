#!/usr/bin/env bash
# Benchmark: mlo data validate vs pandas doing the same 50 checks on the same
# file (issue 17): ROWS (default 1,000,000) rows x 25 columns.
#   The checks: id integer/unique/not null; 15 numbers typed and in range;
#   5 categories in their allowed sets; a regex; a timestamp column typed and
#   fresh; a missing share; a score range; 4 row expressions; a two-column
#   primary key; a row count; no extra columns = 50.
#   RUNS=5: mlo and pandas run in alternation (A B A B ...), medians of wall
#   and CPU time and peak RSS; both report the same failure counts (checked).
#   BIG_ROWS=10000000: mlo only, peak RSS (/usr/bin/time); 0 skips it. The big
#   file repeats the small one with ids renumbered, so the unique and primary
#   key checks see BIG_ROWS distinct keys.
# Data is generated here (not committed) under $BENCH_DIR and removed afterwards.
# Nothing fails on speed; the machine may be shared: the load average is printed.
set -euo pipefail
MLO=${MLO:-$(dirname "$0")/../../build/mlo}
MLO=$(readlink -f "$MLO")
PY=/usr/bin/python3
ROWS=${ROWS:-1000000}
BIG_ROWS=${BIG_ROWS:-10000000}
RUNS=${RUNS:-5}
BENCH_DIR=${BENCH_DIR:-$(mktemp -d /tmp/mlo-bench-validate.XXXXXX)}
trap '[ -n "${KEEP:-}" ] || rm -rf "$BENCH_DIR"' EXIT
$PY -c "import pandas, numpy" || { echo "needs python3-pandas (make deps)"; exit 1; }
mkdir -p "$BENCH_DIR" && cd "$BENCH_DIR"
git init -q . && "$MLO" init -q

echo "generating $ROWS rows x 25 columns ..."
$PY - "$ROWS" <<'PYEOF'
import sys, numpy as np, pandas as pd
n = int(sys.argv[1])
rng = np.random.default_rng(3)
d = {"id": np.arange(n)}
for i in range(15):
    d[f"num{i}"] = np.round(rng.normal(10 * i, 1 + i % 4, n), 3)
for i in range(5):
    d[f"cat{i}"] = rng.choice([f"v{j}" for j in range(4 + 3 * i)], n)
letters = np.array(list("ABCDEFGHIJ"))
d["code"] = np.char.add(np.char.add(letters[rng.integers(0, 10, n)], letters[rng.integers(0, 10, n)]),
                        np.char.add("-", rng.integers(1000, 10000, n).astype(str)))
d["ts"] = (pd.Timestamp("2026-12-01") + pd.to_timedelta(rng.integers(0, 86400 * 3, n), unit="s")).strftime("%Y-%m-%dT%H:%M:%SZ")
amount = np.round(rng.exponential(100, n), 2).astype(object)
amount[rng.random(n) < 0.01] = ""
d["amount"] = amount
d["score"] = np.round(rng.random(n), 4)
df = pd.DataFrame(d)
# a few bad rows, so that every kind of check has something to count
df.loc[10, "num3"] = 1e6
df.loc[20, "cat2"] = "bad"
df.loc[30, "code"] = "zz-1"
df.loc[40, "score"] = 1.5
df.loc[50, "num0"] = "x"
df.to_csv("data.csv", index=False)
PYEOF
ls -la data.csv
sync

cat > mlo.yaml <<'YAML'
checks:
  data.csv:
    columns:
      id: {type: integer, unique: true, nullable: false}
      num0: {type: number, min: -100, max: 100}
      num1: {type: number, min: -100, max: 100}
      num2: {type: number, min: -100, max: 100}
      num3: {type: number, min: -100, max: 100}
      num4: {type: number, min: -100, max: 100}
      num5: {type: number, min: -100, max: 200}
      num6: {type: number, min: -100, max: 200}
      num7: {type: number, min: -100, max: 200}
      num8: {type: number, min: -100, max: 200}
      num9: {type: number, min: -100, max: 200}
      num10: {type: number, min: 0, max: 200}
      num11: {type: number, min: 0, max: 200}
      num12: {type: number, min: 0, max: 200}
      num13: {type: number, min: 0, max: 200}
      num14: {type: number, min: 0, max: 200}
      cat0: {in: [v0, v1, v2, v3]}
      cat1: {in: [v0, v1, v2, v3, v4, v5, v6]}
      cat2: {in: [v0, v1, v2, v3, v4, v5, v6, v7, v8, v9]}
      cat3: {in: [v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12]}
      cat4: {in: [v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15]}
      code: {regex: '[A-J]{2}-[0-9]{4}'}
      ts: timestamp
      amount: {max_missing: 0.05}
      score: {min: 0, max: 1}
    extra_columns: false
    primary_key: [id, cat0]
    rows: {min: 1000}
    freshness: {column: ts, max_age: 3650d}
    expect:
      - num0 + num1 < 100
      - amount >= 0 or amount is null
      - cat0 in ['v0', 'v1'] or num2 > -1000
      - score * 2 <= 2
YAML

cat > peer.py <<'PYEOF'
# The same 50 checks in pandas: failures counted, first 5 failing rows kept.
import sys, re, json, numpy as np, pandas as pd
df = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False, na_values=[""])
out = {}
def check(name, bad):
    bad = np.asarray(bad, dtype=bool)
    out[name] = [int(bad.sum()), (np.flatnonzero(bad)[:5] + 2).tolist()]
num = {c: pd.to_numeric(df[c], errors="coerce") for c in df.columns if c.startswith("num") or c in ("id", "amount", "score")}
check("id.type", df["id"].notna() & ~(num["id"].notna() & (num["id"] == np.floor(num["id"]))))
check("id.unique", df["id"].duplicated() & df["id"].notna())
check("id.nullable", df["id"].isna())
for i in range(15):
    c = f"num{i}"; lo, hi = (-100, 100) if i < 5 else (-100, 200) if i < 10 else (0, 200)
    check(c + ".type", df[c].notna() & num[c].isna())
    check(c + ".range", num[c].notna() & ((num[c] < lo) | (num[c] > hi)))
for i, k in enumerate((4, 7, 10, 13, 16)):
    c = f"cat{i}"
    check(c + ".in", df[c].notna() & ~df[c].isin([f"v{j}" for j in range(k)]))
check("code.regex", df["code"].notna() & ~df["code"].str.fullmatch(r"[A-J]{2}-[0-9]{4}", na=False))
ts = pd.to_datetime(df["ts"], errors="coerce", utc=True)
check("ts.type", df["ts"].notna() & ts.isna())
check("amount.max_missing", np.full(len(df), df["amount"].isna().mean() > 0.05) & df["amount"].isna())
check("score.range", df["score"].notna() & ~((num["score"] >= 0) & (num["score"] <= 1)))
check("extra_columns", np.zeros(len(df)))
keys = df[["id", "cat0"]]
check("primary_key", keys.isna().any(axis=1) | keys.duplicated())
check("rows", np.zeros(len(df)) if len(df) >= 1000 else np.ones(len(df)))
fresh = (pd.Timestamp.now(tz="UTC") - ts.max()).total_seconds() <= 3650 * 86400
check("freshness", np.zeros(len(df)) if fresh else np.ones(1))
check("expect1", ~(num["num0"] + num["num1"] < 100))
check("expect2", ~((num["amount"] >= 0) | df["amount"].isna()))
check("expect3", ~(df["cat0"].isin(["v0", "v1"]) | (num["num2"] > -1000)))
check("expect4", ~(num["score"] * 2 <= 2))
print(json.dumps({k: v[0] for k, v in out.items() if v[0]}, sort_keys=True))
print(len(out), "checks", file=sys.stderr)
PYEOF

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timed() {  # NAME CMD...: appends "wall cpu peak_rss_kb" to NAME.times
  local name=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o t.txt "$@" > /dev/null 2>&1 || true
  # (a failed check exits 1: time(1) then writes a "Command exited" line first)
  tail -n1 t.txt | awk '{printf "%s %.2f %d\n", $1, $2 + $3, $4}' >> "$name.times"
}
medians() {
  printf -v "$1" '%s' "$(awk '{print $1}' "$1.times" | median)"
  printf -v "${1}_cpu" '%s' "$(awk '{print $2}' "$1.times" | median)"
  printf -v "${1}_rss" '%s' "$(awk '{print int($3 / 1024)}' "$1.times" | median)"
}

# Both find the same failures (mlo's expect rows that read a non-number count too).
"$MLO" --json data validate --no-record > mlo.json || true
$PY peer.py data.csv > pandas.json
$PY - <<'PYEOF'
import json
m = json.load(open("mlo.json"))["datasets"][0]
p = json.load(open("pandas.json"))
got = {}
for c in m["checks"]:
    if c["failed"]:
        got[c.get("column", "") + "." + c["check"] + ("." + c["name"] if c["check"] == "expect" else "")] = c["failed"]
print("checks declared:", sum(1 for c in m["checks"] if c["check"] != "presence"), "(+", sum(1 for c in m["checks"] if c["check"] == "presence"), "presence)")
print("mlo failures:   ", dict(sorted(got.items())))
print("pandas failures:", p)
mlo_total, pandas_total = sum(got.values()), sum(p.values())
print("total failed rows: mlo", mlo_total, "pandas", pandas_total, "(same)" if mlo_total == pandas_total else "(DIFFERENT)")
PYEOF

echo "running mlo and pandas in alternation, $RUNS runs each (medians) ..."
echo "load average before: $(uptime | sed 's/.*load average: //')"
rm -f m.times p.times
for _ in $(seq "$RUNS"); do
  timed m "$MLO" data validate --no-record
  timed p $PY peer.py data.csv
done
medians m; medians p
echo "load average after: $(uptime | sed 's/.*load average: //')"
printf '\n| work (%s rows x 25 columns, 50 checks) | mlo wall | mlo CPU | mlo peak RSS | pandas wall | pandas CPU | pandas peak RSS | ratio wall | ratio CPU |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n' "$ROWS"
printf '| mlo data validate vs pandas | %ss | %ss | %s MB | %ss | %ss | %s MB | %.1fx | %.1fx |\n' \
  "$m" "$m_cpu" "$m_rss" "$p" "$p_cpu" "$p_rss" "$(echo "$p / $m" | bc -l)" "$(echo "$p_cpu / $m_cpu" | bc -l)"

if [ "$BIG_ROWS" != 0 ]; then
  echo "building a $BIG_ROWS-row file from the $ROWS-row one (ids renumbered) ..."
  reps=$(( BIG_ROWS / ROWS ))
  { head -n1 data.csv
    for r in $(seq 0 $((reps - 1))); do tail -n +2 data.csv | awk -F, -v OFS=, -v off=$((r * ROWS)) '{$1 = $1 + off; print}'; done
  } > big.csv
  rm data.csv && mv big.csv data.csv && sync
  /usr/bin/time -v "$MLO" --json data validate --no-record > big.json 2> big.time || true
  rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}' big.time)
  el=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' big.time)
  $PY -c 'import json; d=json.load(open("big.json"))["datasets"][0]; print("big run:", d["rows"], "rows,", d["failed_checks"], "failed checks; approximate:", [c["check"] + " " + c.get("column", "") for c in d["checks"] if c.get("approximate")])'
  printf '| %s rows x 25 columns, 50 checks (mlo only) | %s wall | peak RSS %d MB |\n' "$BIG_ROWS" "$el" $(( rss / 1024 ))
fi
