#!/usr/bin/env bash
# mlo ui at scale: RUNS_N run records (imported in one transaction) and
# MODELS x VERSIONS registry tags (GTO format, git fast-import), then the
# server-side render time of each page (the Server-Timing header mlo ui
# sends: from the parsed request to the page's bytes) and the client's total,
# medians of REPEAT requests after one warm-up. Target: < 100 ms a page.
# Not a timed test: CI never runs it.
# Usage: MLO=build/mlo tests/bench/ui.sh [RUNS_N] [MODELS] [VERSIONS]
# BENCH_CALLGRIND=1: only the import's instruction count (callgrind).
# BENCH_REPO=DIR builds the repo in DIR once and reuses it on later runs
# (building takes minutes; a binary with a newer index schema upgrades it).
set -euo pipefail
MLO=$(readlink -f "${MLO:-build/mlo}")
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
RUNS_N=${1:-100000}
MODELS=${2:-1000}
VERSIONS=${3:-50}
REPEAT=${REPEAT:-5}
UI_PID=
if [ -n "${BENCH_REPO:-}" ]; then
  WORK=$(mkdir -p "$BENCH_REPO" && cd "$BENCH_REPO" && pwd)
  trap '[ -n "$UI_PID" ] && kill "$UI_PID" 2>/dev/null' EXIT
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlo-bench-ui.XXXXXX")
  trap '[ -n "$UI_PID" ] && kill "$UI_PID" 2>/dev/null; rm -rf "$WORK"' EXIT
fi
cd "$WORK"
if [ -f repo/.bench-built ]; then
  cd repo
  echo "reusing the repo in $WORK/repo"
else
rm -rf repo
git init -q repo && cd repo
git config user.name Bench && git config user.email bench@example.com
"$MLO" init -q

# Run records: two stages, 5% failed, three params, two metrics, a 10-step loss series each.
/usr/bin/python3 - "$RUNS_N" >runs.jsonl <<'PY'
import json, random, sys
random.seed(7)
n = int(sys.argv[1])
for i in range(n):
    lr = random.choice([0.1, 0.03, 0.01, 0.003])
    acc = round(random.uniform(0.6, 0.99), 4)
    print(json.dumps({"run_id": f"{i:016x}", "stage": "train" if i % 2 else "eval",
                      "status": "failed" if i % 20 == 0 else "succeeded",
                      "started_at": 1.7e9 + i * 60, "finished_at": 1.7e9 + i * 60 + 30 + i % 50,
                      "params": {"train.lr": lr, "train.depth": i % 10, "train.optimizer": random.choice(["adam", "sgd"])},
                      "metrics": {"acc": acc, "loss": round(1 - acc, 4)},
                      "metric_series": {"loss": [{"step": s, "value": round((1 - acc) * 10 / s, 4)} for s in range(1, 11)]}}))
PY
if [ -n "${BENCH_CALLGRIND:-}" ]; then
  # The import's instruction count (load-independent), then stop: e.g.
  # BENCH_CALLGRIND=1 tests/bench/ui.sh 2000. The index is created first so
  # that only the import is counted.
  "$MLO" runs ls -n 1 >/dev/null
  valgrind --tool=callgrind --callgrind-out-file="$WORK/import.callgrind" "$MLO" -q runs import runs.jsonl 2>callgrind.err
  echo "import of $RUNS_N run records: $(sed -n 's/.*Collected : *//p' callgrind.err) instructions"
  exit 0
fi
t0=$(date +%s%N)
"$MLO" -q runs import runs.jsonl
echo "imported $RUNS_N run records in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
t0=$(date +%s%N)
/usr/bin/python3 "$BENCH_DIR/registry_tags.py" "$MODELS" "$VERSIONS" | git fast-import --quiet
git symbolic-ref HEAD refs/heads/main
"$MLO" registry rebuild >/dev/null
echo "made $(git for-each-ref refs/tags | wc -l) registry tags and indexed them in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
touch .bench-built
fi

"$MLO" --json ui --port 0 >ui.out 2>ui.err &
UI_PID=$!
for _ in $(seq 1 100); do grep -q url ui.out 2>/dev/null && break; sleep 0.1; done
base=$(/usr/bin/python3 -c "import json; print(json.load(open('ui.out'))['url'].rstrip('/'))")
mid=$(printf '%016x' $((RUNS_N / 2 + 1)))
other=$(printf '%016x' $((RUNS_N / 2 + 3)))
model=$(printf 'model-%04d' $((MODELS / 2)))

