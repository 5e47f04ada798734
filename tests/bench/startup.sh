#!/usr/bin/env bash
# Start-up benchmark (issue 14): mlo against git and make, in one run.
#   mlo --version          vs git --version
#   mlo help               vs git --version  (the target issue 14 sets)
#   mlo data status        vs git status        (both in an empty repository)
#   mlo data status        vs git status        (one 2 KiB file tracked by each)
#   mlo run (no-op, 3 stages) vs make (the same 3-target graph, up to date)
# Each pair runs in alternation (A B A B: BENCH_ROUNDS rounds of hyperfine with
# BENCH_RUNS runs of each), so load that comes and goes hits both alike. Prints
# median wall time, the ratio, median CPU (user+sys) beside it, the load average
# before and after, the machine, and the command to reproduce. Then callgrind
# instruction counts (independent of load), and of BENCH_BEFORE (an older mlo
# binary) when set. Not a test: nothing fails on speed.
# Env: MLO (default build/mlo), BENCH_BEFORE, BENCH_ROUNDS (10), BENCH_RUNS (20),
#      BENCH_CALLGRIND (1; 0 to skip), BENCH_OUT (also write the table here).
# Needs hyperfine (and valgrind for the counts); as root it installs missing
# ones with apt-get (BENCH_INSTALL=0 to only check).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
MLO=$(readlink -f "${MLO:-$here/../../build/mlo}")
[ -x "$MLO" ] || { echo "startup.sh: no mlo binary at $MLO (build first, or set MLO)" >&2; exit 2; }
ROUNDS=${BENCH_ROUNDS:-10}
RUNS=${BENCH_RUNS:-20}
PY=$(command -v python3 || echo /usr/bin/python3)

missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
[ "${BENCH_CALLGRIND:-1}" = 0 ] || command -v valgrind >/dev/null || missing+=(valgrind)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && [ "${BENCH_INSTALL:-1}" != 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  else
    echo "startup.sh: missing tools: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
    exit 2
  fi
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/mlo-bench-startup.XXXXXX")
trap 'rm -rf "$W"' EXIT
export GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@x GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@x
git init -q "$W/empty" && (cd "$W/empty" && "$MLO" init -q)
# One tracked file: status opens the index and the cache here (with nothing
# tracked it opens neither), and git reads a one-entry index.
git init -q "$W/one" && (cd "$W/one" && "$MLO" init -q && mkdir data && head -c 2048 /dev/urandom >data/f.bin &&
  "$MLO" -q data add data/f.bin && git add -A && git commit -qm one && "$MLO" data status >/dev/null)
git init -q "$W/gone" && (cd "$W/gone" && cp "$W/one/data/f.bin" . && git add f.bin && git commit -qm one && git status >/dev/null)
git init -q "$W/p" && cd "$W/p" && "$MLO" init -q
cat > mlo.yaml <<'YAML'
stages:
  a:
    cmd: echo a > a.txt
    outs: [a.txt]
  b:
    cmd: cat a.txt a.txt > b.txt
    deps: [a.txt]
    outs: [b.txt]
  c:
    cmd: cat b.txt a.txt > c.txt
    deps: [b.txt, a.txt]
    outs: [c.txt]
YAML
printf 'all: c.txt\na.txt:\n\techo a > a.txt\nb.txt: a.txt\n\tcat a.txt a.txt > b.txt\nc.txt: b.txt a.txt\n\tcat b.txt a.txt > c.txt\n' > "$W/Makefile"
"$MLO" run -q >/dev/null && "$MLO" run -q >/dev/null
(cd "$W" && mkdir mk && cd mk && make -s -f ../Makefile >/dev/null && make -s -f ../Makefile >/dev/null)

# pair NAME DIR TARGET MLO_CMD PEER_CMD: ROUNDS alternating hyperfine runs.
rows=()
pair() {
  local name=$1 dir=$2 target=$3 a=$4 b=$5 r
  for ((r = 0; r < ROUNDS; r++)); do
    (cd "$dir" && hyperfine -N --style none --warmup 2 --runs "$RUNS" --export-json "$W/$name.$r.json" "$a" "$b" >/dev/null)
  done
  local wa wb ca cb
  read -r wa wb ca cb < <("$PY" "$here/hf_rounds.py" "$W" "$name" "$ROUNDS")
  rows+=("$("$PY" -c '
import sys
name, target = sys.argv[1], sys.argv[2]
m, c = [float(x) * 1000 for x in sys.argv[3:5]], [float(x) * 1000 for x in sys.argv[5:7]]
print(f"| {name} | {m[0]:.2f} ms | {m[1]:.2f} ms | {m[0]/m[1]:.2f} | {c[0]:.2f} ms | {c[1]:.2f} ms | {c[0]/c[1]:.2f} | {target} |")
' "$name" "$target" "$wa" "$wb" "$ca" "$cb")")
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
pair "--version" "$W/p" "≤ 1.2" "$MLO --version" "git --version"
pair "help" "$W/p" "≤ 1.2" "$MLO help" "git --version"
pair "status, empty repo" "$W/empty" "≤ 1.2" "$MLO data status" "git status"
pair "status, one tracked file" "$W/one" "-" "$MLO data status" "git -C $W/gone status"
pair "no-op run, 3 stages" "$W/p" "≤ 2" "$MLO run -q" "make -s -C $W/mk -f $W/Makefile"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# Instructions (callgrind Ir): the whole process, dynamic loader included.
ir() { (cd "$1" && shift && valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null) |
       sed -n 's/.*refs: *\([0-9,]*\).*/\1/p' | head -1 | tr -d ,; }
ir_rows=()
if [ "${BENCH_CALLGRIND:-1}" != 0 ]; then
  before=${BENCH_BEFORE:+$(readlink -f "$BENCH_BEFORE")}
  for spec in "--version|$W/p|--version|git --version" "help|$W/p|help|git --version" \
      "status, empty repo|$W/empty|data status|git status" "status, one tracked file|$W/one|data status|git -C $W/gone status" \
      "no-op run, 3 stages|$W/p|run -q|make -s -C $W/mk -f $W/Makefile"; do
    IFS='|' read -r name dir args peer <<<"$spec"
    now=$(ir "$dir" "$MLO" $args)
    old=$([ -n "$before" ] && ir "$dir" "$before" $args || echo "-")
    ir_rows+=("| $name | $old | $now | $(ir "$dir" $peer) |")
  done
fi

{
  echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs; $(uname -sr)"
  echo "mlo: $MLO ($("$MLO" --version)); git $(git --version | cut -d' ' -f3); $(make --version | head -1)"
  echo "load average before: $load_before; after: $load_after"
  echo "reproduce: MLO=$MLO BENCH_ROUNDS=$ROUNDS BENCH_RUNS=$RUNS${BENCH_BEFORE:+ BENCH_BEFORE=$BENCH_BEFORE} tests/bench/startup.sh"
  echo
  echo "| pair (mlo vs peer) | mlo wall | peer wall | ratio | mlo CPU | peer CPU | CPU ratio | target |"
  echo "|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  if [ ${#ir_rows[@]} -gt 0 ]; then
    echo
    echo "| instructions (callgrind) | mlo before | mlo now | peer |"
    echo "|---|---|---|---|"
    printf '%s\n' "${ir_rows[@]}"
  fi
} | tee "${BENCH_OUT:-/dev/null}"
