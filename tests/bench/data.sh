#!/usr/bin/env bash
# Benchmark of mlo's data commands against git, git-annex and git-lfs on the
# same generated data, in one run (issue 2, "Speed"). Prints a table of
# medians (hyperfine) and ratios against the targets. Not a test: nothing
# fails on speed. Needs hyperfine, git-annex, git-lfs and openssl; as root it
# installs missing ones with apt-get (BENCH_INSTALL=0 to only check).
#
# Knobs (environment):
#   MLO                the mlo binary (default: build/mlo)
#   BENCH_FILES        files in the tree (default 100000), each BENCH_FILE_KB KiB (default 2)
#   BENCH_ANNEX_FILES  files git annex adds (default 10000: git annex needs about
#                      9 minutes for 100,000); its time is scaled linearly to
#                      BENCH_FILES for the ratio, and the table says so. Set it to
#                      BENCH_FILES for a full run.
#   BENCH_BIG_MB       size of the single big file in MiB (default 2048)
#   BENCH_RUNS         runs per measurement (default 3; startup uses 50); status
#                      runs mlo and git alternated, BENCH_ROUNDS rounds (default
#                      5) of BENCH_RUNS runs each
#   BENCH_ANNEX_RUNS   runs for git annex (default 1)
#   BENCH_ONLY         comma list of parts: tree,add,status,big,startup (default
#                      all; add: mlo data add and git add -A alternated, no
#                      git annex)
#   BENCH_DIR          where to put the data (default $TMPDIR or /tmp; needs
#                      about 4 x BENCH_BIG_MB + 1 GiB free)
#   BENCH_OUT          also write the table (markdown) to this file
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
MLO=${MLO:-$here/../../build/mlo}
MLO=$(readlink -f "$MLO")
[ -x "$MLO" ] || { echo "data.sh: no mlo binary at $MLO (build first, or set MLO)" >&2; exit 2; }
FILES=${BENCH_FILES:-100000}
FILE_KB=${BENCH_FILE_KB:-2}
ANNEX_FILES=${BENCH_ANNEX_FILES:-10000}
[ "$ANNEX_FILES" -le "$FILES" ] || ANNEX_FILES=$FILES
BIG_MB=${BENCH_BIG_MB:-2048}
RUNS=${BENCH_RUNS:-3}
ANNEX_RUNS=${BENCH_ANNEX_RUNS:-1}
ONLY=",${BENCH_ONLY:-tree,add,status,big,startup},"
PY=$(command -v python3 || echo /usr/bin/python3)

