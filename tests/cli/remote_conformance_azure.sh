#!/usr/bin/env bash
# The remote conformance suite (tests/remote_conformance/suite.sh) on Azure Blob (Azurite).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote.sh"
start_azurite
conf_url() { echo "azure://conformance/$1"; }
conf_configure() { expect_ok remote modify "$1" endpoint "http://127.0.0.1:${2:-$AZ_PORT}/devstoreaccount1"; }
CONF_HTTP_PORT=$AZ_PORT
CONF_DISK_ROOT=""
source "$MLO_SOURCE_DIR/tests/remote_conformance/suite.sh"
