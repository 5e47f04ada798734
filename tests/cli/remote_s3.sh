#!/usr/bin/env bash
# S3 remotes against a real S3-compatible server (s3rver, which checks
# SigV4 signatures): round trip between two clones, multipart upload, the
# aws CLI reading what mlo wrote, and bad input (exit 4, nothing lost).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote.sh"

start_s3rver mlo-bucket
new_repo a
make_data
expect_ok remote add origin s3://mlo-bucket/team/project --default
expect_ok remote modify origin endpoint "$S3_ENDPOINT"
# Small parts so the chunk packs of big.bin go through multipart upload.
expect_ok remote modify origin multipart_threshold 1048576
expect_ok remote modify origin pack_size 2000000
grep -q "S3RVER" .mlo/config.yaml && fail "credentials leaked into config.yaml"
git add -A && git commit -qm "remote"

expect_ok push
expect_out_contains "Pushed 42 objects"
expect_ok --json push
# data/small's folder was recorded as pushed in full: only big.bin is looked at.
expect_json "d['objects'] == 0 and d['up_to_date'] == 1 and d['known_files'] == 40 and d['packs'] == 0"

# Another clone pulls the same bytes.
cd "$TEST_TMP" && git clone -q a b && cd b
expect_ok pull
expect_out_contains "Fetched 42 objects"
expect_same_data "$TEST_TMP/a" "$TEST_TMP/b"

# Virtual-host style addressing works too (s3rver resolves the bucket from Host).
expect_ok remote modify origin path_style false --local
expect_ok remote modify origin endpoint "http://s3.localhost:$S3_PORT" --local
rm -rf .mlo/cache/objects/* data/big.bin data/small
expect_ok pull
expect_same_data "$TEST_TMP/a" "$TEST_TMP/b"
expect_ok remote modify origin path_style --unset --local
expect_ok remote modify origin endpoint --unset --local

# The aws CLI lists and downloads what mlo wrote.
if command -v aws >/dev/null && aws --version >/dev/null 2>&1; then
  keys=$(aws --endpoint-url "$S3_ENDPOINT" s3 ls --recursive s3://mlo-bucket/team/project/ 2>&1) \
    || fail "aws s3 ls failed: $keys"
  [[ "$keys" == *".idx"* && "$keys" == *".pack"* ]] || fail "aws s3 ls does not show packs: $keys"
  first=$(printf '%s\n' "$keys" | awk '/\.pack$/ {print $4; exit}')
  aws --endpoint-url "$S3_ENDPOINT" s3 cp "s3://mlo-bucket/$first" "$TEST_TMP/pack.bin" >/dev/null 2>&1 \
    || fail "aws s3 cp of $first failed"
  [ -s "$TEST_TMP/pack.bin" ] || fail "downloaded pack is empty"
  pass
fi

# Bad input: each a clear message, exit 4, the cache untouched.
before=$(find .mlo/cache/objects -type f | wc -l)
# (s3rver checks the key id, not the signature: the signer has known-answer unit tests.)
AWS_ACCESS_KEY_ID=AKIAWRONGKEY expect_rc 4 push
expect_err_contains "HTTP 403"
expect_err_contains "hint: check the credentials"
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY HOME="$TEST_TMP/nohome" "$MLO" push >"$TEST_TMP/o" 2>"$TEST_TMP/e"
[ $? = 4 ] || fail "missing credentials: expected exit 4"
grep -q "no S3 credentials" "$TEST_TMP/e" || fail "missing credentials message: $(cat "$TEST_TMP/e")"
pass
# Credentials from ~/.aws/credentials and AWS_PROFILE.
mkdir -p "$TEST_TMP/awshome/.aws"
printf '[default]\naws_access_key_id = nope\naws_secret_access_key = nope\n[ci]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' \
  >"$TEST_TMP/awshome/.aws/credentials"
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY HOME="$TEST_TMP/awshome" AWS_PROFILE=ci "$MLO" push >/dev/null 2>&1 \
  || fail "push with AWS_PROFILE=ci failed"
pass
expect_ok remote add nobucket s3://no-such-bucket/x
expect_ok remote modify nobucket endpoint "$S3_ENDPOINT"
expect_rc 4 push -r nobucket
expect_err_contains "bucket 'no-such-bucket' does not exist"
dead=$(free_port)
expect_ok remote add dead s3://mlo-bucket/x
expect_ok remote modify dead endpoint "http://127.0.0.1:$dead"
MLO_REMOTE_RETRIES=1 expect_rc 4 push -r dead
expect_err_contains "127.0.0.1:$dead"
after=$(find .mlo/cache/objects -type f | wc -l)
expect_eq "$after" "$before" "cache objects after failed commands"
expect_same_data "$TEST_TMP/a" "$TEST_TMP/b"

done_testing
