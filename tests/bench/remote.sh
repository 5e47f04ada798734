#!/usr/bin/env bash
# Remote benchmark: mlo push/pull against `aws s3 sync` / `aws s3 cp` on the
# same local S3 server (s3rver from tests/tools), one run, printed as a table.
# Sizes scale with environment knobs (defaults are the issue's sizes):
#   BENCH_FILES=100000  small files of 2 KiB
#   BENCH_BIG_MB=2048   one big file
#   BENCH_VER_MB=1024   size of the versioned file (ten versions, 1% changed each)
#   BENCH_AWS_FILES=N   let `aws s3 sync` move only the first N small files
#                       (multiple of 1000; default all) and extrapolate its
#                       time to all of them: at ~50 files/s on s3rver the full
#                       100,000 take over an hour each way. Rows say "est.".
# Every timed step reports wall and CPU (user+sys of the client) seconds;
# the load average is printed before and after (the machine may be shared).
set -euo pipefail
: "${MLO:?MLO must point at the built mlo}"
MLO=$(readlink -f "$MLO")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
FILES=${BENCH_FILES:-100000}
AWS_FILES=${BENCH_AWS_FILES:-$FILES}
[ "$AWS_FILES" -le "$FILES" ] || AWS_FILES=$FILES
BIG_MB=${BENCH_BIG_MB:-2048}
VER_MB=${BENCH_VER_MB:-1024}
S3RVER="$SRC/tests/tools/node_modules/.bin/s3rver"
[ -x "$S3RVER" ] || { echo "s3rver missing: run 'make deps'"; exit 1; }
command -v aws >/dev/null || { echo "the aws CLI is missing (Debian package awscli)"; exit 1; }
source "$SRC/tests/bench/lib_s3rver.sh"
W=$(mktemp -d "${TMPDIR:-/tmp}/mlo-bench-remote.XXXXXX")
start_bench_s3rver "$W"
json() { /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
ROWS=()
row() { ROWS+=("$(printf '%-46s %16s %20s %8s' "$1" "$2" "$3" "$4")"); }
ratio() { echo "scale=1; $1 / $2" | bc 2>/dev/null || echo "-"; }
echo "load before: $(uptime)"

setup_repo() {  # DIR PREFIX
  mkdir -p "$1" && cd "$1" && git init -q . && "$MLO" -q init
  "$MLO" -q remote add s3 "s3://bench/$2" --default
  "$MLO" -q remote modify s3 endpoint "$EP"
}

# 1. Small files.
echo "== $FILES files of 2 KiB"
setup_repo "$W/a" small
mkdir -p data/small
/usr/bin/python3 - "$FILES" <<'PY'
import os, sys
n = int(sys.argv[1])
for i in range(n):
    d = f"data/small/{i // 1000:03d}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/{i}.bin", "wb") as f:
        f.write(os.urandom(2048))
PY
"$MLO" -q data add data/small && git add -A && git commit -qm data
timed "$MLO" --json push; mlo_push=$WALL; mlo_push_cpu=$CPU; mlo_push_req=$(json "['requests']" <"$W/out")
timed "$MLO" --json push; mlo_noop=$WALL; mlo_noop_cpu=$CPU
git clone -q "$W/a" "$W/b" && cd "$W/b"
timed "$MLO" --json pull; mlo_pull=$WALL; mlo_pull_cpu=$CPU; mlo_pull_req=$(json "['requests']" <"$W/out")
diff -rq "$W/a/data/small" "$W/b/data/small" >/dev/null || { echo "pulled data differs"; exit 1; }
echo "mlo: push ${mlo_push}s (cpu ${mlo_push_cpu}s), no-op ${mlo_noop}s, pull ${mlo_pull}s (cpu ${mlo_pull_cpu}s)"
# aws moves the first AWS_FILES files (whole folders of 1000).
mkdir -p "$W/awsin"
if [ "$AWS_FILES" -lt "$FILES" ]; then
  for d in $(ls "$W/a/data/small" | head -n $(( (AWS_FILES + 999) / 1000 ))); do cp -al "$W/a/data/small/$d" "$W/awsin/"; done
  AWS_FILES=$(find "$W/awsin" -type f | wc -l)
else
  rmdir "$W/awsin" && ln -s "$W/a/data/small" "$W/awsin"
fi
timed "${AWS[@]}" s3 sync "$W/awsin/" s3://bench/awssmall/; aws_push=$WALL; aws_push_cpu=$CPU
timed "${AWS[@]}" s3 sync s3://bench/awssmall/ "$W/awsdown/"; aws_pull=$WALL; aws_pull_cpu=$CPU
echo "aws ($AWS_FILES files): push ${aws_push}s (cpu ${aws_push_cpu}s, $(echo "scale=0; $AWS_FILES / $aws_push" | bc) files/s), pull ${aws_pull}s (cpu ${aws_pull_cpu}s)"
est=""
if [ "$AWS_FILES" -lt "$FILES" ]; then
  scale() { echo "scale=1; $1 * $FILES / $AWS_FILES" | bc; }
  aws_push=$(scale "$aws_push"); aws_push_cpu=$(scale "$aws_push_cpu")
  aws_pull=$(scale "$aws_pull"); aws_pull_cpu=$(scale "$aws_pull_cpu")
  est=" est."
