#!/usr/bin/env bash
# Remote garbage collection at scale (issue 14): `mlo gc --remote` on an S3
# remote (s3rver from tests/tools) that holds OBJECTS objects, of which a
# KEEP-file tree is still needed and the rest is garbage pushed by a clone that
# git never saw. The peer is what a user of a one-object-per-file store does:
# `aws s3 rm --recursive` of the garbage objects (DVC's `gc -c` ends in the
# same per-object deletes). Prints wall and CPU (user+sys) time and the HTTP
# requests each side made (mlo's own count, MLO_HTTP_STATS; aws's from
# s3rver's request log), and the load average before and after.
#
# Knobs (environment):
#   MLO          the mlo binary (default: build/mlo)
#   OBJECTS      objects on the remote in all (default 1000000)
#   KEEP         files in the tree that must stay (default 100000)
#   AWS_OBJECTS  garbage objects aws deletes (default 5000): at ~100 objects/s
#                on s3rver the whole garbage would take hours to upload one by
#                one, so aws's time is scaled to OBJECTS - KEEP (rows say "est.")
# Data is generated here (512-byte random files, not committed) and removed.
# Not a test: nothing fails on speed, but it fails if gc removes anything the
# kept tree needs (a fresh clone pulls it and compares every byte).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$here/../.." && pwd)
MLO=$(readlink -f "${MLO:-$SRC/build/mlo}")
[ -x "$MLO" ] || { echo "remote_gc.sh: no mlo binary at $MLO" >&2; exit 2; }
OBJECTS=${OBJECTS:-1000000}
KEEP=${KEEP:-100000}
AWS_OBJECTS=${AWS_OBJECTS:-5000}
GARBAGE=$((OBJECTS - KEEP))
((GARBAGE > 0)) || { echo "OBJECTS must exceed KEEP" >&2; exit 2; }
((AWS_OBJECTS <= GARBAGE)) || AWS_OBJECTS=$GARBAGE
S3RVER="$SRC/tests/tools/node_modules/.bin/s3rver"
[ -x "$S3RVER" ] || { echo "s3rver missing: run 'make deps'" >&2; exit 1; }
command -v aws >/dev/null || { echo "the aws CLI is missing (Debian package awscli)" >&2; exit 1; }
source "$here/lib_s3rver.sh"

W=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/mlo-bench-rgc.XXXXXX")
# Not silent: s3rver logs one line per request, which is how aws's requests are counted.
start_bench_s3rver "$W" "$W/s3rver.log"
# make_files DIR N : N random 512-byte files, 1000 a folder.
make_files() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "%05d" % (i // 1000))
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "%07d.bin" % i), "wb") as f:
        f.write(os.urandom(512))
PY
}
# s3_requests : requests s3rver has answered so far (its log's "PATH STATUS TIMEms SIZE" lines).
s3_requests() { grep -cE ' [1-5][0-9]{2} [0-9.]+m?s( |$)' "$W/s3rver.log" || true; }
setup_repo() {  # DIR
  mkdir -p "$1" && cd "$1" && git init -q . && "$MLO" -q init
  "$MLO" -q remote add s3 "s3://bench/store" --default
  "$MLO" -q remote modify s3 endpoint "$EP"
  git add -A && git commit -qm init
}

echo "machine: $(nproc) cores, $(uname -sr); mlo $("$MLO" --version)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $OBJECTS objects on the remote: a $KEEP-file tree to keep, $GARBAGE objects of garbage"
# The garbage: pushed by a clone whose commits the gc-ing clone never sees.
setup_repo "$W/other"
make_files data "$GARBAGE"
"$MLO" -q data add data && git add -A && git commit -qm garbage
timed "$MLO" --json push
echo "push of the garbage: ${WALL}s"
rm -rf "$W/other"
# The tree that stays.
setup_repo "$W/a"
make_files data "$KEEP"
"$MLO" -q data add data && git add -A && git commit -qm keep
timed "$MLO" --json push
echo "push of the kept tree: ${WALL}s"

timed "$MLO" --json gc --remote s3 --grace 0 --dry-run
/usr/bin/python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print("dry run: %d packs, %d blobs to remove, %d kept" % (j["packs"], j["blobs_removed"], j["blobs_kept"]))' "$W/out"
export MLO_HTTP_STATS=1
timed "$MLO" --json gc --remote s3 --grace 0 --yes
unset MLO_HTTP_STATS
gc_wall=$WALL gc_cpu=$CPU
gc_requests=$(sed -n 's/^mlo: http: \([0-9]*\) requests.*/\1/p' "$W/err" | tail -1)
read -r removed kept packs < <(/usr/bin/python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["blobs_removed"], j["blobs_kept"], len(j["removed_packs"]) + len(j["rewritten_packs"]))' "$W/out")
echo "mlo gc --remote: ${gc_wall}s wall, ${gc_cpu}s CPU, $gc_requests requests, $removed blobs removed in $packs packs, $kept kept"
# Nothing the tree needs may be gone: a fresh clone pulls every byte.
git clone -q "$W/a" "$W/b" && cd "$W/b"
"$MLO" -q pull
diff -rq "$W/a/data" "$W/b/data" >/dev/null || { echo "remote_gc.sh: the kept tree did not survive gc" >&2; exit 1; }
echo "the kept tree pulls intact into a fresh clone"
cd "$W" && rm -rf "$W/b"

echo "== aws s3 rm --recursive of $AWS_OBJECTS objects (one per file, as DVC stores them)"
mkdir -p "$W/awsin" && make_files "$W/awsin" "$AWS_OBJECTS"
"${AWS[@]}" s3 cp --recursive "$W/awsin" s3://bench/awsgc/
before=$(s3_requests)
timed aws --endpoint-url "$EP" s3 rm --recursive --quiet s3://bench/awsgc/
aws_wall=$WALL aws_cpu=$CPU aws_requests=$(( $(s3_requests) - before ))
left=$( { aws --endpoint-url "$EP" s3 ls --recursive s3://bench/awsgc/ || true; } | wc -l)  # ls exits 1 on an empty prefix
((left == 0)) || { echo "aws left $left objects" >&2; exit 1; }
echo "aws: ${aws_wall}s wall, ${aws_cpu}s CPU, $aws_requests requests for $AWS_OBJECTS objects"
scale() { echo "scale=1; $1 * $GARBAGE / $AWS_OBJECTS" | bc; }
est=""
if ((AWS_OBJECTS < GARBAGE)); then est=" est."; fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf '| removing %d of %d objects (a %d-file tree kept) | wall | CPU | HTTP requests |\n' "$GARBAGE" "$OBJECTS" "$KEEP"
echo '|---|---:|---:|---:|'
printf '| mlo gc --remote | %s s | %s s | %s |\n' "$gc_wall" "$gc_cpu" "$gc_requests"
printf '| aws s3 rm --recursive%s | %s s | %s s | %s |\n' "$est" "$(scale "$aws_wall")" "$(scale "$aws_cpu")" "$(scale "$aws_requests" | cut -d. -f1)"
echo
echo "reproduce: OBJECTS=$OBJECTS KEEP=$KEEP AWS_OBJECTS=$AWS_OBJECTS tests/bench/remote_gc.sh"
