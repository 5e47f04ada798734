#!/usr/bin/env bash
# The remote conformance suite (tests/remote_conformance/suite.sh) on a WebDAV server (nginx).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote.sh"
start_nginx_dav
conf_url() { echo "http://127.0.0.1:${2:-$DAV_PORT}/$1"; }
conf_configure() { :; }
CONF_HTTP_PORT=$DAV_PORT
CONF_DISK_ROOT=""
source "$MLO_SOURCE_DIR/tests/remote_conformance/suite.sh"
