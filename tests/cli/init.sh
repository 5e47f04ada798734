#!/usr/bin/env bash
# mlo init, global options, help and version.
source "$(dirname "$0")/lib.sh"

# Outside a git repository: a clear error, exit 3.
mkdir -p "$TEST_TMP/plain" && cd "$TEST_TMP/plain"
expect_rc 3 init
expect_err_contains "not a git repository"
expect_err_contains "mlo init --git"
expect_no_file .mlo

# --git creates both.
expect_ok init --git
expect_out_contains "Initialized empty git repository"
expect_file .git
expect_file .mlo/config.yaml

# -C names a folder that does not exist yet: init --git makes it (like `git init DIR`);
# any other command still refuses a missing folder.
cd "$TEST_TMP"
expect_ok init --git -C new-project
expect_file "$TEST_TMP/new-project/.git"
expect_file "$TEST_TMP/new-project/.mlo/config.yaml"
expect_rc 3 -C "$TEST_TMP/not-there" data status
expect_err_contains "cannot change to directory"
expect_no_file "$TEST_TMP/not-there"

# In a repo, from a subfolder: sets up the work tree root and stages config.
mkdir -p "$TEST_TMP/r1/sub/deeper" && cd "$TEST_TMP/r1" && git init -q .
cd sub/deeper
expect_ok init
expect_out_contains "Initialized mlo in $TEST_TMP/r1/.mlo"
cd "$TEST_TMP/r1"
expect_file .mlo/config.yaml
expect_file .mlo/.gitignore
expect_file .mlo/index.db
expect_file .mlo/cache/objects
staged=$(git diff --cached --name-only | sort | tr '\n' ' ')
expect_eq "$staged" ".mlo/.gitignore .mlo/config.yaml " "staged files"
# The cache and index are ignored by git.
git check-ignore -q .mlo/cache/objects || fail ".mlo/cache is not ignored"
git check-ignore -q .mlo/index.db || fail ".mlo/index.db is not ignored"
pass

# Twice is harmless and keeps a user's edits; --force rewrites config.
echo "custom: 1" >> .mlo/config.yaml
expect_ok init
expect_out_contains "already set up"
grep -q "custom: 1" .mlo/config.yaml || fail "second init lost config edits"
expect_ok init --force
grep -q "custom: 1" .mlo/config.yaml && fail "--force did not rewrite config"
pass

# -C DIR and --json.
cd "$TEST_TMP"
mkdir r2 && git -C r2 init -q
expect_ok -C r2 --json init
expect_json "d['root'].endswith('/r2') and d['already_initialized'] is False"
expect_rc 3 -C "$TEST_TMP/does-not-exist" init
expect_err_contains "cannot change to directory"
expect_no_file "$TEST_TMP/does-not-exist"

# Version, help, usage errors.
expect_ok --version
expect_out_contains "mlo "
expect_ok help
expect_out_contains "init"
expect_ok help init
expect_out_contains "--git"
expect_rc 2 help no-such-command
expect_err_contains "no such command"
expect_rc 2 no-such-command
# A typo gets git's "did you mean", at the top level and inside a group.
expect_rc 2 daat
expect_err_contains "did you mean 'mlo data'?"
expect_rc 2 data stauts
expect_err_contains "no such command: data stauts"
expect_err_contains "did you mean 'mlo data status'?"
expect_rc 2 help data stat
expect_err_contains "did you mean 'mlo data status'?"
# A group without its subcommand lists them instead of CLI11's "A subcommand is required".
expect_rc 2 data
expect_err_contains "mlo data needs a subcommand: add, commit, status"
# `mlo help GROUP COMMAND` shows the whole command path in its usage line.
expect_ok help data status
expect_out_contains "Usage: mlo data status"
expect_rc 2
expect_rc 2 init --no-such-flag
expect_rc 2 -q --no-color -C . no-such-command
expect_err_contains "no-such-command"

# main() builds only the invoked command's group (see cmd/command.h): every
# command listed by `mlo help` must have its full help, its summary must be the
# one its group declares, and -C/global options before the word must not
# confuse the lookup.
expect_ok help
commands=$(printf '%s\n' "$OUT" | awk '/^Subcommands:/{on=1; next} on && !NF {exit} on {print $1}')
[ "$(printf '%s\n' "$commands" | wc -l)" -ge 20 ] || fail "mlo help lists too few commands: $commands"
pass
for c in $commands; do
  summary=$(printf '%s\n' "$OUT" | awk -v c="$c" '$1 == c {$1=""; sub(/^ +/, ""); print; exit}')
  help_out=$OUT
  expect_ok help "$c"
  expect_out_contains "$summary"
  expect_out_contains "man mlo-"
  expect_ok -C "$TEST_TMP" --no-color "$c" --help
  expect_out_contains "$summary"
  OUT=$help_out
done

done_testing
