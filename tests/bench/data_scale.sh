#!/usr/bin/env bash
# How mlo's data commands scale with the number of files (issue 24): time and
# peak RSS of add, status, diff, one-file re-add, push, pull (and the status
# after it), checkout and gc at
# 100k and 1M files of 512 bytes (10M with MLO_BENCH_10M=1), the bytes of
# memory per file, the objects a one-file change writes and pushes, and git
# add / git status on the same files (status with nothing and with one file
# changed in alternation with mlo's, and MLO_BASE's, by hyperfine). Not a test: nothing fails on speed. Prints the load average:
# on a loaded machine the times are loaded-machine times.
#
# Knobs (environment):
#   MLO             the mlo binary (default: build/mlo)
#   MLO_BASE        an older mlo to run the same steps with, for before/after
#   SCALES          file counts to run (default "100000 1000000")
#   MLO_BENCH_10M=1 adds 10000000
#   PER_DIR         files per folder (default 1000; folders are grouped by 100
#                   under a second level, so the tree is 3 deep)
#   BENCH_DIR       where to put the data (default $TMPDIR or /tmp)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
MLO=$(readlink -f "${MLO:-$here/../../build/mlo}")
[ -x "$MLO" ] || { echo "data_scale.sh: no mlo binary at $MLO" >&2; exit 2; }
SCALES=${SCALES:-"100000 1000000"}
[ "${MLO_BENCH_10M:-0}" = 1 ] && SCALES="$SCALES 10000000"
PER_DIR=${PER_DIR:-1000}
W=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/mlo-bench-scale.XXXXXX")
trap 'chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT
export GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@x GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@x

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"

# make_files DIR N : N files of 512 bytes, PER_DIR to a folder, 100 folders a group.
make_files() {
  /usr/bin/python3 - "$1" "$2" "$PER_DIR" <<'EOF'
import os, sys
root, n, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    d = os.path.join(root, "g%03d" % (i // per // 100), "d%05d" % (i // per))
    if i % per == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%07d.bin" % i), "wb") as f:
        f.write(("%07d" % i).encode() * 73 + b"x")
EOF
}

# measure LABEL N CMD... : runs CMD once; prints seconds, peak RSS and RSS per file.
measure() {
  local label=$1 n=$2; shift 2
  /usr/bin/time -o "$W/t" -f '%e %M' "$@" >"$W/out" 2>"$W/err" || { echo "$label failed:"; cat "$W/err"; return 1; }
  read -r secs kb <"$W/t"
  printf '  %-28s %8.2f s  %9.1f MB  %6d B/file\n' "$label" "$secs" "$(echo "$kb / 1024" | bc -l)" $((kb * 1024 / n))
}

# one_build NAME MLO N : every step with one mlo build.
one_build() {
  local name=$1 mlo=$2 n=$3 a="$W/$1-a"
  echo " $name ($mlo)"
  rm -rf "$a" "$W/$name-b" "$W/$name-remote"
  mkdir -p "$a" && cd "$a" && git init -q . && "$mlo" init -q && git commit -qm init
  cp -al "$W/files" data
  "$mlo" -q remote add origin "$W/$name-remote" --default
  measure "add" "$n" "$mlo" -q data add data
  git commit -qm data
  "$mlo" -q data status >/dev/null
  measure "status (warm)" "$n" "$mlo" -q data status
  # One file changed (a new inode: the hard link to the shared copy is cut).
  local one=data/g000/d00000/f0000000.bin
  rm -f "$one" && echo changed >"$one"
  measure "status (one file changed)" "$n" "$mlo" -q data status
  measure "data diff (one file changed)" "$n" "$mlo" -q data diff
  touch "$W/mark"
  measure "add after one change" "$n" "$mlo" -q --json data add data
  echo "    manifests written: $(/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["added"][0].get("manifests_written","n/a"))' <"$W/out"),"\
       "new cache bytes: $(find .mlo/cache/objects -type f -newer "$W/mark" -printf '%s\n' | awk '{s+=$1} END {print s+0}')"
  git commit -qam one
  measure "push (all)" "$n" "$mlo" -q push
  rm -f "$one" && echo "changed twice" >"$one"
  "$mlo" -q data add data && git commit -qam two
  measure "push (one file changed)" "$n" "$mlo" -q --json push
  echo "    objects pushed: $(/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["objects"])' <"$W/out")"
  git clone -q "$a" "$W/$name-b" && cd "$W/$name-b"
  measure "pull (fresh clone)" "$n" "$mlo" -q pull
  measure "status (first after the pull)" "$n" "$mlo" -q data status
  rm -rf data
  measure "checkout (folder removed)" "$n" "$mlo" -q data checkout data
  measure "status (first after it)" "$n" "$mlo" -q data status
  measure "gc" "$n" "$mlo" -q gc --workspace --grace 0
  # The floor for that checkout: cp -r of the same files just after the same
  # delete. On ext4 without a journal (this bench's VM), a create within a
  # minute or so of a large delete skips each recently freed inode of its
  # group one by one, so every tool slows there, not mlo alone.
  cp -r data "$W/floor" && rm -rf data
  measure "cp -r (folder removed)" "$n" cp -r "$W/floor" data
  rm -rf "$W/floor"
  cd "$W"
  rm -rf "$W/$name-b" "$W/$name-remote"
}

for n in $SCALES; do
  echo "== $n files of 512 bytes ($PER_DIR a folder); load $(cut -d' ' -f1-3 /proc/loadavg)"
  rm -rf "$W/files" && make_files "$W/files" "$n"
  one_build new "$MLO" "$n"
  [ -n "${MLO_BASE:-}" ] && one_build base "$(readlink -f "$MLO_BASE")" "$n"
  # git on the same files, status in alternation with mlo's.
  rm -rf "$W/g" && mkdir -p "$W/g" && cd "$W/g" && git init -q . && cp -al "$W/files" data
  measure "git add" "$n" git add -A
  git commit -qm data
  git status >/dev/null
  hyperfine -N -w 1 -r 3 --export-markdown "$W/hf.md" "git -C $W/g status" "$MLO -C $W/new-a -q data status" >/dev/null 2>&1 \
    && sed 's/^/  /' "$W/hf.md"
  # One file changed (a new inode, in each copy), status in alternation:
  # git, this mlo and MLO_BASE's on the same change.
  local_one=data/g000/d00000/f0000001.bin
  cmds=("git -C $W/g status" "$MLO -C $W/new-a -q data status")
  [ -d "$W/base-a" ] && cmds+=("$(readlink -f "$MLO_BASE") -C $W/base-a -q data status")
  for d in "$W/g" "$W/new-a" "$W/base-a"; do
    [ -d "$d" ] && rm -f "$d/$local_one" && echo "changed" >"$d/$local_one"
  done
  echo "  status with one file changed, alternated (load $(cut -d' ' -f1-3 /proc/loadavg)):"
  hyperfine -N -w 1 -r 3 --export-json "$W/hf.json" "${cmds[@]}" >/dev/null 2>&1
  /usr/bin/python3 - "$W/hf.json" <<'PY'
import json, statistics, sys
results = json.load(open(sys.argv[1]))["results"]
git = statistics.median(results[0]["times"])
for r in results:
    wall = statistics.median(r["times"])
    print(f"    {r['command'].split()[0]:<40} median {wall:7.3f} s  CPU {r['user'] + r['system']:7.3f} s  "
          f"({wall / git:.2f}x git's wall)")
PY
  cd "$W" && rm -rf "$W/g" "$W/new-a" "$W/base-a"
  echo "  load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
done
