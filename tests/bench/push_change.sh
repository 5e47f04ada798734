#!/usr/bin/env bash
# A push, a `data status --remote` and a `data checkout` of the version
# before after one changed file (issue 24): this
# mlo against MLO_BASE (an older build) on the same repository, each pushing
# to its own directory remote, alternated A B A B round by round. A push
# changes what the next one finds, so each round is one change (re-added and
# committed), then one run of each build: /usr/bin/time, not hyperfine's
# repeated runs. Prints wall, CPU (user+sys) and peak RSS per run, the
# objects sent and looked at, medians per build, and the load average. Not a
# test: nothing fails on speed.
#
# Knobs (environment):
#   MLO        the mlo binary (default: build/mlo)
#   MLO_BASE   the build to compare with (without it, this build alone)
#   FILES      files of 512 bytes, 1,000 a folder (default 100000)
#   ROUNDS     changes, each pushed by both builds (default 3)
#   BENCH_DIR  where to put the data (default $TMPDIR or /tmp)
#
# Reproduce the figures in tests/bench/RESULTS.md: FILES=1000000 MLO_BASE=<main's build> tests/bench/push_change.sh
set -euo pipefail
NAME=push_change.sh
source "$(dirname "$0")/lib_scale.sh"
FILES=${FILES:-100000}
ROUNDS=${ROUNDS:-3}
W=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/mlo-bench-push.XXXXXX")
trap 'chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT

print_machine
echo "this build: $MLO; base: ${BASE:-none}; $FILES files, $ROUNDS rounds"

make_scale_files "$W/a/data" "$FILES"
cd "$W/a" && git init -q . && "$MLO" init -q && git commit -qm init
"$MLO" -q remote add new "$W/remote-new" --default
"$MLO" -q remote add base "$W/remote-base"
"$MLO" -q data add data && git add -A && git commit -qm data
"$MLO" -q push -r new
[ -z "$BASE" ] || "$BASE" -q push -r base

# run LABEL OUT CMD... : one run; appends "label wall cpu rss_kb" to $W/runs.
run() {
  local label=$1 out=$2; shift 2
  /usr/bin/time -o "$W/t" -f '%e %U %S %M' "$@" >"$out"
  read -r wall user sys kb <"$W/t"
  echo "$label $wall $(echo "$user + $sys" | bc -l) $kb" >>"$W/runs"
  printf '  %-42s %6.2f s  CPU %6.2f s  %8.1f MB' "$label" "$wall" "$(echo "$user + $sys" | bc -l)" "$(echo "$kb / 1024" | bc -l)"
}
pushed() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("  sent %d, looked at %d" % (d["objects"], d["up_to_date"]))' "$1"; }
lacks() { /usr/bin/python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["entries"][0]; print("  not on remote %d of %d" % (e["missing_remote"], e["objects"]))' "$1"; }

: >"$W/runs"
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r (load $(cut -d' ' -f1-3 /proc/loadavg))"
  echo "round $r" >"$W/x" && mv "$W/x" data/g000/d00000/f0000005.bin
  "$MLO" -q data add data && git commit -qam "round $r"
  # The change added, not pushed: status --remote, then the push; then
  # status --remote again (after two statuses: they record the cache complete).
  for step in "status --remote, change not pushed" "push, one file changed" "status --remote, after the push"; do
    if [ "$step" = "status --remote, after the push" ]; then
      "$MLO" -q data status >/dev/null; "$MLO" -q data status >/dev/null
    fi
    for build in new base; do
      bin=$MLO label=$step
      [ "$build" = base ] && { [ -n "$BASE" ] || continue; bin=$BASE label="$step (base)"; }
      case $step in
        push*) run "$label" "$W/out.json" "$bin" -q --json push -r "$build"; pushed "$W/out.json" ;;
        *) run "$label" "$W/out.json" "$bin" -q --json data status --remote "$build"; lacks "$W/out.json" ;;
      esac
    done
  done
  # `git checkout HEAD~1 -- data.mlo` then `data checkout`: one file back to
  # the round before, from the same state for each build (the work tree at
  # HEAD, its folders recorded by two statuses), then forward again.
  for build in new base; do
    bin=$MLO label="checkout of the version before"
    [ "$build" = base ] && { [ -n "$BASE" ] || continue; bin=$BASE label="$label (base)"; }
    "$MLO" -q data status >/dev/null; "$MLO" -q data status >/dev/null
    git checkout -q HEAD~1 -- data.mlo
    run "$label" "$W/out.json" "$bin" -q --json data checkout
    /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("  updated %d, unchanged %d" % (len(d["updated"]), d["unchanged"]))' "$W/out.json"
    git checkout -q HEAD -- data.mlo && "$MLO" -q data checkout
  done
done

echo "medians over $ROUNDS rounds (wall, CPU, peak RSS):"
/usr/bin/python3 - "$W/runs" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    *label, wall, cpu, kb = line.split()
    rows.setdefault(" ".join(label), []).append((float(wall), float(cpu), int(kb)))
for label, runs in rows.items():
    med = lambda k: statistics.median(r[k] for r in runs)
    print(f"  {label:<42} {med(0):6.2f} s  CPU {med(1):6.2f} s  {med(2) / 1024:8.1f} MB")
PY
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
