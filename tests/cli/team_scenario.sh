#!/usr/bin/env bash
# The team lifecycle in two clones with a directory remote (lib_team.sh).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"
source "$(dirname "$0")/lib_team.sh"

add_team_remote() {
  expect_ok remote add team "$TEST_TMP/store" --default
  git add -A && git commit -qm "remote" || fail "commit remote"
}
team_scenario
done_testing
