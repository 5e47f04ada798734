#!/usr/bin/env bash
# The remote conformance suite (tests/remote_conformance/suite.sh) on an S3-compatible server (s3rver).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote.sh"
start_s3rver conformance
conf_url() { echo "s3://conformance/$1"; }
conf_configure() { expect_ok remote modify "$1" endpoint "http://127.0.0.1:${2:-$S3_PORT}"; }
CONF_HTTP_PORT=$S3_PORT
CONF_DISK_ROOT=""
source "$MLO_SOURCE_DIR/tests/remote_conformance/suite.sh"
