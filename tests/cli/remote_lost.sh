#!/usr/bin/env bash
# A remote that lost data is never reported complete (issue 11): a chunk
# pack deleted after push makes the large object absent for data status
# --remote, push re-sends it, and fsck --remote / push --verify find it. A
# server that acknowledges a PUT it did not store (or stored in part) is
# caught by push's size check and the blob is sent again.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote.sh"

new_repo a
make_data
expect_ok remote add origin "$TEST_TMP/remote" --default
git add -A && git commit -qm remote
expect_ok push
expect_ok fsck --remote origin
expect_out_contains "all present and intact"
expect_ok push --verify

# The store loses the pack holding big.bin's chunks (the largest pack);
# its index and big.bin's recipe survive.
big_pack=$(ls -S "$TEST_TMP"/remote/packs/*.pack | head -1)
rm -f "$big_pack"
big_hash=$(grep -o '[0-9a-f]\{64\}' data/big.bin.mlo | head -1)
[ ${#big_hash} = 64 ] || fail "cannot read big.bin's hash from its pointer"

expect_rc 1 --json data status --remote --exit-code
expect_json "[e for e in d['entries'] if e['path'] == 'data/big.bin'][0]['missing_remote'] == 1"
expect_rc 1 fsck --remote origin
expect_out_contains "missing $big_hash"
expect_out_contains "needed by data/big.bin.mlo"
expect_err_contains "run 'mlo push' from a clone that has it"
expect_rc 1 --json fsck --remote origin
expect_json "not d['ok'] and '$big_hash' in [m['object'] for m in d['missing']]"
expect_rc 2 fsck --remote origin --repair
expect_err_contains "--repair does not apply"

# push repairs it: the object is sent again (chunks and recipe).
expect_ok --json push
expect_json "d['objects'] >= 1 and d['chunks'] >= 1"
expect_ok data status --remote --exit-code
expect_ok fsck --remote origin
cd "$TEST_TMP" && git clone -q a b && cd b
expect_ok pull
expect_same_data "$TEST_TMP/a" "$TEST_TMP/b"

# Damaged bytes (same size): presence is fine, the download-and-hash check is not.
cd "$TEST_TMP/a"
for p in "$TEST_TMP"/remote/packs/*.pack; do
  chmod u+w "$p"
  /usr/bin/python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2]^=0xff; open(p,"wb").write(b)' "$p"
done
expect_rc 1 push --verify
expect_out_contains "damaged"
expect_err_contains "remove them from the remote"
expect_rc 1 --json fsck --remote origin
expect_json "not d['ok'] and len(d['damaged']) >= 1"

# A lying WebDAV server: PUTs acknowledged but not stored, or stored in part.
start_nginx_dav
start_fault_proxy "$DAV_PORT"
cd "$TEST_TMP/a"
expect_ok remote add dav "http://127.0.0.1:$PROXY_PORT/r"
git add -A && git commit -qm dav
echo "put-drop" >"$FAULTS"
expect_ok push -r dav -j 1
expect_err_contains "but holds nothing; sending it again"
expect_eq "$(cat "$FAULTS")" "" "fault left unused"
expect_ok fsck --remote dav
cd "$TEST_TMP" && git clone -q a c && cd c
expect_ok pull -r dav
expect_same_data "$TEST_TMP/a" "$TEST_TMP/c"
# A server that never keeps a PUT: a clear error (exit 4), not a success.
cd "$TEST_TMP/a"
echo "more" >data/small/more.txt
"$MLO" -q data add data/small || fail "add more"
echo "put-drop,put-drop,put-drop,put-drop" >"$FAULTS"
expect_rc 4 push -r dav -j 1
expect_err_contains "holds nothing"
: >"$FAULTS"
expect_ok push -r dav
expect_ok fsck --remote dav
# A PUT stored in part: caught by its size, sent again.
echo "even more" >data/small/more2.txt
"$MLO" -q data add data/small || fail "add more"
echo "put-half" >"$FAULTS"
expect_ok push -r dav -j 1
expect_err_contains "but holds"
expect_eq "$(cat "$FAULTS")" "" "fault left unused"
expect_ok fsck --remote dav
cd "$TEST_TMP" && rm -rf c && git -C a commit -qam more && git clone -q a c && cd c
expect_ok pull -r dav
expect_same_data "$TEST_TMP/a" "$TEST_TMP/c"
done_testing
