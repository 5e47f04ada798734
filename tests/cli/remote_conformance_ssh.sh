#!/usr/bin/env bash
# The remote conformance suite (tests/remote_conformance/suite.sh) on an ssh server (OpenSSH's sftp).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote.sh"
start_sshd
trust_sshd
STORE="$TEST_TMP/store"; mkdir -p "$STORE"
conf_url() { echo "ssh://$(id -un)@127.0.0.1:${2:-$SSH_PORT}$STORE/$1"; }
conf_configure() {  # a port in front (the cut proxy) shows sshd's own key
  [ -z "${2:-}" ] || echo "[127.0.0.1]:$2 $(cut -d' ' -f1,2 "$SSH_HOST_KEY_PUB")" >>"$HOME/.ssh/known_hosts"
}
CONF_HTTP_PORT=""
CONF_TCP_PORT=$SSH_PORT
CONF_DISK_ROOT="$STORE"
source "$MLO_SOURCE_DIR/tests/remote_conformance/suite.sh"
