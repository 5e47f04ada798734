#!/usr/bin/env bash
# Overhead of the progress line (issue 25: under 1%). `mlo data add` of many
# small files with stderr on a terminal (a pseudo-terminal made by script(1),
# so the line is drawn) against stderr on a pipe (nothing drawn), both under
# script so the wrapper costs the same. The two run in alternation, one run
# each per hyperfine call, order swapped every round, so a change in machine
# load hits both alike. Prints medians of wall time, CPU (user+sys) beside
# it, and the load average before and after. Not a test: nothing fails.
#
# Knobs (environment):
#   MLO           the mlo binary (default: build/mlo)
#   BENCH_FILES   small files in the tree (default 300000)
#   BENCH_ROUNDS  rounds; each runs both variants once (default 5)
#   BENCH_DIR     where to put the data (default $TMPDIR or /tmp)
#   BENCH_CALLGRIND=1  also count instructions (valgrind --tool=callgrind) of
#                 one terminal and one pipe run: a figure that does not move
#                 with machine load. Under callgrind a run is ~50x slower, so
#                 the line is redrawn ~50x more often than in a real run: the
#                 difference it shows is an upper bound on the drawing's cost.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
MLO=$(readlink -f "${MLO:-$here/../../build/mlo}")
[ -x "$MLO" ] || { echo "progress.sh: no mlo binary at $MLO (build first, or set MLO)" >&2; exit 2; }
for t in hyperfine script; do
  command -v "$t" >/dev/null || { echo "progress.sh: needs $t (apt-get install hyperfine bsdutils)" >&2; exit 2; }
done
FILES=${BENCH_FILES:-300000}
ROUNDS=${BENCH_ROUNDS:-5}
W=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/mlo-bench-progress.XXXXXX")
trap 'rm -rf "$W"' EXIT

echo "progress.sh: making $FILES files in $W ..." >&2
/usr/bin/python3 - "$W/pool" "$FILES" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % 500))
    if i < 500: os.makedirs(d)
    with open(os.path.join(d, "f%d" % i), "w") as f: f.write("row %d\n" % i)
PY

# A fresh repository around the same files before every run (untimed): the
# stat cache and object cache must not let a run skip work.
cat >"$W/reset.sh" <<SH
set -e
cd "$W"
[ -d repo/big ] && mv repo/big pool
rm -rf repo && mkdir repo && cd repo && git init -q && "$MLO" init -q
mv ../pool big
SH
tty_cmd="cd $W/repo && script -qfec '$MLO data add big' /dev/null >/dev/null"
pipe_cmd="cd $W/repo && script -qfec '$MLO data add big 2>&1 | cat' /dev/null >/dev/null"

# One terminal run first, to check that a line is drawn at all.
bash "$W/reset.sh"
# (into a file: grep -q would close the pipe early, and pipefail fails the check)
(cd "$W/repo" && script -qfec "$MLO data add big" /dev/null) > "$W/first.out"
grep -q "hash: " "$W/first.out" ||
  { echo "progress.sh: no progress line on the terminal; nothing to measure" >&2; exit 1; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for r in $(seq 1 "$ROUNDS"); do
  if (( r % 2 )); then a=$tty_cmd; an=terminal; b=$pipe_cmd; bn=pipe; else a=$pipe_cmd; an=pipe; b=$tty_cmd; bn=terminal; fi
  hyperfine -N --style none --runs 1 --prepare "bash $W/reset.sh" 2>/dev/null \
    --command-name "$an" "bash -c \"$a\"" --command-name "$bn" "bash -c \"$b\"" \
    --export-json "$W/round$r.json" >/dev/null
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

/usr/bin/python3 - "$W" "$ROUNDS" "$FILES" "$load_before" "$load_after" "$(nproc)" <<'PY'
import json, statistics, sys
w, rounds, files, before, after, cores = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
wall, cpu = {"terminal": [], "pipe": []}, {"terminal": [], "pipe": []}
for r in range(1, rounds + 1):
    for res in json.load(open(f"{w}/round{r}.json"))["results"]:
        wall[res["command"]].append(res["times"][0])
        cpu[res["command"]].append(res["user"] + res["system"])
med = {k: statistics.median(v) for k, v in wall.items()}
cmed = {k: statistics.median(v) for k, v in cpu.items()}
print(f"mlo data add of {files} small files, {rounds} alternating rounds; {cores} cores; load average before {before}, after {after}")
print("| stderr   | median wall s | median CPU s (user+sys) | all wall s |")
print("|----------|---------------|-------------------------|------------|")
for k in ("terminal", "pipe"):
    print(f"| {k:8} | {med[k]:13.3f} | {cmed[k]:23.3f} | {' '.join('%.2f' % t for t in wall[k])} |")
print(f"overhead of drawing: wall {100 * (med['terminal'] / med['pipe'] - 1):+.1f}%, CPU {100 * (cmed['terminal'] / cmed['pipe'] - 1):+.1f}%")
PY

if [ "${BENCH_CALLGRIND:-0}" = 1 ]; then
  command -v valgrind >/dev/null || { echo "progress.sh: BENCH_CALLGRIND=1 needs valgrind" >&2; exit 2; }
  for v in terminal pipe; do
    bash "$W/reset.sh"
    redirect=$([ $v = pipe ] && echo " 2>&1 | cat" || true)
    (cd "$W/repo" && MLO_PROGRESS_DELAY=0 script -qfec \
      "valgrind --tool=callgrind --callgrind-out-file=$W/cg.$v $MLO data add big$redirect" /dev/null > "$W/cg.$v.out" 2>&1)
    grep -Eo "Collected : [0-9]+" "$W/cg.$v.out" | grep -Eo "[0-9]+" > "$W/ir.$v" ||
      { echo "progress.sh: callgrind printed no total for $v" >&2; exit 1; }
    redraws=$(tr '\r' '\n' < "$W/cg.$v.out" | grep -c "hash: " || true)
    echo "callgrind, $v: $(cat "$W/ir.$v") instructions; lines drawn with 'hash: ' $redraws"
  done
  /usr/bin/python3 -c "import sys; t, p = (int(open(f).read()) for f in sys.argv[1:]); print(f'instructions, terminal vs pipe: {100 * (t / p - 1):+.3f}%')" "$W/ir.terminal" "$W/ir.pipe"
fi
