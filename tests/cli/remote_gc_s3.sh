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
done_testing
