#!/usr/bin/env bash
# gs:// remotes: HMAC keys against s3rver (a round trip between clones),
# an OAuth token from GOOGLE_OAUTH_ACCESS_TOKEN or MLO_GS_TOKEN_COMMAND sent
# as a bearer token (checked by an nginx that requires it), and clear
# errors (exit 4) for missing credentials and a failing token command.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote.sh"

start_s3rver gs-bucket
export GS_ACCESS_KEY_ID=S3RVER GS_SECRET_ACCESS_KEY=S3RVER
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
new_repo a
make_data
expect_ok remote add origin gs://gs-bucket/team --default
expect_ok remote modify origin endpoint "$S3_ENDPOINT"
git add -A && git commit -qm remote
expect_ok push
expect_out_contains "Pushed 42 objects"
ls "$TEST_TMP/s3data/gs-bucket/team/packs" >/dev/null 2>&1 || fail "nothing under gs-bucket/team/packs"
pass
cd "$TEST_TMP" && git clone -q a b && cd b
expect_ok pull
expect_same_data "$TEST_TMP/a" "$TEST_TMP/b"

# No credentials at all: exit 4 naming the three ways.
env -u GS_ACCESS_KEY_ID -u GS_SECRET_ACCESS_KEY "$MLO" pull >/dev/null 2>"$TEST_TMP/e"
[ $? = 4 ] && grep -q "no Google Cloud Storage credentials" "$TEST_TMP/e" && grep -q MLO_GS_TOKEN_COMMAND "$TEST_TMP/e" \
  || fail "no credentials: $(cat "$TEST_TMP/e")"
pass
# A token command that fails: exit 4 with its exit status and stderr.
env -u GS_ACCESS_KEY_ID MLO_GS_TOKEN_COMMAND='echo not logged in >&2; exit 3' "$MLO" pull >/dev/null 2>"$TEST_TMP/e"
[ $? = 4 ] && grep -q "failed (exit 3): not logged in" "$TEST_TMP/e" || fail "failing token command: $(cat "$TEST_TMP/e")"
pass

# The token goes out as "Authorization: Bearer": an nginx that answers 401
# unless it sees the right one.
DAV_TOKEN=tok-123 start_nginx_dav
expect_ok remote add bearer gs://gs-bucket/team
expect_ok remote modify bearer endpoint "http://127.0.0.1:$DAV_PORT"
export MLO_REMOTE_RETRIES=0
env -u GS_ACCESS_KEY_ID GOOGLE_OAUTH_ACCESS_TOKEN=wrong "$MLO" remote check bearer >/dev/null 2>"$TEST_TMP/e"
grep -q "HTTP 401" "$TEST_TMP/e" || fail "a wrong token was not refused: $(cat "$TEST_TMP/e")"
pass
env -u GS_ACCESS_KEY_ID MLO_GS_TOKEN_COMMAND='echo tok-123' "$MLO" remote check bearer >/dev/null 2>"$TEST_TMP/e"
grep -q "HTTP 401" "$TEST_TMP/e" && fail "the command's token was not sent: $(cat "$TEST_TMP/e")"
grep -q "problem at the list step" "$TEST_TMP/e" || fail "expected nginx (not S3) to fail the listing: $(cat "$TEST_TMP/e")"
pass
