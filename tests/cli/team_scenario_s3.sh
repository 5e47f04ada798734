#!/usr/bin/env bash
# The team lifecycle in two clones with an S3 remote (s3rver; lib_team.sh).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote.sh"
source "$(dirname "$0")/lib_deploy.sh"
source "$(dirname "$0")/lib_team.sh"
trap 'stop_servers; deploy_cleanup' EXIT

start_s3rver team-bucket
add_team_remote() {
  expect_ok remote add team s3://team-bucket/ml --default
  expect_ok remote modify team endpoint "$S3_ENDPOINT"
  git add -A && git commit -qm "remote" || fail "commit remote"
}
team_scenario
done_testing
