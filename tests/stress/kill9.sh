#!/usr/bin/env bash
# kill -9 harness (issue 11): random SIGKILLs during 'mlo data add',
# 'mlo data checkout', 'mlo pull' and 'mlo push' (directory remote). After
# each kill: 'mlo fsck' passes, 'mlo data status' answers, no temp file is
# left inside tracked data, the re-run succeeds, and the bytes are right.
# MLO_STRESS_KILLS (default 20) sets the kills per command.
source "$(dirname "$0")/../cli/lib.sh"
source "$(dirname "$0")/lib_kill9.sh"

new_repo a
expect_ok remote add origin "$TEST_TMP/remote" --default
make_data data 0
expect_ok data add data
git add -A && git commit -qm v0 || fail "commit"

# ---- add: the folder changes each round -----------------------------------
max=$(duration_of data add data)
for round in $(seq 1 "$KILLS"); do
  printf 'round %s\n' "$round" >>data/f1.txt
  head -c 5000 /dev/urandom >"data/sub/new$round.bin"
  kill_during add "$max" data add data
  after_kill add data
  # A kill while libgit2 writes git's index leaves .git/index.lock, as a
  # killed `git add` does: the next add names it and the way out.
  if [ -e .git/index.lock ]; then
    expect_rc 3 data add data
    expect_err_contains "index.lock"
    expect_err_contains "remove the .lock file"
    rm .git/index.lock
  fi
  expect_ok data add data
  expect_ok data status --exit-code
done
rm -rf "$TEST_TMP/expect" && cp -a data "$TEST_TMP/expect"
rm -rf data && expect_ok data checkout
diff -r data "$TEST_TMP/expect" >/dev/null || fail "add: checkout after the kills differs from the data added"
pass
git add -A && git commit -qm v1 || fail "commit v1"
expect_ok push

# ---- checkout: switch between two versions --------------------------------
cp -a data "$TEST_TMP/v1"
make_data data 2
expect_ok data add data
git add -A && git commit -qm v2 || fail "commit v2"
cp -a data "$TEST_TMP/v2"
git checkout -q HEAD~1 -- data.mlo || fail "git checkout of the pointer"
max=$(duration_of data checkout)  # a real switch, v2 -> v1
for round in $(seq 1 "$KILLS"); do
  want=v$((round % 2 + 1))
  git checkout -q "HEAD$([ "$want" = v1 ] && echo '~1')" -- data.mlo || fail "git checkout of the pointer"
  kill_during checkout "$max" data checkout
  after_kill checkout data
  expect_ok data checkout
  diff -r data "$TEST_TMP/$want" >/dev/null || fail "checkout round $round: data differs from $want"
  pass
done
git checkout -q HEAD -- data.mlo && expect_ok data checkout
expect_ok push

# ---- pull: a fresh clone's cache and data each round ----------------------
cd "$TEST_TMP" && git clone -q a b && cd b || fail "clone"
max=$(duration_of pull)
for round in $(seq 1 "$KILLS"); do
  rm -rf .mlo/cache data
  kill_during pull "$max" pull
  after_kill pull data missing-ok
  expect_ok pull
  diff -r data "$TEST_TMP/v2" >/dev/null || fail "pull round $round: data differs"
  pass
done

# ---- push: new data each round, pushed from a ----------------------------
cd "$TEST_TMP/a" || fail "cd a"
mkdir -p more/r0 && head -c 2500000 /dev/urandom >more/r0/big.bin
expect_ok data add more/r0
max=$(duration_of push)  # a push with new data
for round in $(seq 1 "$KILLS"); do
  mkdir -p "more/r$round" && head -c 40000 /dev/urandom >"more/r$round/x.bin"
  head -c 2500000 /dev/urandom >"more/r$round/big.bin"
  expect_ok data add "more/r$round"
  kill_during push "$max" push
  after_kill push data
  expect_ok push
done
git add -A && git commit -qm more || fail "commit more"
cd "$TEST_TMP" && git clone -q a c && cd c || fail "clone c"
expect_ok pull
diff -r more "$TEST_TMP/a/more" >/dev/null || fail "push: a fresh clone pulled different bytes"
pass
expect_ok data status --exit-code

print_counts add checkout pull push
done_testing
