#!/usr/bin/env bash
# Pull benchmark (issue 14, "Data"): `mlo pull` of BENCH_FILES (10,000) files of
# 2 KiB from a directory remote into a fresh clone, against `cp -r` and
# `rsync -a` of the same tree. The floor for a pull is a cache plus a workspace
# copy, so the targets are pull <= 2x cp -r and <= 1x rsync -a.
# Each round runs the three in alternation (one hyperfine call with the three
# commands, BENCH_RUNS runs each, each run prepared from scratch), BENCH_ROUNDS
# rounds. Prints median wall time and CPU (user+sys) and their ratios, the load
# average before and after, the machine, the command to reproduce, and the
# syscalls per file of one pull (strace -c), which do not move with load.
# Not a test: nothing fails on speed.
# Env: MLO (default build/mlo), BENCH_FILES (10000), BENCH_ROUNDS (3),
#      BENCH_RUNS (3), BENCH_OUT (also write the table here), BENCH_LINK (the
#      pulling clone's cache.link, e.g. hardlink: the workspace file is a link
#      to the cache object, one copy instead of two; default reflink,copy).
# Needs hyperfine, rsync and strace; as root it installs missing ones with
# apt-get (BENCH_INSTALL=0 to only check).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
MLO=$(readlink -f "${MLO:-$here/../../build/mlo}")
[ -x "$MLO" ] || { echo "pull.sh: no mlo binary at $MLO (build first, or set MLO)" >&2; exit 2; }
FILES=${BENCH_FILES:-10000}
ROUNDS=${BENCH_ROUNDS:-3}
RUNS=${BENCH_RUNS:-3}
PY=/usr/bin/python3

missing=()
for t in hyperfine rsync strace; do command -v "$t" >/dev/null || missing+=("$t"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && [ "${BENCH_INSTALL:-1}" != 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  else
    echo "pull.sh: missing tools: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
    exit 2
  fi
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/mlo-bench-pull.XXXXXX")
trap 'chmod -R u+w "$W" 2>/dev/null; rm -rf "$W"' EXIT
export GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@x GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@x

# The dataset: FILES random 2 KiB files in 100 folders, added and pushed by
# clone a; clone b pulls it.
git init -q "$W/a" && cd "$W/a" && "$MLO" init -q
"$PY" - "$FILES" <<'PY'
import os, sys
for i in range(int(sys.argv[1])):
    d = f"data/d{i % 100:02d}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i}.bin", "wb") as f:
        f.write(os.urandom(2048))
PY
"$MLO" -q data add data && "$MLO" -q remote add origin "$W/remote"
git add -A && git commit -qm data && "$MLO" -q push
git clone -q "$W/a" "$W/b"
[ -n "${BENCH_LINK:-}" ] && printf 'cache:\n  link: %s\n' "$BENCH_LINK" >"$W/b/.mlo/config.local.yaml"

# Each run's output is moved aside, not deleted, before the next: on ext4
# without a journal (this machine's) a file created within a minute of a
# large delete skips each recently freed inode of its group one at a time
# (the kernel's recently_deleted), which made the run after a delete up to
# 10x slower, for whichever tool came after mlo's 20,000-inode delete. A
# fresh clone's pull follows no delete. $W/trash goes at the end.
mkdir -p "$W/trash"
aside() { echo "t=\$(mktemp -d $W/trash/XXXXXX) && for p in $*; do [ ! -e \$p ] || mv \$p \$t/; done"; }
mlo_cmd="cd $W/b && $MLO -q pull"
mlo_prep="$(aside "$W/b/data" "$W/b/.mlo/cache") && rm -f $W/b/.mlo/index.db*"
cp_cmd="cp -r $W/a/data $W/cp"
cp_prep="$(aside "$W/cp")"
rs_cmd="rsync -a $W/a/data/ $W/rs/"
rs_prep="$(aside "$W/rs")"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 0; r < ROUNDS; r++)); do
  hyperfine --style none --runs "$RUNS" --export-json "$W/round.$r.json" \
    --prepare "$mlo_prep" "$mlo_cmd" --prepare "$cp_prep" "$cp_cmd" --prepare "$rs_prep" "$rs_cmd" >/dev/null
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
cmp -s <(cd "$W/a/data" && find . -type f -exec sha256sum {} + | sort) \
       <(cd "$W/b/data" && find . -type f -exec sha256sum {} + | sort) || { echo "pull.sh: pulled data differs" >&2; exit 1; }

# Syscalls of one pull, per file (strace -f -c counts every thread).
eval "$mlo_prep"
(cd "$W/b" && strace -f -c -S calls -o "$W/strace.txt" "$MLO" -q pull)
syscalls=$(awk '$NF == "total" { print $4 }' "$W/strace.txt")
top=$(awk 'NR > 2 && $1 ~ /^[0-9.]+$/ && $NF != "total" { print $NF "=" $4 }' "$W/strace.txt" |
      head -8 | tr '\n' ' ')

{
  echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs; $(uname -sr); $(df -T "$W" | awk 'NR == 2 { print $2 }') at $W"
  echo "mlo: $MLO ($("$MLO" --version)); $(cp --version | head -1); $(rsync --version | head -1)"
  echo "load average before: $load_before; after: $load_after"
  echo "cache.link in the pulling clone: ${BENCH_LINK:-reflink,copy (default)}"
  echo "reproduce: MLO=$MLO BENCH_LINK=${BENCH_LINK:-} BENCH_FILES=$FILES BENCH_ROUNDS=$ROUNDS BENCH_RUNS=$RUNS tests/bench/pull.sh"
  echo
  "$PY" - "$W" "$ROUNDS" "$FILES" <<'PY'
import json, statistics, sys
w, rounds, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
wall, cpu = [[], [], []], [[], [], []]
for r in range(rounds):
    for i, res in enumerate(json.load(open(f"{w}/round.{r}.json"))["results"]):
        wall[i] += res["times"]
        cpu[i].append(res["user"] + res["system"])
m = [statistics.median(x) for x in wall]
c = [statistics.median(x) for x in cpu]
print(f"| {files} files x 2 KiB | wall s | CPU s | mlo/peer wall | mlo/peer CPU | target |")
print("|---|---|---|---|---|---|")
print(f"| mlo pull (directory remote) | {m[0]:.3f} | {c[0]:.3f} | | | |")
print(f"| cp -r | {m[1]:.3f} | {c[1]:.3f} | {m[0]/m[1]:.2f} | {c[0]/c[1]:.2f} | <= 2 |")
print(f"| rsync -a | {m[2]:.3f} | {c[2]:.3f} | {m[0]/m[2]:.2f} | {c[0]/c[2]:.2f} | <= 1 |")
PY
  echo
  echo "syscalls of one pull: $syscalls ($(( syscalls / FILES )) per file); most called: $top"
} | tee "${BENCH_OUT:-/dev/null}"
