#!/usr/bin/env bash
# mlo gc --remote on a WebDAV remote (nginx with dav_ext): the trash works
# there too (a mistaken narrow gc, restore, empty trash: lib_remote_gc.sh),
# upload times come from PROPFIND's getlastmodified, and a killed push's
# pack without its index goes to the trash once older than 24 h; a fresh one
# stays. (nginx's PROPFIND hides dot files, and nginx writes request bodies
# outside the served tree, so hidden temp files are never seen here; the
# S3 test covers them, through the same listing code.)
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
# What a killed push leaves, planted in the served folder with the times it
# would have.
echo orphan >"$DAV/packs/$old_id.pack" && touch -d '3 days ago' "$DAV/packs/$old_id.pack"
echo orphan >"$DAV/packs/$new_id.pack"
expect_ok --json gc --remote r --grace 0 --dry-run
expect_json "d['debris'] == ['packs/$old_id.pack'] and d['versioning'] == 'unknown' and d['uploads_listed'] is False"
expect_file "$DAV/packs/$old_id.pack"
expect_ok --json gc --remote r --grace 0 --yes
expect_json "d['debris_moved'] == 1 and d['trash'] != ''"
expect_no_file "$DAV/packs/$old_id.pack"
expect_file "$DAV/packs/$new_id.pack"
# In the trash (kept for the retention), never restored: it is unreadable.
expect_eq "$(remote_keys trash | grep -c "_$old_id.pack\$")" "1" "the orphan pack in the trash"
expect_ok --json gc --remote r --restore
expect_no_file "$DAV/packs/$old_id.pack"
expect_eq "$(clone_pull_rc c9 main)" "0" "pull of main after the debris gc"
expect_ok --json gc --remote r --empty-trash --retention 0 --yes
expect_eq "$(remote_keys trash)" "" "trash after --empty-trash --retention 0"
done_testing
