#!/usr/bin/env bash
# The on_remote promotion gate asks the default remote's pack index: refused
# with a reason when no remote is set up or the artifact is not pushed yet,
# passed once `mlo push` sent it.
source "$(dirname "$0")/lib.sh"
new_repo project
mkdir -p models
head -c 4096 /dev/urandom > models/model.bin
cat > mlo.yaml <<'YAML'
registry:
  stages:
    production:
      gates:
        on_remote: true
YAML
expect_ok data add models/model.bin
git add -A && git commit -qm "registry gates, tracked model"
expect_ok register m models/model.bin --version v1.0.0

# No default remote: the gate cannot tell, so it refuses and says why.
expect_rc 1 promote m@v1.0.0 --to production
expect_out_contains "remote"
expect_ok --json models show m
expect_json "not any(s.get('stage') == 'production' for s in (d.get('stages') or []))"

# A remote that lacks the artifact: refused.
expect_ok remote add store "$TEST_TMP/remote-store" --default
git add -A && git commit -qm "remote"
expect_rc 1 promote m@v1.0.0 --to production

# Push the artifact: the gate passes.
expect_ok push
expect_ok promote m@v1.0.0 --to production
expect_ok --json models show 'm#production'
expect_json "d.get('version') == 'v1.0.0'"

done_testing
