#!/usr/bin/env bash
# Re-add after one changed file against status with the same change (issue
# 24's target: add at most 1.2x status), at 100k files of 512 bytes (1,000 a
# folder). Each round changes one file, runs status twice (the second one
# finds the recorded tree complete, as a user's status before an add does),
# then times `data status` and `data add` one after the other; with MLO_BASE
# the older build's repo gets the same round right after, so old and new
# alternate too. Prints wall and CPU (user+system) seconds of every run, the
# medians, and the load average. Not a test: nothing fails on speed.
#
# Knobs: MLO (default build/mlo), MLO_BASE (an older mlo), FILES (100000),
# ROUNDS (5), BENCH_DIR (default $TMPDIR or /tmp).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
MLO=$(readlink -f "${MLO:-$here/../../build/mlo}")
FILES=${FILES:-100000}
ROUNDS=${ROUNDS:-5}
W=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/mlo-bench-readd.XXXXXX")
trap 'chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT
export GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@x GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@x

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores); $FILES files, $ROUNDS rounds"
/usr/bin/python3 - "$W/files" "$FILES" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "g%03d" % (i // 100000), "d%05d" % (i // 1000))
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%07d.bin" % i), "wb") as f:
        f.write(("%07d" % i).encode() * 73 + b"x")
EOF

# setup NAME MLO : a repo with the files added and committed.
setup() {
  mkdir -p "$W/$1" && cd "$W/$1" && git init -q . && "$2" init -q && git commit -qm init
  cp -al "$W/files" data
  "$2" -q data add data && git add -A && git commit -qm data
}
builds=("new:$MLO")
[ -n "${MLO_BASE:-}" ] && builds+=("base:$(readlink -f "$MLO_BASE")")
for b in "${builds[@]}"; do setup "${b%%:*}" "${b#*:}"; done

# timed LOG CMD... : appends "wall cpu" seconds of CMD to LOG.
timed() {
  local log=$1; shift
  /usr/bin/time -o "$W/t" -f '%e %U %S' "$@" >/dev/null 2>"$W/err" || { cat "$W/err"; exit 1; }
  read -r e u s <"$W/t"
  echo "$e $(echo "$u + $s" | bc -l)" >>"$log"
}
for r in $(seq "$ROUNDS"); do
  for b in "${builds[@]}"; do
    name=${b%%:*} mlo=${b#*:}
    cd "$W/$name"
    one=data/g000/d00000/f0000000.bin
    rm -f "$one" && echo "round $r" >"$one"
    "$mlo" -q data status >/dev/null || true
    "$mlo" -q data status >/dev/null || true
    timed "$W/$name.status" "$mlo" -q data status
    timed "$W/$name.add" "$mlo" -q data add data
  done
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
for b in "${builds[@]}"; do
  name=${b%%:*}
  for step in status add; do
    f="$W/$name.$step"
    printf '  %-5s %-7s wall %s  cpu %s  (median wall %.3f s, cpu %.3f s)\n' "$name" "$step" \
      "$(cut -d' ' -f1 "$f" | tr '\n' ' ')" "$(cut -d' ' -f2 "$f" | tr '\n' ' ')" \
      "$(cut -d' ' -f1 "$f" | median)" "$(cut -d' ' -f2 "$f" | median)"
  done
  sw=$(cut -d' ' -f1 "$W/$name.status" | median) aw=$(cut -d' ' -f1 "$W/$name.add" | median)
  sc=$(cut -d' ' -f2 "$W/$name.status" | median) ac=$(cut -d' ' -f2 "$W/$name.add" | median)
  printf '  %-5s add/status: %.2fx wall, %.2fx cpu\n' "$name" "$(echo "$aw / $sw" | bc -l)" "$(echo "$ac / $sc" | bc -l)"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
