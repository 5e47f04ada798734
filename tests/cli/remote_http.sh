#!/usr/bin/env bash
# HTTP remotes against a real WebDAV server (nginx + dav_ext) with bearer
# auth: round trip between clones, and wrong/missing credentials (exit 4).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote.sh"

DAV_TOKEN=sekrit-token-123
start_nginx_dav
new_repo a
make_data
expect_ok remote add web "http://127.0.0.1:$DAV_PORT/store/mlo" --default
expect_ok remote modify web auth bearer
git add -A && git commit -qm "remote"
grep -q "$DAV_TOKEN" .mlo/config.yaml && fail "token leaked into config"

# No token in the environment: a clear error before any request.
expect_rc 4 push
expect_err_contains "MLO_HTTP_TOKEN is not set"
# A wrong token: the server's 401, exit 4.
MLO_HTTP_TOKEN=wrong expect_rc 4 push
expect_err_contains "HTTP 401"
export MLO_HTTP_TOKEN=$DAV_TOKEN
expect_ok push
expect_out_contains "Pushed 42 objects"
ls "$TEST_TMP/dav/store/mlo/packs/"*.idx >/dev/null 2>&1 || fail "no pack index on the server"
pass
expect_ok --json push
# A no-op push looks only at big.bin: data/small's folder was recorded as
# pushed in full, so its 40 files are not looked at again.
expect_json "d['objects'] == 0 and d['up_to_date'] == 1 and d['known_files'] == 40"

cd "$TEST_TMP" && git clone -q a b && cd b
expect_ok --json pull
expect_json "d['objects'] == 42 and d['missing'] == [] and len(d['checkout']['updated']) == 41"
expect_same_data "$TEST_TMP/a" "$TEST_TMP/b"

# Only the paths asked for.
cd "$TEST_TMP" && git clone -q a c && cd c
expect_ok pull data/big.bin
expect_file data/big.bin
expect_no_file data/small/1.txt
expect_rc 3 pull data/nope
expect_err_contains "data/nope"

# A server that is not there: exit 4, a message naming it.
dead=$(free_port)
expect_ok remote add dead "http://127.0.0.1:$dead/x"
MLO_REMOTE_RETRIES=1 expect_rc 4 fetch -r dead data/small
expect_err_contains "127.0.0.1:$dead"
done_testing
