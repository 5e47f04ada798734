#!/usr/bin/env bash
# mlo gc --remote on a WebDAV remote (nginx with dav_ext): the trash works
# there too (a mistaken narrow gc, restore, empty trash: lib_remote_gc.sh),
# upload times come from PROPFIND's getlastmodified, and killed pushes'
# leftovers (a pack without its index, a hidden temp file such as Apache's
# .davfs.tmp*) go to the trash once older than 24 h; fresh ones stay.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote.sh"
source "$(dirname "$0")/lib_remote_gc.sh"

start_nginx_dav
DAV="$TEST_TMP/dav/team"
add_gc_remote() {
  expect_ok remote add r "http://127.0.0.1:$DAV_PORT/team" --default
  git add -A && git commit -qm "remote" || fail "commit remote"
}
remote_keys() { (cd "$DAV/$1" 2>/dev/null && ls -A | sort); }

gc_setup
gc_scenario_prompt_and_tag
gc_scenario_narrow_then_restore

cd "$TEST_TMP/a"
now=$(date +%s)
old_id="$((now - 3 * 86400))-00000000000000aa"
new_id="$now-00000000000000bb"
# What a killed push (or a killed WebDAV server) leaves, planted in the
# served folder with the times it would have.
echo partial >"$DAV/packs/.davfs.tmp4Xz9" && touch -d '3 days ago' "$DAV/packs/.davfs.tmp4Xz9"
echo orphan >"$DAV/packs/$old_id.pack" && touch -d '3 days ago' "$DAV/packs/$old_id.pack"
echo partial >"$DAV/packs/.davfs.tmpFresh"
echo orphan >"$DAV/packs/$new_id.pack"
expect_ok --json gc --remote r --grace 0 --dry-run
expect_json "set(d['debris']) == {'packs/$old_id.pack', 'packs/.davfs.tmp4Xz9'} and d['versioning'] == 'unknown'"
expect_json "d['uploads_listed'] is False"
expect_file "$DAV/packs/$old_id.pack"
expect_ok --json gc --remote r --grace 0 --yes
expect_json "d['debris_moved'] == 2 and d['trash'] != ''"
expect_no_file "$DAV/packs/$old_id.pack"
expect_no_file "$DAV/packs/.davfs.tmp4Xz9"
expect_file "$DAV/packs/$new_id.pack"
expect_file "$DAV/packs/.davfs.tmpFresh"
# In the trash (kept for the retention), never restored: they are unreadable.
trash=$(remote_keys trash)
[[ "$trash" == *"_$old_id.pack"* && "$trash" == *"_.davfs.tmp4Xz9"* ]] || fail "debris not in the trash: $trash"
pass
expect_ok --json gc --remote r --restore
expect_no_file "$DAV/packs/$old_id.pack"
expect_eq "$(clone_pull_rc c9 main)" "0" "pull of main after the debris gc"
expect_ok --json gc --remote r --empty-trash --retention 0 --yes
expect_eq "$(remote_keys trash)" "" "trash after --empty-trash --retention 0"
done_testing
