#!/usr/bin/env bash
# Pipeline benchmarks (not run by ctest):
#  1. `mlo run` of a 3-stage pipeline with 1 GiB of deps when nothing changed
#  2. local-runner overhead per stage vs running the same command directly
#  3. `mlo runs ls` over 100,000 recorded runs (imported in bulk)
# Peer: `dvc repro` would be the comparison for 1, but dvc is not packaged in
# Debian 12 (apt-cache has no dvc), so it is not run here.
# Prints medians of N runs. Env: N (default 11), SIZE_MB (default 1024), RUNS (default 100000).
set -euo pipefail
: "${MLO:?set MLO to the built mlo}"
MLO=$(readlink -f "$MLO")
N=${N:-11}
SIZE_MB=${SIZE_MB:-1024}
RUNS=${RUNS:-100000}
W=$(mktemp -d /tmp/mlo-bench-run.XXXXXX)
trap 'chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT
export GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@x GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@x

# median_ms CMD...: runs CMD N times; prints "WALL ms (CPU ms)": the median
# wall time and the median user+sys CPU time (stable on a loaded machine).
median_ms() {
  local times=() cpus=() i s e c
  for ((i = 0; i < N; i++)); do
    s=$(date +%s%N); /usr/bin/time -o "$W/time" -f '%U %S' "$@" >/dev/null 2>&1 || true; c=$(tail -1 "$W/time"); e=$(date +%s%N)
    times+=($(((e - s) / 1000)))
    cpus+=($(awk -v u="${c% *}" -v k="${c#* }" 'BEGIN {printf "%d", (u + k) * 1000}'))
  done
  local w cpu
  w=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}')
  cpu=$(printf '%s\n' "${cpus[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%d", a[int((NR+1)/2)]}')
  echo "$w ms (CPU $cpu ms)"
}

cd "$W" && git init -q r && cd r && "$MLO" init -q
mkdir -p data
head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom > data/big.bin
cat > mlo.yaml <<'YAML'
stages:
  s1:
    cmd: wc -c < data/big.bin > a.txt
    deps: [data/big.bin]
    outs: [a.txt]
  s2:
    cmd: cat a.txt a.txt > b.txt
    deps: [a.txt]
    outs: [b.txt]
  s3:
    cmd: cat b.txt a.txt > c.txt
    deps: [b.txt, a.txt]
    outs: [c.txt]
  noop:
    cmd: "true"
YAML
# A chain of 10 `true` stages (t1 <- t2 <- ...), to see the cost per stage
# apart from start-up and the one syncfs per command.
prev=""
for i in $(seq 1 10); do
  printf '  t%d:\n    cmd: echo t%d > t%d.txt\n    outs: [t%d.txt]\n' "$i" "$i" "$i" "$i" >> mlo.yaml
  [ -n "$prev" ] && printf '    deps: [%s.txt]\n' "$prev" >> mlo.yaml
  prev="t$i"
done
s=$(date +%s%N); "$MLO" run -q s1 s2 s3; e=$(date +%s%N)
first=$(awk -v d=$(((e - s) / 1000000)) 'BEGIN {printf "%.0f", d}')
noop_run=$(median_ms "$MLO" run -q s1 s2 s3)

# Runner overhead: a forced one-stage run of `true` vs /bin/sh -c true.
direct=$(median_ms /bin/sh -c true)
forced=$(median_ms "$MLO" run -q --force noop)
overhead=$(awk -v a="${forced%% *}" -v b="${direct%% *}" 'BEGIN {printf "%.1f ms", a - b}')
"$MLO" run -q t10 >/dev/null
chain=$(median_ms "$MLO" run -q --force t1 t2 t3 t4 t5 t6 t7 t8 t9 t10)
per_stage=$(awk -v a="${chain%% *}" -v b="${forced%% *}" -v c="${chain#*CPU }" -v d="${forced#*CPU }" \
  'BEGIN {printf "%.1f ms (CPU %.1f ms)", (a - b) / 9, (c - d) / 9}')
per_stage_over=$(awk -v a="${chain%% *}" -v b="${forced%% *}" -v x="${direct%% *}" 'BEGIN {printf "%.1f ms", (a - b) / 9 - x}')

# 100,000 runs, imported in bulk (JSON lines), then listed.
/usr/bin/python3 - "$RUNS" > runs.jsonl <<'PY'
import json, random, sys
random.seed(1)
for i in range(int(sys.argv[1])):
    lr = random.choice([0.001, 0.01, 0.1])
    print(json.dumps({"run_id": "%016x" % (0xa000000000000000 + i), "stage": random.choice(["train", "evaluate"]),
                      "status": "succeeded", "started_at": 1.7e9 + i, "finished_at": 1.7e9 + i + 5,
                      "params": {"train.lr": lr, "train.depth": random.randint(2, 8)},
                      "metrics": {"acc": round(random.random(), 4), "loss": round(random.random(), 4)},
                      "runner": "local", "host": "bench", "exit_code": 0}))
PY
s=$(date +%s%N); "$MLO" runs import -q runs.jsonl; e=$(date +%s%N)
import_s=$(awk -v d=$(((e - s) / 1000000)) 'BEGIN {printf "%.1f", d / 1000}')
ls_default=$(median_ms "$MLO" runs ls)
ls_all=$(median_ms "$MLO" runs ls --limit 0)
ls_limit=$(median_ms "$MLO" runs ls --limit 20)
ls_where=$(median_ms "$MLO" runs ls --stage train --where 'metrics.acc>0.99' --sort metrics.acc:desc --limit 20)
ls_json=$(median_ms "$MLO" --json runs ls --where 'params.train.lr=0.1' --limit 100)

echo
echo "mlo pipeline benchmark, load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
echo
echo "| work | mlo, median of $N: wall (CPU user+sys) | target |"
echo "|---|---|---|"
echo "| first \`mlo run\`, 3 stages, ${SIZE_MB} MiB dep (hashes it once) | ${first} ms | - |"
echo "| \`mlo run\`, 3 stages, ${SIZE_MB} MiB dep, nothing changed | ${noop_run} | < 100 ms |"
echo "| \`/bin/sh -c true\` directly | ${direct} | - |"
echo "| \`mlo run --force\` of a 1-stage \`true\` pipeline (local runner) | ${forced} | - |"
echo "| local runner + mlo overhead, 1-stage command (start-up, git, SQLite, syncfs included) | ${overhead} | - |"
echo "| \`mlo run --force\` of a 10-stage chain of \`echo\` stages | ${chain} | - |"
echo "| cost of one more stage ((10-stage - 1-stage) / 9) | ${per_stage} | - |"
echo "| local runner + mlo overhead per stage (that minus \`sh -c true\` directly) | ${per_stage_over} | < 20 ms |"
echo "| \`mlo runs import\` of ${RUNS} run records | ${import_s} s | - |"
echo "| \`mlo runs ls\` over ${RUNS} runs (newest 50) | ${ls_default} | < 200 ms |"
echo "| \`mlo runs ls --limit 0\` over ${RUNS} runs (all rows) | ${ls_all} | - |"
echo "| \`mlo runs ls --limit 20\` over ${RUNS} runs | ${ls_limit} | < 200 ms |"
echo "| \`mlo runs ls --stage train --where 'metrics.acc>0.99' --sort metrics.acc:desc --limit 20\` | ${ls_where} | < 200 ms |"
echo "| \`mlo --json runs ls --where 'params.train.lr=0.1' --limit 100\` | ${ls_json} | < 200 ms |"
echo
echo "dvc repro: not measured (dvc is not available from Debian 12's archive)."
