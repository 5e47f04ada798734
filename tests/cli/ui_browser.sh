#!/usr/bin/env bash
# mlo ui in a real browser: Debian's chromium, driven by npm playwright-core
# (tests/browser/ui.js), against `mlo ui` on a generated repo. Pages load with
# no console errors, the runs table filters and sorts, a comparison shows both
# runs' curves, the experiments table sorts and compares, the lineage graph
# has the expected nodes. Screenshots are kept
# in $MLO_BUILD_DIR/test-artifacts/ui_browser/ (they stay after the test).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ui.sh"
SRC="${MLO_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
# The tools are test dependencies (make deps installs them): missing is a failure, not a skip.
[ -x "$CHROMIUM" ] || fail "no $CHROMIUM: install Debian's chromium (make deps; .ci/debian-packages.txt)"
[ -d "$SRC/tests/tools/node_modules/playwright-core" ] || fail "no playwright-core in tests/tools/node_modules: run make deps"
command -v node >/dev/null || fail "no node: install nodejs (make deps)"

make_ui_repo
start_ui
shots="${MLO_BUILD_DIR:-$TEST_TMP}/test-artifacts/ui_browser"
rm -rf "$shots" && mkdir -p "$shots"
expect=$(printf '{"run_a":"%s","run_b":"%s","model":"churn@v0.0.1","total_runs":3}' "$RUN_A" "$RUN_B")
CHROMIUM="$CHROMIUM" timeout 120 node "$SRC/tests/browser/ui.js" "$UI_URL" "$shots" "$expect" >"$TEST_TMP/browser.out" 2>&1
rc=$?
cat "$TEST_TMP/browser.out"
[ "$rc" = 0 ] || fail "browser checks failed (rc $rc); screenshots in $shots"
CHECKS=$((CHECKS + $(grep -c '^ok: ' "$TEST_TMP/browser.out")))
for s in runs runs-filtered compare experiments lineage run models model audit plots deployments monitors; do expect_file "$shots/$s.png"; done
done_testing
