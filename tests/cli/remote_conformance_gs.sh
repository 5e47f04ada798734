#!/usr/bin/env bash
# The remote conformance suite (tests/remote_conformance/suite.sh) on gs://
# through the S3-compatible XML API with HMAC keys, against s3rver.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote.sh"
start_s3rver conformance
export GS_ACCESS_KEY_ID=S3RVER GS_SECRET_ACCESS_KEY=S3RVER
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
conf_url() { echo "gs://conformance/$1"; }
conf_configure() { expect_ok remote modify "$1" endpoint "http://127.0.0.1:${2:-$S3_PORT}"; }
CONF_HTTP_PORT=$S3_PORT
CONF_DISK_ROOT=""
source "$MLO_SOURCE_DIR/tests/remote_conformance/suite.sh"
