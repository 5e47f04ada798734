#!/usr/bin/env bash
# A lying or hostile remote (issue 11): listed names that decode to paths
# outside the listed folder never become local paths; malformed numbers in
# an S3 listing are a retried remote error, not a crash; a pack index that
# claims absurd sizes is refused (exit 4) before anything is allocated; a
# password in a URL is never stored in the tracked config nor printed.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote.sh"
export MLO_REMOTE_BACKOFF_MS=20

new_repo a
make_data
expect_ok remote add dir "$TEST_TMP/remote" --default
git add -A && git commit -qm remote
expect_ok push

# --- WebDAV hrefs that decode to "../.." or absolute paths.
template=$(ls "$TEST_TMP"/remote/packs/*.idx | head -1)
DAV_PORT=$(free_port)
mkdir -p "$TEST_TMP/outside"
/usr/bin/python3 "$MLO_SOURCE_DIR/tests/cli/hostile_dav.py" "$DAV_PORT" "$template" "$TEST_TMP/outside" &
SERVER_PIDS+=($!)
wait_port "$DAV_PORT"
expect_ok remote add evil "http://127.0.0.1:$DAV_PORT/r"
expect_ok push -r evil
expect_err_contains "ignoring the listed name"
expect_eq "$(find "$TEST_TMP" -name '*evil*' -not -path "$TEST_TMP/a/.git/*" | grep -v -e '\.sh$' -e '\.py$' || true)" "" \
  "files created from hostile listed names"
# Everything the index cache holds is named like a pack index mlo writes.
bad=$(find .mlo/cache/remotes -name '*.idx' | grep -Ev '/[0-9]+-[0-9a-f]+\.idx$' || true)
expect_eq "$bad" "" "unexpected names in the index cache"
expect_ok data status --remote evil

# --- A corrupted S3 ListObjectsV2 body: retried; if it stays corrupt, exit 4.
if [ -x "$MLO_SOURCE_DIR/tests/tools/node_modules/.bin/s3rver" ] && command -v node >/dev/null; then
  start_s3rver bucket
  start_fault_proxy "$S3_PORT"
  cd "$TEST_TMP/a"
  expect_ok remote add s3 s3://bucket/p
  expect_ok remote modify s3 endpoint "http://127.0.0.1:$PROXY_PORT"
  git add -A && git commit -qm s3
  expect_ok push -r s3
  cd "$TEST_TMP" && git clone -q a s3b && cd s3b
  echo "list-garble,list-garble,list-garble" >"$FAULTS"
  expect_ok pull -r s3
  expect_eq "$(cat "$FAULTS")" "" "fault left unused"
  expect_same_data "$TEST_TMP/a" "$TEST_TMP/s3b"
  cd "$TEST_TMP" && git clone -q a s3c && cd s3c
  echo "list-garble,list-garble,list-garble,list-garble,list-garble,list-garble,list-garble,list-garble" >"$FAULTS"
  expect_rc 4 pull -r s3
  expect_err_contains "is not a size"
  : >"$FAULTS"
fi

# --- Pack indexes that claim 3 GB or 2^62 bytes for a blob: refused, exit 4.
for claim in 3000000000 4611686018427387904; do
  rm -rf "$TEST_TMP/huge" && cp -r "$TEST_TMP/remote" "$TEST_TMP/huge" && chmod -R u+w "$TEST_TMP/huge"
  for idx in "$TEST_TMP"/huge/packs/*.idx; do
    zstd -q -d -c "$idx" | /usr/bin/python3 -c "
import json, sys
d = json.load(sys.stdin)
for b in d['blobs']: b[4] = $claim
sys.stdout.write(json.dumps(d))" >"$idx.json" && zstd -q -f "$idx.json" -o "$idx" && rm "$idx.json"
  done
  cd "$TEST_TMP" && rm -rf huge_clone && git clone -q a huge_clone && cd huge_clone
  expect_ok remote add huge "$TEST_TMP/huge"
  expect_rc 4 pull -r huge
  expect_err_contains "impossible"
  expect_no_file data/big.bin
done

# --- Passwords in URLs.
cd "$TEST_TMP/a"
closed=$(free_port)
expect_rc 2 remote add sec "http://alice:S3CRETPW@127.0.0.1:$closed/r"
expect_err_contains "MLO_HTTP_PASSWORD"
[[ "$OUT$ERR" != *S3CRETPW* ]] || fail "the password was printed: $OUT $ERR"
pass
grep -q S3CRETPW .mlo/config.yaml && fail "the password was stored in .mlo/config.yaml"
expect_rc 2 remote modify dir url "http://alice:S3CRETPW@127.0.0.1:$closed/r"
# In the untracked config it is allowed, and never shown.
expect_ok remote add sec "http://alice:S3CRETPW@127.0.0.1:$closed/r" --local
expect_out_not_contains S3CRETPW
expect_ok remote add q "http://127.0.0.1:$closed/r?X-Amz-Signature=QSIG&token=QTOKEN" --local
for args in "remote ls" "--json remote ls"; do
  expect_ok $args
  [[ "$OUT" != *S3CRETPW* && "$OUT" != *QSIG* && "$OUT" != *QTOKEN* ]] || fail "mlo $args printed a secret: $OUT"
  pass
done
expect_out_contains "127.0.0.1:$closed"
MLO_REMOTE_RETRIES=0 expect_rc 4 -v push -r sec
[[ "$OUT$ERR" != *S3CRETPW* ]] || fail "push -v printed the password: $ERR"
pass
expect_err_contains "***@127.0.0.1"
MLO_REMOTE_RETRIES=0 expect_rc 4 -v --json push -r q
[[ "$OUT$ERR" != *QSIG* && "$OUT$ERR" != *QTOKEN* ]] || fail "push -v printed a query credential: $ERR"
pass
done_testing