# ---- tools --------------------------------------------------------------------
missing=()
tools="hyperfine:hyperfine openssl:openssl"
# git annex and git lfs only for the parts that run them.
[[ $ONLY == *,tree,* || $ONLY == *,big,* ]] && tools="$tools git-annex:git-annex git-lfs:git-lfs"
for t in $tools; do
  command -v "${t%%:*}" >/dev/null || missing+=("${t#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && [ "${BENCH_INSTALL:-1}" != 0 ] && command -v apt-get >/dev/null; then
    echo "data.sh: installing ${missing[*]} (Debian packages) ..." >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  else
    echo "data.sh: missing tools: ${missing[*]}" >&2
    echo "  install them with: sudo apt-get install ${missing[*]}" >&2
    exit 2
  fi
fi

WORK=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/mlo-bench.XXXXXX")
cleanup() {
  [ -n "${BENCH_KEEP:-}" ] && return
  echo "data.sh: removing $WORK ..." >&2
  chmod -R u+w "$WORK" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/json" "$WORK/home" "$WORK/bin" "$WORK/trash"
# Measure a copy, so a rebuild meanwhile does not change the binary under test.
cp "$MLO" "$WORK/bin/mlo" && MLO=$WORK/bin/mlo
# Between runs, old state is moved to trash/, not deleted: deleting 100,000
# files can take minutes (much longer on a file system mounted with
# `discard`) and would load the disk during the next measurement. The trash
# is deleted once, at the end.
cat >"$WORK/bin/trash" <<EOF
#!/bin/sh
for f in "\$@"; do
  if [ -e "\$f" ] || [ -L "\$f" ]; then mv "\$f" "\$(mktemp -d "$WORK/trash/t.XXXXXX")/"; fi
done
EOF
chmod +x "$WORK/bin/trash"
TRASH=$WORK/bin/trash
export HOME="$WORK/home" GIT_CONFIG_NOSYSTEM=1 NO_COLOR=1
git config --global user.name "Bench"
git config --global user.email "bench@example.com"
git config --global init.defaultBranch main
git config --global annex.autocommit false

say() { echo "== $*" >&2; }

# bench NAME RUNS PREPARE COMMAND : median seconds of COMMAND (PREPARE before each run).
declare -A MEDIAN
bench() {
  local name=$1 runs=$2 prep=$3 cmd=$4
  say "$name: $cmd"
  if ! hyperfine --style basic --runs "$runs" --prepare "$prep" --export-json "$WORK/json/$name.json" \
      "$cmd" >"$WORK/json/$name.log" 2>&1; then
    cat "$WORK/json/$name.log" >&2
    echo "data.sh: benchmark '$name' failed" >&2
    exit 1
  fi
  MEDIAN[$name]=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' \
    "$WORK/json/$name.json")
  echo "   median $(fmt "${MEDIAN[$name]}")" >&2
}
# alternate NAME_A NAME_B COMMAND_A COMMAND_B [PREPARE_A PREPARE_B] : ROUNDS
# rounds of hyperfine with both commands (A B A B ...), so load that comes
# and goes hits both alike; sets the median wall of each over all runs, and
# prints the median CPU (user+sys) of each beside it. With the PREPAREs each
# run is prepared by its own (through a shell), with no warm-up run.
ROUNDS=${BENCH_ROUNDS:-5}
alternate() {
  local a=$1 b=$2 ca=$3 cb=$4 r
  say "$a / $b alternated, $ROUNDS rounds of $RUNS runs: $ca / $cb"
  for ((r = 0; r < ROUNDS; r++)); do
    if [ $# -ge 6 ]; then
      hyperfine --style none --runs "$RUNS" --export-json "$WORK/json/$a.$r.json" \
        --prepare "$5" "$ca" --prepare "$6" "$cb" >"$WORK/json/$a.log" 2>&1 || { cat "$WORK/json/$a.log" >&2; exit 1; }
    else
      hyperfine -N --style none --warmup 1 --runs "$RUNS" --export-json "$WORK/json/$a.$r.json" "$ca" "$cb" \
        >"$WORK/json/$a.log" 2>&1 || { cat "$WORK/json/$a.log" >&2; exit 1; }
    fi
  done
  local out cpu_a cpu_b
  out=$("$PY" "$here/hf_rounds.py" "$WORK/json" "$a" "$ROUNDS")
  read -r MEDIAN[$a] MEDIAN[$b] cpu_a cpu_b <<<"$out"
  echo "   median wall $(fmt "${MEDIAN[$a]}") / $(fmt "${MEDIAN[$b]}"), CPU $(fmt "$cpu_a") / $(fmt "$cpu_b")" >&2
  CPU_NOTES+=("$a: median CPU $(fmt "$cpu_a") against $(fmt "$cpu_b")")
}
CPU_NOTES=()
# startup NAME COMMAND : like bench, no shell, many runs.
startup() {
  local name=$1 cmd=$2
  say "$name: $cmd"
  hyperfine -N --style basic --warmup 5 --runs 50 --export-json "$WORK/json/$name.json" "$cmd" \
    >"$WORK/json/$name.log" 2>&1 || { cat "$WORK/json/$name.log" >&2; exit 1; }
  MEDIAN[$name]=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' \
    "$WORK/json/$name.json")
  echo "   median $(fmt "${MEDIAN[$name]}")" >&2
}
fmt() { "$PY" -c 'import sys; s=float(sys.argv[1]); print(f"{s*1000:.1f} ms" if s < 1 else f"{s:.2f} s")' "$1"; }

ROWS=()
# row WORK MLO_NAME PEER_LABEL PEER_NAME TARGET_OP TARGET [SCALE] : one table line.
row() {
  local work=$1 m=$2 plabel=$3 p=$4 op=$5 target=$6 scale=${7:-1}
  ROWS+=("$("$PY" - "$work" "${MEDIAN[$m]}" "$plabel" "${MEDIAN[$p]:-0}" "$op" "$target" "$scale" <<'EOF'
import sys
work, m, plabel, p, op, target, scale = sys.argv[1:]
m, p, scale = float(m), float(p) * float(scale), float(scale)
def f(s): return f"{s*1000:.1f} ms" if s < 1 else f"{s:.2f} s"
if op == "abs":
    ratio = "-"
    ok = m <= float(target)
    tgt = f"< {float(target)*1000:.0f} ms"
    peer = "-"
else:
    r = m / p if p else float("inf")
    ratio = f"{r:.3f}" if r < 0.1 else f"{r:.2f}"
    ok = (r <= float(target)) if op == "le" else (r < float(target))
    tgt = f"≤ {target}" if op == "le" else f"< {target}"
    peer = f"{plabel} {f(p)}"
print(f"| {work} | {f(m)} | {peer} | {ratio} | {tgt} | {'yes' if ok else '**no**'} |")
EOF
)")
}

export MLO
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "mlo bench: $(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(stat -f -c %T "$WORK") at $WORK" >&2

# ---- data ----------------------------------------------------------------------
gen_tree() {  # gen_tree DIR COUNT : COUNT files of FILE_KB KiB, distinct content, 1000 a folder
  "$PY" - "$1" "$2" "$FILE_KB" <<'EOF'
import os, sys
root, n, kb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    d = os.path.join(root, f"d{i // 1000:03d}")
    if i % 1000 == 0: os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:06d}.bin"), "wb") as f:
        f.write(os.urandom(kb * 1024))
EOF
}

if [[ $ONLY == *,tree,* || $ONLY == *,add,* || $ONLY == *,status,* ]]; then
  say "generating $FILES files of $FILE_KB KiB"
  gen_tree "$WORK/src/tree" "$FILES"
  for r in mlo-tree git-tree; do
    mkdir -p "$WORK/$r" && cp -a "$WORK/src/tree" "$WORK/$r/tree"
  done
  R=$WORK/mlo-tree
  bench tree_mlo "$RUNS" "cd '$R' && '$TRASH' .git .mlo tree.mlo .gitignore && git init -q && '$MLO' init -q" \
    "cd '$R' && '$MLO' data add tree"
  R=$WORK/git-tree
  bench tree_git "$RUNS" "cd '$R' && '$TRASH' .git && git init -q" "cd '$R' && git add -A"
  if [[ $ONLY == *,tree,* ]]; then
    say "generating the git annex sample: $ANNEX_FILES files"
    gen_tree "$WORK/src/annex-tree" "$ANNEX_FILES"
    R=$WORK/annex-tree
    bench tree_annex "$ANNEX_RUNS" \
      "'$TRASH' '$R' && mkdir -p '$R' && cd '$R' && git init -q && git annex init -q bench && cp -a '$WORK/src/annex-tree' tree" \
      "cd '$R' && git annex add --quiet tree"
    "$TRASH" "$R" "$WORK/src/annex-tree"
    row "add $FILES files of $FILE_KB KiB" tree_mlo "git add -A" tree_git le 0.5
    if [ "$ANNEX_FILES" = "$FILES" ]; then
      row "add $FILES files of $FILE_KB KiB" tree_mlo "git annex add" tree_annex le 0.02
    else
      row "add $FILES files of $FILE_KB KiB" tree_mlo "git annex add ($ANNEX_FILES files, time ×$((FILES / ANNEX_FILES)))" \
        tree_annex le 0.02 "$("$PY" -c "print($FILES/$ANNEX_FILES)")"
    fi
  fi
  if [[ $ONLY == *,add,* ]]; then
    # The add again, mlo and git alternated (issue 14's target, 0.4x), each
    # run from a fresh repository over the same files; a sync before each
    # run, so neither pays for the other's writeback.
    alternate add_mlo add_git "cd '$WORK/mlo-tree' && '$MLO' -q data add tree" "cd '$WORK/git-tree' && git add -A" \
      "cd '$WORK/mlo-tree' && '$TRASH' .git .mlo tree.mlo .gitignore && git init -q && '$MLO' init -q && sync" \
      "cd '$WORK/git-tree' && '$TRASH' .git && git init -q && sync"
    row "add $FILES files of $FILE_KB KiB, alternated" add_mlo "git add -A" add_git le 0.4  # issue 14
  fi
  if [[ $ONLY == *,status,* ]]; then
    git -C "$WORK/git-tree" commit -qm tree
    "$MLO" -C "$WORK/mlo-tree" -q data status >/dev/null  # records the folders' digests
    git -C "$WORK/git-tree" status >/dev/null
    alternate status_mlo status_git "$MLO -C $WORK/mlo-tree -q data status" "git -C $WORK/git-tree status"
    row "status, nothing changed, $FILES files" status_mlo "git status" status_git le 0.8  # issue 14
  fi
  "$TRASH" "$WORK/mlo-tree" "$WORK/git-tree" "$WORK/src/tree"
fi

if [[ $ONLY == *,big,* ]]; then
  say "generating one file of $BIG_MB MiB"
  mkdir -p "$WORK/src" "$WORK/cp"
  head -c "$((BIG_MB * 1024 * 1024))" /dev/urandom >"$WORK/src/big.bin"
  B=$WORK/src/big.bin
  bench big_openssl "$RUNS" "true" "openssl dgst -sha256 '$B'"
  bench big_sha256sum "$RUNS" "true" "sha256sum '$B'"
  bench big_cp "$RUNS" "'$TRASH' '$WORK/cp/big.bin'" "cp '$B' '$WORK/cp/big.bin'"
  bench big_cp_sync "$RUNS" "'$TRASH' '$WORK/cp/big.bin'" "cp '$B' '$WORK/cp/big.bin' && sync '$WORK/cp/big.bin'"
  "$TRASH" "$WORK/cp/big.bin"
  for mode in hardlink copy; do
    R=$WORK/mlo-big-$mode
    mkdir -p "$R"
    bench "big_mlo_$mode" "$RUNS" \
      "cd '$R' && '$TRASH' .git .mlo big.bin big.bin.mlo .gitignore && git init -q && '$MLO' init -q && printf 'cache:\n  link: $mode\n' > .mlo/config.local.yaml && ln '$B' big.bin" \
      "cd '$R' && '$MLO' data add big.bin"
    "$TRASH" "$R"
  done
  R=$WORK/annex-big
  bench big_annex "$RUNS" \
    "'$TRASH' '$R' && mkdir -p '$R' && cd '$R' && git init -q && git annex init -q bench && cp '$B' big.bin" \
    "cd '$R' && git annex add --quiet big.bin"
  "$TRASH" "$R"
  R=$WORK/lfs-big
  bench big_lfs "$RUNS" \
    "'$TRASH' '$R' && mkdir -p '$R' && cd '$R' && git init -q && git lfs install --local >/dev/null && git lfs track big.bin >/dev/null && git add .gitattributes && ln '$B' big.bin" \
    "cd '$R' && git add big.bin"
  "$TRASH" "$R" "$B"
  row "add one $BIG_MB MiB file, hardlink" big_mlo_hardlink "openssl dgst -sha256" big_openssl le 1.5
  row "add one $BIG_MB MiB file, copy" big_mlo_copy "cp" big_cp le 1.2
  row "add one $BIG_MB MiB file, copy" big_mlo_copy "cp + sync" big_cp_sync le 1.2
  row "add one $BIG_MB MiB file, hardlink" big_mlo_hardlink "git annex add" big_annex lt 1
  row "add one $BIG_MB MiB file, copy" big_mlo_copy "git annex add" big_annex lt 1
  row "add one $BIG_MB MiB file, copy" big_mlo_copy "git lfs (track + git add)" big_lfs lt 1
fi

if [[ $ONLY == *,startup,* ]]; then
  startup version "$MLO --version"
  startup help "$MLO help"
  row "mlo --version" version "" version abs 0.005
  row "mlo help" help "" help abs 0.005
fi

# ---- table ---------------------------------------------------------------------
{
  echo "| work | mlo (median) | peer (median) | ratio mlo/peer | target | met |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  [ ${#CPU_NOTES[@]} -eq 0 ] || printf '%s\n' "" "${CPU_NOTES[@]}"
  echo "load average: $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
  echo
  echo "All medians (s):"
  for k in $(printf '%s\n' "${!MEDIAN[@]}" | sort); do printf '  %-18s %s\n' "$k" "${MEDIAN[$k]}"; done
} | tee "${BENCH_OUT:-/dev/null}"
