#!/usr/bin/env bash
# TLS for http and s3 remotes against nginx serving HTTPS with a
# self-signed certificate made here: verification is on by default (exit 4,
# a clear message), a remote's ca_bundle or CURL_CA_BUNDLE / SSL_CERT_FILE
# trusts the CA, and only an explicit ssl_verify false turns it off.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote.sh"

command -v openssl >/dev/null || skip "openssl is not installed"
mkdir -p "$TEST_TMP/tls"
# cert.pem: the server's (self-signed, 127.0.0.1 only); other.pem: an unrelated CA.
make_cert() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$3" -addext "subjectAltName=IP:127.0.0.1" \
    -keyout "$1" -out "$2" >/dev/null 2>&1 || fail "openssl req failed"
}
make_cert "$TEST_TMP/tls/key.pem" "$TEST_TMP/tls/cert.pem" "mlo test server"
make_cert "$TEST_TMP/tls/other-key.pem" "$TEST_TMP/tls/other.pem" "someone else"
DAV_TLS_CERT=$TEST_TMP/tls/cert.pem DAV_TLS_KEY=$TEST_TMP/tls/key.pem start_nginx_dav
unset CURL_CA_BUNDLE SSL_CERT_FILE

new_repo a
make_data
URL="https://127.0.0.1:$DAV_PORT/store/mlo"
expect_ok remote add web "$URL" --default
git add -A && git commit -qm "remote"

# Verification on (the default): exit 4, a message saying why and what to do, nothing sent.
expect_rc 4 push
expect_err_contains "TLS certificate verification failed"
expect_err_contains "self-signed"
expect_err_contains "mlo remote modify web ca_bundle"
expect_no_file "$TEST_TMP/dav/store"
expect_rc 4 data status --remote
expect_err_contains "TLS certificate verification failed"
# Trusting an unrelated CA does not help.
expect_ok remote modify web ca_bundle "$TEST_TMP/tls/other.pem" --local
expect_rc 4 push
expect_err_contains "TLS certificate verification failed"
# A CA bundle that does not exist: exit 3 naming it.
expect_ok remote modify web ca_bundle "$TEST_TMP/tls/nope.pem" --local
expect_rc 3 push
expect_err_contains "tls/nope.pem"
expect_no_file "$TEST_TMP/dav/store"

# The remote's ca_bundle names the server's CA: verified and working.
expect_ok remote modify web ca_bundle "$TEST_TMP/tls/cert.pem" --local
grep -q ca_bundle .mlo/config.yaml && fail "--local ca_bundle leaked into config.yaml"
expect_ok push
expect_out_contains "Pushed 42 objects"
# The host name is checked too: the certificate names 127.0.0.1, not localhost.
expect_ok remote add byname "https://localhost:$DAV_PORT/store/mlo"
expect_ok remote modify byname ca_bundle "$TEST_TMP/tls/cert.pem" --local
expect_rc 4 data status --remote byname
expect_err_contains "TLS certificate verification failed"
expect_ok remote rm byname
# Or the environment: CURL_CA_BUNDLE, then SSL_CERT_FILE.
expect_ok remote modify web ca_bundle --unset --local
expect_rc 4 data status --remote
CURL_CA_BUNDLE=$TEST_TMP/tls/cert.pem expect_ok data status --remote --exit-code
expect_out_contains "have all tracked data"
SSL_CERT_FILE=$TEST_TMP/tls/cert.pem expect_ok data status --remote --exit-code

# A clone that turns verification off explicitly (per user) pulls; the
# tracked config still says nothing, so verification stays on for others.
cd "$TEST_TMP" && git clone -q a b && cd b
expect_rc 4 pull
expect_ok remote modify web ssl_verify false --local
expect_ok --json remote ls
expect_json "d[0]['options']['ssl_verify'] == 'false'"
expect_ok pull
expect_same_data "$TEST_TMP/a" "$TEST_TMP/b"
expect_ok remote modify web ssl_verify true --local
expect_rc 4 data status --remote

# An s3 remote behind the same kind of TLS front (nginx proxying to s3rver).
bin="$MLO_SOURCE_DIR/tests/tools/node_modules/.bin/s3rver"
if [ -x "$bin" ] && command -v node >/dev/null; then
  start_s3rver tlsbucket
  TLS_PORT=$(free_port)
  start_nginx "$TEST_TMP/proxy" "$TLS_PORT" "" "
    listen 127.0.0.1:$TLS_PORT ssl;
    ssl_certificate $TEST_TMP/tls/cert.pem;
    ssl_certificate_key $TEST_TMP/tls/key.pem;
    location / {
      proxy_pass http://127.0.0.1:$S3_PORT;
      proxy_set_header Host \$http_host;
      proxy_http_version 1.1;
      proxy_request_buffering off;
    }"
  cd "$TEST_TMP/a"
  expect_ok remote add s3tls s3://tlsbucket/mlo
  expect_ok remote modify s3tls endpoint "https://127.0.0.1:$TLS_PORT"
  git commit -qam "s3 remote" || fail "commit"
  expect_rc 4 push -r s3tls
  expect_err_contains "TLS certificate verification failed"
  expect_ok remote modify s3tls ca_bundle "$TEST_TMP/tls/cert.pem" --local
  expect_ok push -r s3tls
  expect_out_contains "Pushed 42 objects"
  cd "$TEST_TMP" && git clone -q a c && cd c
  expect_ok remote modify s3tls ssl_verify false --local
  expect_ok pull -r s3tls
  expect_same_data "$TEST_TMP/a" "$TEST_TMP/c"
fi
done_testing
