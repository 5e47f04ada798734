#!/usr/bin/env bash
# Peak memory of a fresh clone's `pull` of a large tree from a directory
# remote (issue 24): this mlo against MLO_BASE (an older build), each pulling
# the same commit from the same remote into a fresh clone, alternated A B A B
# round by round. /usr/bin/time, one run a build a round. Prints wall, CPU
# (user+sys) and peak RSS per run, RSS over the file count, medians per
# build, and the load average. Not a test: nothing fails on speed or size.
#
# Knobs (environment):
#   MLO        the mlo binary (default: build/mlo)
#   MLO_BASE   the build to compare with (without it, this build alone)
#   FILES      files of 512 bytes, 1,000 a folder (default 300000)
#   ROUNDS     fresh-clone pulls by each build (default 2)
#   BENCH_DIR  where to put the data (default $TMPDIR or /tmp)
#
# Reproduce the figures in tests/bench/RESULTS.md: FILES=300000 MLO_BASE=<main's build> tests/bench/pull_memory.sh
set -euo pipefail
NAME=pull_memory.sh
source "$(dirname "$0")/lib_scale.sh"
FILES=${FILES:-300000}
ROUNDS=${ROUNDS:-2}
W=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/mlo-bench-pullmem.XXXXXX")
trap 'chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT

print_machine
echo "this build: $MLO; base: ${BASE:-none}; $FILES files, $ROUNDS rounds"

make_scale_files "$W/a/data" "$FILES"
cd "$W/a" && git init -q . && "$MLO" init -q && git commit -qm init
"$MLO" -q remote add origin "$W/remote" --default
"$MLO" -q data add data && git add -A && git commit -qm data
"$MLO" -q push

: >"$W/runs"
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r (load $(cut -d' ' -f1-3 /proc/loadavg))"
  for build in new base; do
    bin=$MLO label="pull, fresh clone"
    [ "$build" = base ] && { [ -n "$BASE" ] || continue; bin=$BASE label="$label (base)"; }
    # A new clone each time, all removed at the end: a large delete just
    # before would slow the next run's creates (ext4 reuses freed inodes
    # slowly) and take minutes itself.
    clone="$W/clone-$r-$build"
    git clone -q "$W/a" "$clone"
    (cd "$clone" && /usr/bin/time -o "$W/t" -f '%e %U %S %M' "$bin" -q pull)
    [ "$(find "$clone/data" -type f | wc -l)" = "$FILES" ] || { echo "pull_memory.sh: $label did not bring $FILES files" >&2; exit 1; }
    read -r wall user sys kb <"$W/t"
    echo "$label $wall $(echo "$user + $sys" | bc -l) $kb" >>"$W/runs"
    printf '  %-28s %7.2f s  CPU %7.2f s  %8.1f MB  %5d B a file\n' "$label" "$wall" \
      "$(echo "$user + $sys" | bc -l)" "$(echo "$kb / 1024" | bc -l)" "$((kb * 1024 / FILES))"
  done
done

echo "medians over $ROUNDS rounds (wall, CPU, peak RSS):"
/usr/bin/python3 - "$W/runs" "$FILES" <<'PY'
import statistics, sys
rows, files = {}, int(sys.argv[2])
for line in open(sys.argv[1]):
    *label, wall, cpu, kb = line.split()
    rows.setdefault(" ".join(label), []).append((float(wall), float(cpu), int(kb)))
for label, runs in rows.items():
    med = lambda k: statistics.median(r[k] for r in runs)
    print(f"  {label:<28} {med(0):7.2f} s  CPU {med(1):7.2f} s  {med(2) / 1024:8.1f} MB  {med(2) * 1024 / files:5.0f} B a file")
PY
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
