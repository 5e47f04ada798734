#!/usr/bin/env bash
# The remote conformance suite (tests/remote_conformance/suite.sh) on an ssh server (OpenSSH's sftp).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote.sh"
start_sshd
trust_sshd
STORE="$TEST_TMP/store"; mkdir -p "$STORE"
conf_url() { echo "$SSH_URL_BASE$STORE/$1"; }
conf_configure() { :; }
CONF_HTTP_PORT=""
CONF_DISK_ROOT="$STORE"
source "$MLO_SOURCE_DIR/tests/remote_conformance/suite.sh"
