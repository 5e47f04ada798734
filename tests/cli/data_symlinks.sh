#!/usr/bin/env bash
# A committed symbolic link at a tracked path, or at a folder inside tracked
# data, must never make 'mlo pull' or 'mlo data checkout --force' write or
# delete anything outside the repository (issue 11). Sentinel folders outside
# the repo are compared byte for byte after each attempt.
source "$(dirname "$0")/lib.sh"

OUTSIDE="$TEST_TMP/outside"
make_sentinel() {
  rm -rf "$OUTSIDE" && mkdir -p "$OUTSIDE/sub"
  echo "precious" >"$OUTSIDE/keep.txt"
  echo "also precious" >"$OUTSIDE/sub/b.txt"
  echo "old" >"$OUTSIDE/a.txt"
  (cd "$OUTSIDE" && find . -type f | sort | xargs sha256sum) >"$TEST_TMP/sentinel.sum"
}
expect_sentinel_intact() {
  local now
  now=$(cd "$OUTSIDE" && find . -type f | sort | xargs sha256sum)
  expect_eq "$now" "$(cat "$TEST_TMP/sentinel.sum")" "files outside the repository changed ($1)"
}

# The honest side: a tracked folder pushed to a directory remote.
new_repo team
mkdir -p data/sub && echo "new a" >data/a.txt && echo "new b" >data/sub/b.txt
expect_ok remote add origin "$TEST_TMP/remote" --default
expect_ok data add data
git add -A && git commit -qm "track data" || fail "commit"
expect_ok push
git clone -q --bare . "$TEST_TMP/origin.git" || fail "bare clone"
git remote add origin "$TEST_TMP/origin.git" && git push -q origin main || fail "git push"

# 1. mlo data checkout --force with the tracked folder replaced by a link out.
make_sentinel
rm -rf data && ln -s "$OUTSIDE" data
expect_rc 3 data checkout --force
expect_err_contains "'data' is a symbolic link"
expect_err_contains "nothing was changed"
expect_sentinel_intact "checkout --force through the tracked folder"
rm data

# 2. The same with a link at a folder inside the tracked data.
expect_ok data checkout
rm -rf data/sub && ln -s "$OUTSIDE" data/sub
expect_rc 3 data checkout --force
expect_err_contains "'data/sub' is a symbolic link"
expect_sentinel_intact "checkout --force through a folder inside"
rm data/sub && expect_ok data checkout
expect_eq "$(cat data/sub/b.txt)" "new b" "checkout after the link was removed"

# 3. A hostile teammate commits the link; the victim runs git pull + mlo pull.
cd "$TEST_TMP" && git clone -q origin.git victim && git clone -q origin.git hostile || fail "clones"
cd "$TEST_TMP/hostile" && ln -s "$OUTSIDE" data && git add -f data && git commit -qm "link" && git push -q origin main ||
  fail "hostile commit"
make_sentinel
cd "$TEST_TMP/victim" && git pull -q origin main || fail "victim git pull"
[ -L data ] || fail "the test expects git to have created the link"
expect_rc 3 pull
expect_err_contains "'data' is a symbolic link"
expect_sentinel_intact "mlo pull through a committed link at the tracked folder"
expect_rc 3 pull --force
expect_sentinel_intact "mlo pull --force through a committed link"

# 4. The link committed at a folder inside tracked data.
cd "$TEST_TMP/hostile" && git rm -q --cached data && rm data && mkdir data && ln -s "$OUTSIDE" data/sub &&
  git add -f data/sub && git commit -qm "inner link" && git push -q origin main || fail "hostile inner link"
make_sentinel
cd "$TEST_TMP/victim" && git pull -q origin main || fail "victim git pull 2"
[ -L data/sub ] || fail "the test expects git to have created data/sub as a link"
expect_rc 3 pull --force
expect_err_contains "'data/sub' is a symbolic link"
expect_sentinel_intact "mlo pull through a committed link inside the tracked folder"

done_testing
