#!/usr/bin/env bash
# The hooks in .pre-commit-hooks.yaml, run by the real pre-commit framework
# against this source tree (pre-commit try-repo), in a real git repository.
source "$(dirname "$0")/lib.sh"
command -v pre-commit >/dev/null || skip "pre-commit is not installed (Debian package pre-commit)"
: "${MLO_SOURCE_DIR:?}"
git -C "$MLO_SOURCE_DIR" rev-parse HEAD >/dev/null 2>&1 || skip "the source tree is not a git checkout"
export PATH="$(dirname "$MLO"):$PATH"
export PRE_COMMIT_HOME="$TEST_TMP/pre-commit-cache"

new_repo project
echo "id,value" > train.csv
for i in $(seq 1 50); do echo "$i,$((i * 7))" >> train.csv; done
expect_ok data add train.csv
git commit -qm "track data"

# Clean data: both hooks pass.
pre-commit try-repo "$MLO_SOURCE_DIR" mlo-data-status --all-files >"$TEST_TMP/pc.out" 2>&1 \
  || fail "mlo-data-status failed on clean data: $(cat "$TEST_TMP/pc.out")"
pass
pre-commit try-repo "$MLO_SOURCE_DIR" mlo-pointers --all-files >"$TEST_TMP/pc.out" 2>&1 \
  || fail "mlo-pointers failed on valid pointers: $(cat "$TEST_TMP/pc.out")"
pass

# Data changed but not recorded: the commit hook refuses and says what changed.
echo "51,357" >> train.csv
if pre-commit try-repo "$MLO_SOURCE_DIR" mlo-data-status --all-files >"$TEST_TMP/pc.out" 2>&1; then
  fail "mlo-data-status passed with modified data"
fi
grep -q "modified:.*train.csv" "$TEST_TMP/pc.out" || fail "hook output does not name train.csv: $(cat "$TEST_TMP/pc.out")"
pass

# After `mlo data commit` it passes again.
expect_ok data commit train.csv
pre-commit try-repo "$MLO_SOURCE_DIR" mlo-data-status --all-files >"$TEST_TMP/pc.out" 2>&1 \
  || fail "mlo-data-status failed after data commit: $(cat "$TEST_TMP/pc.out")"
pass

# A hand-edited pointer file is caught by mlo-pointers.
sed -i 's/^path: .*/path: ..\/escape/' train.csv.mlo
if pre-commit try-repo "$MLO_SOURCE_DIR" mlo-pointers --all-files >"$TEST_TMP/pc.out" 2>&1; then
  fail "mlo-pointers passed a pointer with path ../escape"
fi
grep -q "train.csv.mlo" "$TEST_TMP/pc.out" || fail "hook output does not name the pointer: $(cat "$TEST_TMP/pc.out")"
pass
git checkout -q -- train.csv.mlo

# A fresh clone that has not pulled the data: not a change, the hook lets the
# commit through; `--pulled` is the check that the data is there.
git add -A && git commit -qm "data v2"
"$MLO" -q remote add origin "$TEST_TMP/store" --default && "$MLO" -q push && git commit -qam "remote"
cd "$TEST_TMP" && git clone -q project clone && cd clone
pre-commit try-repo "$MLO_SOURCE_DIR" mlo-data-status --all-files >"$TEST_TMP/pc.out" 2>&1 \
  || fail "mlo-data-status refused a clone that has not pulled: $(cat "$TEST_TMP/pc.out")"
pass
expect_ok data status --exit-code
expect_out_contains "mlo pull"
expect_out_not_contains "deleted"
expect_rc 1 data status --exit-code --pulled
expect_ok pull
expect_ok data status --exit-code --pulled
# Once pulled, removing the file is a change again.
rm train.csv
expect_rc 1 data status --exit-code
expect_out_contains "deleted:    train.csv"

done_testing
