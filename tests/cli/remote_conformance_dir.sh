#!/usr/bin/env bash
# The remote conformance suite (tests/remote_conformance/suite.sh) on a directory remote.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote.sh"
STORE="$TEST_TMP/store"; mkdir -p "$STORE"
conf_url() { echo "$STORE/$1"; }
conf_configure() { :; }
CONF_HTTP_PORT=""
CONF_DISK_ROOT="$STORE"
CONF_KILL_PUSH=1
mkdir -p "$STORE/rt" "$STORE/paging" "$STORE/gc"
source "$MLO_SOURCE_DIR/tests/remote_conformance/suite.sh"
