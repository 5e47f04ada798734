#!/usr/bin/env bash
# Before/after benchmark of two mlo builds on the same work, run in strict
# alternation (A B A B ...), for refactors that must not slow anything down.
# Not a test: nothing fails on speed.
#
#   MLO=build/mlo MLO_BASE=/path/to/old/mlo bash tests/bench/compare_builds.sh
#
# Env: N (runs per command, default 15), FILES (files in the tracked folder,
# default 20000), ROWS (monitor rows, default 200000).
# Prints, per workload, the median wall and CPU (user+sys) time of each build,
# the ratio new/old, and the load average before and after.
set -euo pipefail
: "${MLO:?set MLO to the new mlo}" "${MLO_BASE:?set MLO_BASE to the old mlo}"
NEW=$(readlink -f "$MLO")
OLD=$(readlink -f "$MLO_BASE")
N=${N:-15}
FILES=${FILES:-20000}
ROWS=${ROWS:-200000}
W=$(mktemp -d /tmp/mlo-bench-compare.XXXXXX)
trap 'chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT
export GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@x GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@x

# time_one OUT PREP CMD...: runs PREP (untimed), then CMD; appends "wall_us cpu_ms" to OUT.
time_one() {
  local out=$1 prep=$2; shift 2
  [ -n "$prep" ] && bash -c "$prep" >/dev/null 2>&1
  local s e c
  s=$(date +%s%N)
  /usr/bin/time -o "$W/t" -f '%U %S' "$@" >/dev/null 2>&1 || true
  e=$(date +%s%N)
  c=$(tail -1 "$W/t")
  echo "$(((e - s) / 1000)) $(awk -v u="${c% *}" -v k="${c#* }" 'BEGIN {printf "%d", (u + k) * 1000}')" >>"$out"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# compare NAME PREP ARGS...: N alternating runs of old and new mlo with ARGS.
compare() {
  local name=$1 prep=$2; shift 2
  rm -f "$W/old" "$W/new"
  time_one /dev/null "$prep" "$OLD" "$@"  # warm-up
  for ((i = 0; i < N; i++)); do
    time_one "$W/old" "$prep" "$OLD" "$@"
    time_one "$W/new" "$prep" "$NEW" "$@"
  done
  local ow nw oc nc
  ow=$(cut -d' ' -f1 "$W/old" | median); nw=$(cut -d' ' -f1 "$W/new" | median)
  oc=$(cut -d' ' -f2 "$W/old" | median); nc=$(cut -d' ' -f2 "$W/new" | median)
  awk -v n="$name" -v ow="$ow" -v nw="$nw" -v oc="$oc" -v nc="$nc" 'BEGIN {
    printf "| %-34s | %9.1f ms (%5d) | %9.1f ms (%5d) | %5.2f |\n", n, ow/1000, oc, nw/1000, nc, (ow > 0 ? nw/ow : 0) }'
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
cd "$W" && git init -q r && cd r && "$NEW" init -q

# Tracked folder of FILES small files, in 100 subfolders.
/usr/bin/python3 - "$FILES" <<'PY'
import os, sys
n = int(sys.argv[1])
for i in range(n):
    d = f"data/set/d{i % 100:03d}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i}.txt", "w") as f:
        f.write(f"row {i} " * 8 + "\n")
PY
"$NEW" data add -q data/set
head -c $((64 * 1024 * 1024)) /dev/urandom >dep.bin
# Monitor inputs: reference and current, ROWS rows x 10 columns, shifted.
/usr/bin/python3 - "$ROWS" <<'PY'
import random, sys
n = int(sys.argv[1]); random.seed(7)
for name, shift in (("ref.csv", 0.0), ("cur.csv", 0.3)):
    with open(name, "w") as f:
        f.write(",".join(f"x{j}" for j in range(8)) + ",cat,label\n")
        for _ in range(n):
            xs = [f"{random.gauss(shift * j / 8, 1):.4f}" for j in range(8)]
            f.write(",".join(xs) + f",{random.choice('abcde')},{random.randint(0, 1)}\n")
PY
cat >mlo.yaml <<'YAML'
stages:
  s1:
    cmd: wc -c < dep.bin > a.txt
    deps: [dep.bin]
    outs: [a.txt]
  s2:
    cmd: cat a.txt > b.txt
    deps: [a.txt]
    outs: [b.txt]
  s3:
    cmd: cat b.txt > c.txt
    deps: [b.txt]
    outs: [c.txt]
YAML
"$NEW" run -q >/dev/null
git add -A >/dev/null && git commit -qm base
mkdir -p "$W/remote" && "$NEW" remote add --default store "$W/remote" >/dev/null
"$NEW" push -q >/dev/null 2>&1 || true

echo
echo "| work | old wall (CPU ms) | new wall (CPU ms) | new/old |"
echo "|---|---|---|---|"
compare "run, 3 stages, nothing changed" "" run -q
compare "run --force s3 (executor path)" "" run -q --force s3
compare "data status, $FILES files clean" "" data status -q
compare "data checkout, 1% of files removed" \
  "find data/set -name 'f*1.txt' -path '*d00[0-9]*' -delete" data checkout -q data/set
compare "push, nothing new" "" push -q
compare "monitor, $ROWS rows x 10 cols" "" monitor --reference ref.csv --current cur.csv --json
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
