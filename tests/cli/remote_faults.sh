#!/usr/bin/env bash
# Fault injection between mlo and a real WebDAV server (nginx), through
# tests/cli/fault_proxy.py: connection resets, 500/503/429, slow answers,
# truncated and corrupted bodies. mlo retries and verifies; it succeeds, or
# fails with a clear error (exit 4) and a cache holding only good objects.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote.sh"

start_nginx_dav
start_fault_proxy "$DAV_PORT"

new_repo a
make_data
expect_ok remote add flaky "http://127.0.0.1:$PROXY_PORT/r" --default
git add -A && git commit -qm remote

# Push through resets and server errors: retried, succeeds.
echo "reset,500,503,429,slow,reset" >"$FAULTS"
expect_ok --json push -j 2
expect_json "d['objects'] == 42"
expect_eq "$(cat "$FAULTS")" "" "faults left unused"

# Pull through corrupted, truncated and failed answers: verified, retried.
cd "$TEST_TMP" && git clone -q a b && cd b
echo "get-corrupt,get-truncate,reset,503,get-corrupt,get-truncate" >"$FAULTS"
expect_ok pull -j 2
expect_same_data "$TEST_TMP/a" "$TEST_TMP/b"
expect_cache_consistent

# A range answered corrupt in its second half: the blobs before the bad one
# are kept, the range is asked again, the pull
# completes (here the files' range: 13 of its 24 blobs handed on before the
# retry). The first pack read (the folder object) passes untouched.
cd "$TEST_TMP" && git clone -q a t && cd t
echo "pack-pass,pack-corrupt-tail" >"$FAULTS"
expect_ok --json pull -j 1
expect_eq "$(cat "$FAULTS")" "" "faults left unused"
pulled_objects=$(printf '%s' "$OUT" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['objects'])")
expect_same_data "$TEST_TMP/a" "$TEST_TMP/t"
expect_cache_consistent
cd "$TEST_TMP" && git clone -q a t2 && cd t2
expect_ok --json pull -j 1
expect_json "d['objects'] == $pulled_objects"

# A remote that always answers corrupt data: a clear error, exit 4, no bad
# object in the cache, the workspace untouched; a re-run later succeeds.
cd "$TEST_TMP" && git clone -q a c && cd c
echo "always-corrupt" >"$FAULTS"
expect_rc 4 pull
expect_err_contains "corrupt"
expect_cache_consistent
expect_no_file data/big.bin
: >"$FAULTS"
expect_ok pull
expect_same_data "$TEST_TMP/a" "$TEST_TMP/c"

# An interrupted push (the server fails for good mid-way) re-run sends
# only what is missing.
cd "$TEST_TMP/a"
for i in $(seq 1 30); do echo "more $i" >"data/small/more$i.txt"; done
"$MLO" -q data add data/small && git commit -qam more || fail "add more"
echo "500,500,500,500,500,500,500,500,500,500,500,500" >"$FAULTS"
MLO_REMOTE_RETRIES=1 expect_rc 4 push -j 1
: >"$FAULTS"
expect_ok --json push
expect_json "d['objects'] == 31 and d['up_to_date'] == 41"
done_testing
