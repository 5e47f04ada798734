#!/usr/bin/env bash
# Hostile or damaged input to the data commands (issue 11): each is a clear
# exit 3 naming the problem, never exit 70 ("internal error"), and no error
# message echoes a whole document.
source "$(dirname "$0")/lib.sh"

new_repo h
mkdir -p data && echo a >data/a.txt
expect_ok data add data
git add -A && git commit -qm data || fail "commit"

# store_object FILE : puts FILE's bytes in the cache under their hash; prints it.
store_object() {
  local h
  h=$(sha256sum "$1" | cut -d' ' -f1)
  mkdir -p ".mlo/cache/objects/${h:0:2}" && cp "$1" ".mlo/cache/objects/${h:0:2}/${h:2}"
  echo "$h"
}
# point_data_at HASH : makes data.mlo name that manifest.
point_data_at() {
  printf 'version: 1\npath: data\ntype: dir\nsha256: %s\nsize: 2\nfiles: 1\n' "$1" >data.mlo
}

# A deeply nested manifest: refused before parsing, short message.
/usr/bin/python3 -c "print('[' * 200000 + ']' * 200000)" >"$TEST_TMP/deep.json"
point_data_at "$(store_object "$TEST_TMP/deep.json")"
expect_rc 3 data ls data
expect_err_contains "nested more than 64 levels"
[ ${#ERR} -lt 2000 ] || fail "the error echoes the document (${#ERR} bytes)"
pass
rm -rf data && expect_rc 3 data checkout
expect_err_contains "nested more than"

# version: 1.777e20 (a float cast to int would be undefined behaviour).
echo '{"version":1.777e20,"files":[]}' >"$TEST_TMP/v.json"
point_data_at "$(store_object "$TEST_TMP/v.json")"
expect_rc 3 data ls data
expect_err_contains "not a version 1 manifest"

# A malformed entry with a huge value: named by its number, not dumped.
/usr/bin/python3 -c "import json; print(json.dumps({'version':1,'files':[{'path':'x','sha256':'a'*64,'size':'9'*100000}]}))" \
  >"$TEST_TMP/big.json"
point_data_at "$(store_object "$TEST_TMP/big.json")"
expect_rc 3 data ls data
expect_err_contains "entry 1"
[ ${#ERR} -lt 2000 ] || fail "the error echoes the entry (${#ERR} bytes)"
pass

# A manifest entry that leaves its folder.
echo "{\"version\":1,\"files\":[{\"path\":\"../../escape\",\"sha256\":\"$(printf a%.0s {1..64})\",\"size\":1}]}" \
  >"$TEST_TMP/esc.json"
point_data_at "$(store_object "$TEST_TMP/esc.json")"
expect_rc 3 data checkout --force
expect_err_contains "unsafe path"
expect_no_file "$TEST_TMP/escape"
git checkout -q -- data.mlo && expect_ok data checkout --force

# A file name that is not valid UTF-8: refused at add time, by name.
bad=$(printf 'bad\377.txt')
echo x >"$bad"
expect_rc 3 data add "$bad"
expect_err_contains 'bad\xff.txt'
expect_err_contains "not valid UTF-8"
expect_no_file "$bad.mlo"
mkdir -p other && echo y >"other/$bad"
expect_rc 3 data add other
expect_err_contains "not valid UTF-8"
expect_no_file other.mlo

# ... and --json output that meets such a name in a tracked folder never fails,
# also where a status found the folder complete before and compares it
# folder by folder (a name that is not UTF-8 has no folder object).
expect_ok data status --exit-code
echo z >"data/$bad"
expect_rc 0 --json data status
expect_json "any('bad' in a for e in d['entries'] for a in e['added'])"
rm -f "data/$bad"
expect_ok --json data ls

# A file name with a control character can not be tracked either.
nl=$(printf 'new\nline.txt')
echo q >"$nl"
expect_rc 3 data add "$nl"
expect_err_contains "control character"

# A lock timeout that does not fit.
printf 'core:\n  lock_timeout: 1e300\n' >>.mlo/config.yaml
expect_rc 3 data checkout
expect_err_contains "core.lock_timeout"
done_testing
