#!/usr/bin/env bash
# mlo remote check NAME: a write-read-delete round trip, and for each way
# it can fail the kind of failure (dns, connect, auth, missing_bucket) with
# the fix; exit 0 or 4; --json has the steps.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote.sh"

start_s3rver check-bucket
new_repo a
export MLO_REMOTE_RETRIES=0
add() { expect_ok remote add "$1" "$2"; expect_ok remote modify "$1" endpoint "$3"; }
add good s3://check-bucket/p "$S3_ENDPOINT"
add nodns s3://check-bucket/p "http://no-such-host.invalid:9000"
dead=$(free_port)
add noserver s3://check-bucket/p "http://127.0.0.1:$dead"
add nobucket s3://no-such-bucket/p "$S3_ENDPOINT"

expect_ok remote check good
expect_out_contains "works"
expect_ok --json remote check good
expect_json "d['ok'] and [s['step'] for s in d['steps']] == ['connect', 'list', 'write', 'read', 'delete']"
# The probe is gone afterwards.
[ -z "$(find "$TEST_TMP/s3data/check-bucket" -path '*probe*' -name '*._S3rver_object' 2>/dev/null)" ] \
  || fail "the probe blob was left on the remote"
pass

check_problem() {  # NAME PROBLEM FIX-TEXT
  expect_rc 4 --json remote check "$1"
  expect_json "not d['ok'] and d['problem'] == '$2'"
  expect_rc 4 remote check "$1"
  expect_err_contains "$2 problem at the"
  expect_err_contains "$3"
}
check_problem nodns dns "does not resolve"
check_problem noserver connect "nothing answers at that host and port"
check_problem nobucket missing_bucket "create the bucket"
AWS_ACCESS_KEY_ID=AKIAWRONG check_problem good auth "check the credentials"
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY HOME="$TEST_TMP/nohome" "$MLO" remote check good >/dev/null 2>"$TEST_TMP/e"
[ $? = 4 ] && grep -q "credentials problem at the connect step" "$TEST_TMP/e" || fail "no credentials: $(cat "$TEST_TMP/e")"
pass
expect_rc 3 remote check nosuchremote
