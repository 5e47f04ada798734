#!/usr/bin/env bash
# mlo gc --remote on an S3 remote (s3rver), two clones: the same team
# scenarios as remote_gc.sh (lib_remote_gc.sh), so the upload times come
# from S3's LastModified and the trash lives under the bucket's prefix.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote.sh"
source "$(dirname "$0")/lib_remote_gc.sh"

start_s3rver gc-bucket
add_gc_remote() {
  expect_ok remote add r s3://gc-bucket/team --default
  expect_ok remote modify r endpoint "$S3_ENDPOINT"
  git add -A && git commit -qm "remote" || fail "commit remote"
}
# Keys under a folder of the remote, as s3rver stores them on disk.
remote_keys() {
  (cd "$TEST_TMP/s3data/gc-bucket/team/$1" 2>/dev/null && find . -name '*._S3rver_object' | sort)
}

gc_setup
gc_scenario_prompt_and_tag
gc_scenario_teammate
gc_scenario_registered_model
gc_scenario_narrow_then_restore
gc_scenario_push_races_gc
gc_scenario_last_needed

# Debris of killed pushes (a pack without its index, a hidden temp object),
# planted in s3rver's store as it keeps objects (KEY._S3rver_object, whose
# mtime is the LastModified it lists): old ones go to the trash, fresh stay.
cd "$TEST_TMP/a"
S3DIR="$TEST_TMP/s3data/gc-bucket/team"
now=$(date +%s)
old_id="$((now - 3 * 86400))-00000000000000aa"
new_id="$now-00000000000000bb"
plant() {
  echo "$2" >"$S3DIR/$1._S3rver_object"
  [ -z "${3:-}" ] || touch -d "$3" "$S3DIR/$1._S3rver_object"
}
plant "packs/$old_id.pack" orphan '3 days ago'
plant "packs/.$old_id.pack.tmp.9.0" partial '3 days ago'
plant "packs/$new_id.pack" orphan
# s3rver implements neither ListMultipartUploads nor GetBucketVersioning:
# gc says it could not ask, and goes on.
expect_ok --json gc --remote r --grace 0 --dry-run
expect_json "set(d['debris']) == {'packs/$old_id.pack', 'packs/.$old_id.pack.tmp.9.0'}"
expect_json "d['uploads_listed'] is False and d['versioning'] == 'unknown'"
# It asks once: a 501 (not implemented) is an answer, not a fault to retry
# (five retries made every gc on such a store wait about 4 s).
MLO_HTTP_STATS=1 expect_ok --json gc --remote r --grace 0 --dry-run
expect_err_contains "requests, 0 retries"
expect_ok --json gc --remote r --grace 0 --yes
expect_json "d['debris_moved'] == 2"
expect_no_file "$S3DIR/packs/$old_id.pack._S3rver_object"
expect_no_file "$S3DIR/packs/.$old_id.pack.tmp.9.0._S3rver_object"
expect_file "$S3DIR/packs/$new_id.pack._S3rver_object"
trash=$(remote_keys trash)
[[ "$trash" == *"_$old_id.pack._S3rver_object"* && "$trash" == *"_.$old_id.pack.tmp.9.0._S3rver_object"* ]] ||
  fail "debris not in the trash: $trash"
pass
expect_eq "$(clone_pull_rc c9 main)" "0" "pull of main after the debris gc"

# Abandoned multipart uploads and bucket versioning, through the proxy that
# answers those two calls for s3rver (fault_proxy.py): this checks mlo's
# requests, its reading of the answers and what it aborts, not a server.
start_fault_proxy "$S3_PORT"
expect_ok remote add p s3://gc-bucket/team --local
expect_ok remote modify p endpoint "http://127.0.0.1:$PROXY_PORT" --local
iso() { date -u -d "$1" +%Y-%m-%dT%H:%M:%S.000Z; }
cat >"$FAULTS.uploads" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>gc-bucket</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>
  <MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>
  <Upload><Key>team/packs/$old_id.pack</Key><UploadId>stale-1</UploadId><Initiated>$(iso '3 days ago')</Initiated></Upload>
  <Upload><Key>team/packs/$new_id.pack</Key><UploadId>fresh-1</UploadId><Initiated>$(iso '1 hour ago')</Initiated></Upload>
  <Upload><Key>other/packs/x.pack</Key><UploadId>other-1</UploadId><Initiated>$(iso '3 days ago')</Initiated></Upload>
</ListMultipartUploadsResult>
XML
expect_ok --json gc --remote p --grace 0 --dry-run
expect_json "d['uploads_listed'] and [u['upload_id'] for u in d['stale_uploads']] == ['stale-1']"
expect_json "d['stale_uploads'][0]['key'] == 'packs/$old_id.pack'"
expect_no_file "$FAULTS.aborted"
expect_ok --json gc --remote p --grace 0 --yes
expect_json "d['uploads_aborted'] == 1"
expect_eq "$(cat "$FAULTS.aborted")" "/gc-bucket/team/packs/$old_id.pack?uploadId=stale-1" "the aborted upload"
rm "$FAULTS.uploads"
# Versioning on: gc says so (the trash is used all the same).
echo '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>' >"$FAULTS.versioning"
expect_ok --json gc --remote p --grace 0 --dry-run
expect_json "d['versioning'] == 'enabled'"
expect_ok gc --remote p --grace 0 --dry-run
expect_out_contains "Bucket versioning is on"
# Never enabled: AWS answers an empty configuration.
echo '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>' >"$FAULTS.versioning"
expect_ok --json gc --remote p --grace 0 --dry-run
expect_json "d['versioning'] == 'off'"
done_testing
