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

# A service-account JSON key (GOOGLE_APPLICATION_CREDENTIALS): mlo signs an
# RS256 JWT and trades it for a token at the key's token_uri, a local
# endpoint that checks the signature with openssl against the public key.
command -v openssl >/dev/null || fail "openssl is not installed (see .ci/debian-packages.txt)"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TEST_TMP/sa.pem" 2>/dev/null
openssl pkey -in "$TEST_TMP/sa.pem" -pubout -out "$TEST_TMP/sa.pub"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TEST_TMP/other.pem" 2>/dev/null
TOKEN_PORT=$(free_port)
start_token_server() {  # MODE
  /usr/bin/python3 -B "$MLO_SOURCE_DIR/tests/cli/gcs_token_server.py" "$TOKEN_PORT" "$TEST_TMP/sa.pub" \
    sa@proj.iam.gserviceaccount.com tok-123 "$TEST_TMP/token.log" "$1" &
  TOKEN_PID=$!
  SERVER_PIDS+=($TOKEN_PID)
  wait_port "$TOKEN_PORT"
}
# write_key FILE PEM [FIELD=VALUE...]: a key file as Google's console writes
# it, with fields replaced (VALUE "-" removes FIELD).
write_key() {
  local file=$1 pem=$2
  shift 2
  /usr/bin/python3 - "$file" "$pem" "http://127.0.0.1:$TOKEN_PORT/token" "$@" <<'PY'
import json, sys
file, pem, uri, *edits = sys.argv[1:]
key = {"type": "service_account", "project_id": "proj", "private_key_id": "k1",
       "private_key": open(pem).read(), "client_email": "sa@proj.iam.gserviceaccount.com",
       "client_id": "1", "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": uri}
for edit in edits:
    name, value = edit.split("=", 1)
    key.pop(name) if value == "-" else key.__setitem__(name, value)
json.dump(key, open(file, "w"), indent=2)
PY
}
start_token_server ok
write_key "$TEST_TMP/key.json" "$TEST_TMP/sa.pem"
sa() { env -u GS_ACCESS_KEY_ID GOOGLE_APPLICATION_CREDENTIALS="$1" "$MLO" "${@:2}" </dev/null >/dev/null 2>"$TEST_TMP/e"; }
sa "$TEST_TMP/key.json" remote check bearer
grep -q "HTTP 401" "$TEST_TMP/e" && fail "the service-account token was not sent: $(cat "$TEST_TMP/e")"
grep -q "problem at the list step" "$TEST_TMP/e" || fail "expected nginx (not S3) to fail the listing: $(cat "$TEST_TMP/e")"
[ "$(cat "$TEST_TMP/token.log")" = ok ] || fail "the token endpoint did not accept one signed JWT: $(cat "$TEST_TMP/token.log")"
pass

# Refused: a key the endpoint does not know (signed with another RSA key).
write_key "$TEST_TMP/stale.json" "$TEST_TMP/other.pem"
sa "$TEST_TMP/stale.json" pull; rc=$?
[ $rc = 4 ] && grep -q "refused the key of sa@proj.iam.gserviceaccount.com: invalid_grant: Invalid JWT Signature" "$TEST_TMP/e" \
  && grep -q "IAM > Service accounts" "$TEST_TMP/e" || fail "refused key: exit $rc: $(cat "$TEST_TMP/e")"
tail -1 "$TEST_TMP/token.log" | grep -q "Invalid JWT Signature" || fail "the endpoint did not see the bad signature"
pass

# Malformed key files: exit 3 naming the file and the field, nothing sent.
: >"$TEST_TMP/token.log"
expect_bad_key() {  # FILE MESSAGE
  sa "$1" pull; local rc=$?
  [ $rc = 3 ] && grep -qF "$2" "$TEST_TMP/e" && grep -qF "$1" "$TEST_TMP/e" || fail "bad key $1: exit $rc: $(cat "$TEST_TMP/e")"
}
echo '{"type": "service_account",' >"$TEST_TMP/cut.json"
expect_bad_key "$TEST_TMP/cut.json" "not a JSON object"
expect_bad_key "$TEST_TMP/none.json" "cannot read it"
write_key "$TEST_TMP/k1.json" "$TEST_TMP/sa.pem" private_key="-----BEGIN PRIVATE KEY-----
AAAA
-----END PRIVATE KEY-----"
expect_bad_key "$TEST_TMP/k1.json" "private_key is not a PEM private key"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TEST_TMP/ec.pem" 2>/dev/null
write_key "$TEST_TMP/k2.json" "$TEST_TMP/ec.pem"
expect_bad_key "$TEST_TMP/k2.json" "private_key is not an RSA key"
openssl pkey -in "$TEST_TMP/sa.pem" -aes256 -passout pass:secret -out "$TEST_TMP/enc.pem"
write_key "$TEST_TMP/k3.json" "$TEST_TMP/enc.pem"
expect_bad_key "$TEST_TMP/k3.json" "without a passphrase"
write_key "$TEST_TMP/k4.json" "$TEST_TMP/sa.pem" client_email=-
expect_bad_key "$TEST_TMP/k4.json" 'no "client_email" text field'
write_key "$TEST_TMP/k5.json" "$TEST_TMP/sa.pem" type=authorized_user
expect_bad_key "$TEST_TMP/k5.json" 'is not "service_account"'
write_key "$TEST_TMP/k6.json" "$TEST_TMP/sa.pem" token_uri=http://oauth.example.com/token
expect_bad_key "$TEST_TMP/k6.json" "is not https://"
[ -s "$TEST_TMP/token.log" ] && fail "a malformed key reached the token endpoint: $(cat "$TEST_TMP/token.log")"
pass

# An endpoint that hands out an expired token: exit 4 saying so.
kill "$TOKEN_PID"; wait "$TOKEN_PID" 2>/dev/null
start_token_server expired
sa "$TEST_TMP/key.json" pull; rc=$?
[ $rc = 4 ] && grep -q "sent a token that has already expired" "$TEST_TMP/e" || fail "expired token: exit $rc: $(cat "$TEST_TMP/e")"
pass
