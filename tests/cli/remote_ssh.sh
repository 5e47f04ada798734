#!/usr/bin/env bash
# ssh:// remotes against Debian's sshd (keys made by the test): the host key
# checked against known_hosts (unknown: refused unless --accept-new; changed:
# always refused), the user's key from ~/.ssh, temp name + rename (no
# partial or temp blob left), parallel sessions, and clear errors (exit 4).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote.sh"

start_sshd
STORE="$TEST_TMP/store"
new_repo a
make_data
expect_ok remote add origin "$SSH_URL_BASE$STORE/project" --default
git add -A && git commit -qm remote
grep -q "$(id -un)@127.0.0.1" .mlo/config.yaml || fail "the URL's user name was not kept"

# Unknown host: refused, with the way to trust it.
expect_rc 4 push
expect_err_contains "host key unknown"
expect_err_contains "--accept-new"
[ -e "$STORE" ] && fail "something was written to an unverified host"
expect_rc 4 remote check
expect_err_contains "host_key problem"
expect_ok remote check --accept-new
expect_out_contains "works"
# (libcurl 7.88 records it under the bare host name, which libssh2 also matches.)
grep -q "$(cut -d' ' -f2 "$SSH_HOST_KEY_PUB")" "$HOME/.ssh/known_hosts" || fail "--accept-new did not record the host key"
pass

expect_ok --json push -j 8
expect_json "d['objects'] == 42"
# Blobs are renamed into place: no temp name is left behind.
[ -z "$(find "$STORE" -name '.*tmp*')" ] || fail "temp files left: $(find "$STORE" -name '.*tmp*')"
ls "$STORE/project/packs/"*.idx >/dev/null 2>&1 || fail "no pack index on the server"
pass
cd "$TEST_TMP" && git clone -q a b && cd b
expect_ok pull -j 8
expect_same_data "$TEST_TMP/a" "$TEST_TMP/b"

# A changed host key is refused even with accept_new on.
cp "$HOME/.ssh/known_hosts" "$TEST_TMP/known_hosts.good"
ssh-keygen -q -t ed25519 -N '' -f "$TEST_TMP/other_host_key"
echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$TEST_TMP/other_host_key.pub")" >"$HOME/.ssh/known_hosts"
expect_rc 4 remote check --accept-new
expect_err_contains "host key CHANGED"
expect_err_contains "ssh-keygen -R"
cp "$TEST_TMP/known_hosts.good" "$HOME/.ssh/known_hosts"

# A key the server does not know: login denied, exit 4, the fix named.
ssh-keygen -q -t ed25519 -N '' -f "$TEST_TMP/stranger"
expect_ok remote modify origin identity "$TEST_TMP/stranger" --local
MLO_REMOTE_RETRIES=0 expect_rc 4 pull
expect_err_contains "authorized_keys"
expect_ok remote modify origin identity --unset --local

# A password in an ssh URL is refused; nothing listens: exit 4 naming the host.
expect_rc 2 remote add pw "ssh://me:secret@127.0.0.1/x"
expect_err_contains "refusing to store"
dead=$(free_port)
expect_ok remote add dead "ssh://127.0.0.1:$dead/x"
MLO_REMOTE_RETRIES=0 expect_rc 4 pull -r dead
expect_err_contains "127.0.0.1:$dead"