fi
row "push $FILES x 2 KiB, s wall (cpu)" "$mlo_push ($mlo_push_cpu)" "$aws_push ($aws_push_cpu)$est" "$(ratio $aws_push $mlo_push)x"
row "pull $FILES x 2 KiB, s wall (cpu)" "$mlo_pull ($mlo_pull_cpu)" "$aws_pull ($aws_pull_cpu)$est" "$(ratio $aws_pull $mlo_pull)x"
row "HTTP requests push+pull (aws: >= 2 per file)" "$((mlo_push_req + mlo_pull_req))" ">= $((2 * FILES))" "$(ratio $((2 * FILES)) $((mlo_push_req + mlo_pull_req)))x"
row "no-op push of the tree, s wall (cpu)" "$mlo_noop ($mlo_noop_cpu)" "-" "-"
rm -rf "$W/a/data/small" "$W/b" "$W/awsdown" "$W/awsin" "$W/s3/bench/awssmall"

# 2. One big file.
echo "== one file of $BIG_MB MiB"
setup_repo "$W/big" big
mkdir -p data && head -c $((BIG_MB << 20)) /dev/urandom >data/big.bin
"$MLO" -q data add data/big.bin && git add -A && git commit -qm big
timed "$MLO" -q push; mlo_big=$WALL; mlo_big_cpu=$CPU
timed "${AWS[@]}" s3 cp data/big.bin s3://bench/awsbig/big.bin; aws_big=$WALL; aws_big_cpu=$CPU
row "push 1 x $BIG_MB MiB, MiB/s (cpu s)" "$(echo "scale=0; $BIG_MB / $mlo_big" | bc) ($mlo_big_cpu)" "$(echo "scale=0; $BIG_MB / $aws_big" | bc) ($aws_big_cpu)" "$(ratio $aws_big $mlo_big)x"
cd "$W" && rm -rf "$W/big" "$W/s3/bench/awsbig" "$W/s3/bench/big"

# 3. Ten versions, 1% of the bytes changed in scattered places each time:
# 100 places per GiB (so a scaled-down file keeps the same edit density).
PLACES=$(( VER_MB * 100 / 1024 )); [ "$PLACES" -ge 3 ] || PLACES=3
echo "== ten versions of $VER_MB MiB"
setup_repo "$W/ver" ver
mkdir -p data && head -c $((VER_MB << 20)) /dev/urandom >data/v.bin
sent_total=0; max_pct=0
for v in $(seq 1 10); do
  if [ "$v" -gt 1 ]; then
    /usr/bin/python3 - data/v.bin "$v" "$PLACES" <<'PY'
import os, random, sys
path, seed, places = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
size = os.path.getsize(path)
rng = random.Random(seed)
span = size // 100 // places  # 1% of the bytes in all
with open(path, "r+b") as f:
    for _ in range(places):
        off = rng.randrange(0, size - span)
        f.seek(off)
        f.write(os.urandom(span))
PY
  fi
  "$MLO" -q data add data/v.bin && git add -A && git commit -qm "v$v"
  timed "$MLO" --json push
  sent=$(json "['wire_bytes']" <"$W/out")
  echo "version $v: sent $sent bytes in ${WALL}s (cpu ${CPU}s)"
  if [ "$v" -gt 1 ]; then
    pct=$(echo "scale=2; 100 * $sent / ($VER_MB * 1048576)" | bc)
    max_pct=$(echo "if ($pct > $max_pct) $pct else $max_pct" | bc)
  fi
  sent_total=$((sent_total + sent))
done
stored=$(du -sb "$W/s3/bench/ver" 2>/dev/null | cut -f1 || echo 0)
[ "$stored" -gt 0 ] || stored=$(find "$W/s3" -path '*ver*' -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
row "10 versions: stored on remote (MiB)" "$((stored >> 20))" "$((10 * VER_MB))" "$(ratio $((10 * VER_MB)) $((stored >> 20)))x"
row "version N+1: max sent (% of file)" "$max_pct" "100" "-"

echo "load after: $(uptime)"
echo
printf '%-46s %16s %20s %8s\n' "benchmark (s3rver on 127.0.0.1)" "mlo" "aws cli" "ratio"
printf '%s\n' "${ROWS[@]}"
echo "(files=$FILES (aws: $AWS_FILES) big=${BIG_MB}MiB versioned=${VER_MB}MiB; ratio = aws / mlo, higher is better for mlo)"
