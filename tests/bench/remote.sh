#!/usr/bin/env bash
# Remote benchmark: mlo push/pull against `aws s3 sync` / `aws s3 cp` on the
# same local S3 server (s3rver from tests/tools), one run, printed as a table.
# Sizes scale with environment knobs (defaults are the issue's sizes):
#   BENCH_FILES=100000  small files of 2 KiB
#   BENCH_BIG_MB=2048   one big file
#   BENCH_VER_MB=1024   size of the versioned file (ten versions, 1% changed each)
set -euo pipefail
: "${MLO:?MLO must point at the built mlo}"
MLO=$(readlink -f "$MLO")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
FILES=${BENCH_FILES:-100000}
BIG_MB=${BENCH_BIG_MB:-2048}
VER_MB=${BENCH_VER_MB:-1024}
S3RVER="$SRC/tests/tools/node_modules/.bin/s3rver"
[ -x "$S3RVER" ] || { echo "s3rver missing: run 'make deps'"; exit 1; }
command -v aws >/dev/null || { echo "the aws CLI is missing (Debian package awscli)"; exit 1; }
W=$(mktemp -d "${TMPDIR:-/tmp}/mlo-bench-remote.XXXXXX")
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
NODE_OPTIONS=--openssl-legacy-provider node "$S3RVER" -d "$W/s3" -a 127.0.0.1 -p "$PORT" -s --configure-bucket bench >/dev/null 2>&1 &
S3PID=$!
trap 'kill $S3PID 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@x GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@x
EP="http://127.0.0.1:$PORT"
AWS=(aws --endpoint-url "$EP" --only-show-errors)
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc; }
json() { /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
ROWS=()
row() { ROWS+=("$(printf '%-44s %12s %12s %8s' "$1" "$2" "$3" "$4")"); }
ratio() { echo "scale=1; $1 / $2" | bc 2>/dev/null || echo "-"; }

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
t0=$(now); out=$(MLO_HTTP_STATS=1 "$MLO" --json push 2>"$W/stats"); t1=$(now)
mlo_push=$(secs $t0 $t1); mlo_push_req=$(echo "$out" | json "['requests']")
t0=$(now); "$MLO" --json push >/dev/null; t1=$(now); mlo_noop=$(secs $t0 $t1)
git clone -q "$W/a" "$W/b" && cd "$W/b"
t0=$(now); out=$("$MLO" --json pull); t1=$(now)
mlo_pull=$(secs $t0 $t1); mlo_pull_req=$(echo "$out" | json "['requests']")
diff -rq "$W/a/data/small" "$W/b/data/small" >/dev/null || { echo "pulled data differs"; exit 1; }
t0=$(now); "${AWS[@]}" s3 sync "$W/a/data/small" s3://bench/awssmall/ ; t1=$(now); aws_push=$(secs $t0 $t1)
t0=$(now); "${AWS[@]}" s3 sync s3://bench/awssmall/ "$W/awsdown/"; t1=$(now); aws_pull=$(secs $t0 $t1)
row "push $FILES x 2 KiB (s)" "$mlo_push" "$aws_push" "$(ratio $aws_push $mlo_push)x"
row "pull $FILES x 2 KiB (s)" "$mlo_pull" "$aws_pull" "$(ratio $aws_pull $mlo_pull)x"
row "HTTP requests push+pull (aws: >= 2 per file)" "$((mlo_push_req + mlo_pull_req))" ">= $((2 * FILES))" "$(ratio $((2 * FILES)) $((mlo_push_req + mlo_pull_req)))x"
row "no-op push of the tree (s)" "$mlo_noop" "-" "-"
rm -rf "$W/a/data/small" "$W/b" "$W/awsdown"

# 2. One big file.
echo "== one file of $BIG_MB MiB"
setup_repo "$W/big" big
mkdir -p data && head -c $((BIG_MB << 20)) /dev/urandom >data/big.bin
"$MLO" -q data add data/big.bin && git add -A && git commit -qm big
t0=$(now); "$MLO" -q push; t1=$(now); mlo_big=$(secs $t0 $t1)
t0=$(now); "${AWS[@]}" s3 cp data/big.bin s3://bench/awsbig/big.bin; t1=$(now); aws_big=$(secs $t0 $t1)
row "push 1 x $BIG_MB MiB (MiB/s)" "$(echo "scale=0; $BIG_MB / $mlo_big" | bc)" "$(echo "scale=0; $BIG_MB / $aws_big" | bc)" "$(ratio $aws_big $mlo_big)x"
cd "$W" && rm -rf "$W/big"

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
  out=$("$MLO" --json push)
  sent=$(echo "$out" | json "['wire_bytes']")
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

echo
printf '%-44s %12s %12s %8s\n' "benchmark (s3rver on 127.0.0.1)" "mlo" "aws cli" "ratio"
printf '%s\n' "${ROWS[@]}"
echo "(files=$FILES big=${BIG_MB}MiB versioned=${VER_MB}MiB; ratio = aws / mlo, higher is better for mlo)"
