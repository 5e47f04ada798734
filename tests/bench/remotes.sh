#!/usr/bin/env bash
# Remote backends benchmark: push and pull of BENCH_FILES (10,000) files of
# 2 KiB to Azurite (azure://) and to sshd (ssh://) against the same transfer
# to s3rver (s3://), all local. hyperfine times each command once per round
# and the rounds alternate the backends (BENCH_ROUNDS, 5), so a load change
# on this shared machine hits all three alike; the table has the medians
# and each backend's ratio to s3rver.
set -euo pipefail
: "${MLO:?MLO must point at the built mlo}"
export MLO_SOURCE_DIR=${MLO_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
FILES=${BENCH_FILES:-10000}
ROUNDS=${BENCH_ROUNDS:-5}
command -v hyperfine >/dev/null || { echo "hyperfine is missing (Debian package hyperfine)"; exit 1; }
set +e
source "$MLO_SOURCE_DIR/tests/cli/lib.sh"
source "$MLO_SOURCE_DIR/tests/cli/lib_remote.sh"
set -e
echo "load before: $(uptime)"
start_s3rver bench
start_azurite
start_sshd
trust_sshd
mkdir -p "$TEST_TMP/sshstore"

new_repo a
mkdir -p data/small
/usr/bin/python3 - "$FILES" <<'PY'
import os, sys
for i in range(int(sys.argv[1])):
    with open(f"data/small/{i:05d}.txt", "wb") as f:
        f.write(os.urandom(2048))
PY
"$MLO" -q data add data/small && git add -A && git commit -qm data
add() {  # NAME URL [ENDPOINT]
  "$MLO" -q remote add "$1" "$2" --local
  [ -z "${3:-}" ] || "$MLO" -q remote modify "$1" endpoint "$3" --local
}
add s3 "s3://bench/fixed" "$S3_ENDPOINT"
add azure "azure://bench/fixed" "$AZ_ENDPOINT"
add ssh "$SSH_URL_BASE$TEST_TMP/sshstore/fixed"
for r in s3 azure ssh; do "$MLO" -q push -r "$r"; done   # what the pulls read
git clone -q . "$TEST_TMP/b" && cp .mlo/config.local.yaml "$TEST_TMP/b/.mlo/"

url_of() {  # NAME PREFIX
  case $1 in
    s3) echo "s3://bench/$2" ;;
    azure) echo "azure://bench/$2" ;;
    ssh) echo "$SSH_URL_BASE$TEST_TMP/sshstore/$2" ;;
  esac
}
# Push to a prefix nobody used (a first push moves everything); pull into a
# clone whose cache and workspace copies were removed.
declare -A PUSH PULL
for round in $(seq 1 "$ROUNDS"); do
  for r in s3 azure ssh; do
    "$MLO" -q remote add "p$round$r" "$(url_of "$r" "run$round")" --local
    [ "$r" = ssh ] || "$MLO" -q remote modify "p$round$r" endpoint "$([ "$r" = s3 ] && echo "$S3_ENDPOINT" || echo "$AZ_ENDPOINT")" --local
    hyperfine -N --runs 1 --export-json "$TEST_TMP/push.json" "$MLO -q push -r p$round$r" >/dev/null 2>&1 \
      || { echo "push to $r failed"; exit 1; }
    PUSH[$r]+="$(/usr/bin/python3 -c 'import json,sys; print("%.2f" % json.load(open(sys.argv[1]))["results"][0]["mean"])' "$TEST_TMP/push.json") "
    (cd "$TEST_TMP/b" && hyperfine -N --runs 1 --prepare "rm -rf .mlo/cache/objects data/small" \
       --export-json "$TEST_TMP/pull.json" "$MLO -q pull -r $r" >/dev/null 2>&1) || { echo "pull from $r failed"; exit 1; }
    PULL[$r]+="$(/usr/bin/python3 -c 'import json,sys; print("%.2f" % json.load(open(sys.argv[1]))["results"][0]["mean"])' "$TEST_TMP/pull.json") "
  done
done
set +e  # from here on a failed step must not stop the table or the servers' shutdown (lib_remote.sh's trap)
median() { /usr/bin/python3 -c 'import statistics,sys; print("%.2f" % statistics.median(map(float, sys.argv[1:])))' $1; }
echo "load after: $(uptime)"
printf '%-10s %-22s %-10s %-22s %-10s\n' backend "push $FILES files (s)" "vs s3rver" "pull $FILES files (s)" "vs s3rver"
for r in s3 azure ssh; do
  pm=$(median "${PUSH[$r]}"); lm=$(median "${PULL[$r]}")
  printf '%-10s %-22s %-10s %-22s %-10s\n' "$r" "$pm [${PUSH[$r]% }]" \
    "$(echo "scale=2; $pm / $(median "${PUSH[s3]}")" | bc)x" "$lm [${PULL[$r]% }]" \
    "$(echo "scale=2; $lm / $(median "${PULL[s3]}")" | bc)x"
done
