# Shared helpers for the CLI tests. Each test script sources this, builds
# temporary git repos under $TEST_TMP, runs the real mlo, and checks exit
# codes, output and files. Any failed check ends the script with status 1.
set -uo pipefail

: "${MLO:?MLO must point at the built mlo binary}"
MLO=$(readlink -f "$MLO")
TEST_NAME=$(basename "${BASH_SOURCE[1]:-$0}" .sh)
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mlo-test-$TEST_NAME.XXXXXX")
export HOME="$TEST_TMP/home"
mkdir -p "$HOME"
export GIT_AUTHOR_NAME="Test Author" GIT_AUTHOR_EMAIL="author@example.com"
export GIT_COMMITTER_NAME="Test Author" GIT_COMMITTER_EMAIL="author@example.com"
export GIT_CONFIG_NOSYSTEM=1 NO_COLOR=1
unset CI GITHUB_ACTIONS GITHUB_OUTPUT GITHUB_STEP_SUMMARY
git config --global init.defaultBranch main
git config --global user.name "Test Author"
git config --global user.email "author@example.com"
CHECKS=0
FAILS=0

cleanup() { [ -n "${KEEP_TMP:-}" ] || rm -rf "$TEST_TMP"; }
trap cleanup EXIT

fail() {
  echo "FAIL [$TEST_NAME]: $*" >&2
  FAILS=$((FAILS + 1))
  exit 1
}
pass() { CHECKS=$((CHECKS + 1)); }

# mlo ARGS... : runs mlo, capturing stdout in $OUT, stderr in $ERR, status in $RC.
run_mlo() {
  local o e
  o=$(mktemp "$TEST_TMP/out.XXXX"); e=$(mktemp "$TEST_TMP/err.XXXX")
  "$MLO" "$@" >"$o" 2>"$e"
  RC=$?
  OUT=$(cat "$o"); ERR=$(cat "$e")
  rm -f "$o" "$e"
}

# expect_rc CODE ARGS... : runs mlo and checks its exit status.
expect_rc() {
  local want=$1; shift
  run_mlo "$@"
  [ "$RC" = "$want" ] || fail "mlo $* exited $RC, expected $want
stdout: $OUT
stderr: $ERR"
  pass
}
expect_ok() { expect_rc 0 "$@"; }

expect_out_contains() { [[ "$OUT" == *"$1"* ]] || fail "stdout lacks '$1':
$OUT"; pass; }
expect_err_contains() { [[ "$ERR" == *"$1"* ]] || fail "stderr lacks '$1':
$ERR"; pass; }
expect_out_not_contains() { [[ "$OUT" != *"$1"* ]] || fail "stdout unexpectedly has '$1':
$OUT"; pass; }
expect_file() { [ -e "$1" ] || fail "missing file $1"; pass; }
expect_no_file() { [ ! -e "$1" ] && [ ! -L "$1" ] || fail "file should not exist: $1"; pass; }
expect_eq() { [ "$1" = "$2" ] || fail "${3:-values differ}: got '$1', expected '$2'"; pass; }
expect_same_file() { cmp -s "$1" "$2" || fail "files differ: $1 $2"; pass; }
# expect_json EXPR : evaluates a jq-free check with python over $OUT.
expect_json() {
  printf '%s' "$OUT" | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($1) else 1)" \
    || fail "JSON check failed: $1
$OUT"
  pass
}

# new_repo NAME : a fresh git repo with mlo initialised; cd into it.
new_repo() {
  local dir="$TEST_TMP/${1:-repo}"
  mkdir -p "$dir" && cd "$dir" || fail "cannot create $dir"
  git init -q . || fail "git init"
  "$MLO" init -q || fail "mlo init failed in $dir"
  git commit -qm "init mlo" || fail "git commit"
}

# on_tty ARGS... : runs mlo under a pseudo-terminal made by script(1);
# OUT = all it wrote there (stdout and stderr together).
on_tty() {
  local cmd="'$MLO'" a
  for a in "$@"; do cmd+=" '$a'"; done
  OUT=$(script -qfec "$cmd" /dev/null </dev/null) || fail "mlo $* failed under a terminal: $OUT"
}

# skip REASON : ends the test as skipped (ctest shows it as such).
skip() { echo "SKIP [$TEST_NAME]: $*"; exit 77; }
# True in an AddressSanitizer/UBSan build (make test-asan), whose runtime makes
# system calls of its own (mmap, madvise, futex, sigaltstack): totals of an
# mlo's system calls mean nothing there; counts of specific calls still do.
sanitized_build() { grep -qE '^MLO_SANITIZE:STRING=.+' "${MLO_BUILD_DIR:-}/CMakeCache.txt" 2>/dev/null; }

done_testing() { echo "ok [$TEST_NAME]: $CHECKS checks passed"; exit 0; }

# last_run STAGE : the id of the stage's newest run.
last_run() {
  "$MLO" -q --json runs ls --stage "$1" -n 1 | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])'
}