# page PATH: prints "server_ms total_ms bytes" medians.
page() {
  local i h server=() total=() bytes=0
  curl -s -o /dev/null "$base$1"
  for ((i = 0; i < REPEAT; i++)); do
    h=$(curl -s -D - -o body.html -w 'TOTAL %{time_total} %{http_code}\n' "$base$1")
    [[ "$h" == *"TOTAL "*" 200"* ]] || { echo "GET $1 failed: $h" >&2; exit 1; }
    server+=("$(sed -n 's/.*render;dur=\([0-9.]*\).*/\1/p' <<<"$h")")
    total+=("$(awk '/^TOTAL/ {print $2 * 1000}' <<<"$h")")
    bytes=$(stat -c %s body.html)
  done
  med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]}'; }
  echo "$(med "${server[@]}") $(med "${total[@]}") $bytes"
}

# Page 1,000 as its link gives it (a cursor after page 999's last row; page
# 999 itself is reached once with the old ?page= offset).
deep=$(curl -s "$base/?page=999" | grep -o "id='next' href='[^']*'" | sed "s/.*href='//; s/'\$//; s/&amp;/\&/g")
[ -n "$deep" ] || { echo "no next link on page 999" >&2; exit 1; }
# The same for the experiments table: pages 1,000 and 2,000 (the last) sorted
# by a metric, page 1,000 sorted by a param with 10 values (long runs of
# ties) and page 2,000 newest first, by their links.
next_link() { curl -s "$base$1" | grep -o "id='next' href='[^']*'" | sed "s/.*href='//; s/'\$//; s/&amp;/\&/g"; }
exp_mid=$(next_link "/experiments?sort=metrics.acc&page=999")
exp_deep=$(next_link "/experiments?sort=metrics.acc&page=1999")
exp_ties=$(next_link "/experiments?sort=params.train.depth&asc=1&page=999")
exp_newest=$(next_link "/experiments?page=1999")
[ -n "$exp_mid" ] && [ -n "$exp_deep" ] && [ -n "$exp_ties" ] && [ -n "$exp_newest" ] || { echo "no next link on the experiments pages" >&2; exit 1; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| page | server ms | total ms | KiB |\n|---|---:|---:|---:|\n'
for path in "/" "/?page=1000" "$deep" "/?sort=metrics.acc:desc" "/?where=metrics.acc%3E0.95&sort=metrics.acc:desc" \
            "/?where=params.train.lr%3D0.01&stage=train" "/?sort=params.train.depth:asc&page=50" \
            "/run/$mid" "/compare?run=$mid&run=$other" "/experiments" "/experiments?sort=metrics.acc" \
            "/experiments?sort=metrics.acc&page=1000" "$exp_mid" "/experiments?sort=metrics.acc&page=2000" "$exp_deep" \
            "$exp_ties" "$exp_newest" "/models" "/models?page=10" "/model/$model" \
            "/audit" "/audit?model=$model" "/lineage" "/plots" "/deployments" "/monitors"; do
  read -r s t b <<<"$(page "$path")"
  printf '| `%s` | %s | %s | %d |\n' "$path" "$s" "$t" $((b / 1024))
done
# A version's lineage (the run_edges index; bench versions name no run, so
# it is mostly the registry): medians like the others.
read -r s t b <<<"$(page "/lineage?target=$model%40v1.25.0")"
printf '| `/lineage?target=%s@v1.25.0` | %s | %s | %d |\n' "$model" "$s" "$t" $((b / 1024))
# One slow page (/experiments sorted, all runs grouped) does not hold up
# another: the runs page's total while it renders.
curl -s -o /dev/null "$base/experiments?sort=metrics.loss&asc=1" &
slow=$!
sleep 0.05
t=$(curl -s -o /dev/null -w '%{time_total}' "$base/")
wait "$slow"
printf '| `/` while `/experiments?sort=...` renders | | %s | |\n' "$(awk -v t="$t" 'BEGIN {printf "%.1f", t * 1000}')"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
