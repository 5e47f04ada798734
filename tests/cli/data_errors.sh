#!/usr/bin/env bash
# Bad input to mlo data: each gets a clear message naming the path, exit 3,
# and changes nothing (no pointer, no .gitignore line, nothing staged).
source "$(dirname "$0")/lib.sh"
new_repo

nothing_changed() {
  git diff --cached --quiet || fail "something was staged: $(git diff --cached --name-only)"
  local new
  new=$(git ls-files --others --exclude-standard | grep -E '(\.mlo|\.gitignore)$')
  [ -z "$new" ] || fail "files were written: $new"
  pass
}

# path does not exist
expect_rc 3 data add no/such/file.csv
expect_err_contains "no/such/file.csv: no such file or directory"
nothing_changed

# outside the repo
echo x > "$TEST_TMP/outside.csv"
expect_rc 3 data add "$TEST_TMP/outside.csv"
expect_err_contains "outside the repository"
nothing_changed

# inside .git or .mlo
expect_rc 3 data add .git/config
expect_err_contains "inside .git"
expect_rc 3 data add .mlo/config.yaml
expect_err_contains "inside .mlo"
nothing_changed

# already tracked by git
mkdir -p code && echo "print(1)" > code/train.py
git add code/train.py && git commit -qm code
expect_rc 3 data add code/train.py
expect_err_contains "code/train.py: is already tracked by git"
expect_err_contains "git rm -r --cached code/train.py"
expect_rc 3 data add code
expect_err_contains "already tracked by git"
expect_no_file code/train.py.mlo
nothing_changed

# nested: a path inside a tracked folder, and a folder holding tracked data
mkdir -p ds/part && echo a > ds/part/a.txt && echo b > ds/b.txt
expect_ok data add ds
git commit -qm ds
expect_rc 3 data add ds/part/a.txt
expect_err_contains "inside the tracked folder ds"
mkdir -p outer/inner && echo c > outer/inner/c.txt
expect_ok data add outer/inner/c.txt
git commit -qm c
expect_rc 3 data add outer
expect_err_contains "contains data tracked separately: outer/inner/c.txt"
expect_no_file outer.mlo
# the same path twice or nested in one command
mkdir -p two/x && echo 1 > two/x/1
expect_rc 3 data add two two/x
expect_err_contains "two/x is inside two"
nothing_changed

# a pointer file is not data
expect_rc 3 data add ds.mlo
expect_err_contains "pointer file"

# symbolic link loops: a link to itself, and a folder link back to its parent
mkdir -p loops && ln -s self loops/self
expect_rc 3 data add loops/self
expect_err_contains "loops/self: symbolic link loop"
expect_rc 3 data add loops
expect_err_contains "symbolic link loop"
rm loops/self
mkdir -p loop2/a && echo 1 > loop2/a/f && ln -s .. loop2/a/up
expect_rc 3 data add loop2
expect_err_contains "loop2/a/up: symbolic link loop"
expect_no_file loop2.mlo
# a plain symlink to a file is refused (mlo stores content, not links)
echo z > real.txt && ln -s real.txt link.txt
expect_rc 3 data add link.txt
expect_err_contains "link.txt: is a symbolic link"
# a dangling link inside a folder
mkdir -p dang && ln -s missing dang/l
expect_rc 3 data add dang
expect_err_contains "dang/l: symbolic link to a missing target"
# a pipe inside a folder
mkdir -p pipes && mkfifo pipes/fifo
expect_rc 3 data add pipes
expect_err_contains "pipes/fifo: not a regular file"
nothing_changed

# unreadable files: root reads anything, so this only fails for other users
echo secret > secret.bin && chmod 000 secret.bin
if [ "$(id -u)" != 0 ]; then
  expect_rc 3 data add secret.bin
  expect_err_contains "secret.bin: Permission denied"
  expect_no_file secret.bin.mlo
else
  echo "note: running as root, which can read a mode-000 file; unreadable-file case not checkable here"
fi
chmod 644 secret.bin

# corrupt or hand-edited pointer files
mkdir -p p && echo data > p/f.csv
expect_ok data add p/f.csv
git commit -qm p
cp p/f.csv.mlo "$TEST_TMP/good.mlo"
sed -i 's/^path: .*/path: ..\/..\/etc\/passwd/' p/f.csv.mlo
expect_rc 3 data status
expect_err_contains "p/f.csv.mlo:"
expect_err_contains "must be the plain name"
expect_rc 3 data checkout
expect_err_contains "p/f.csv.mlo"
sed -i 's/^path: .*/path: \/etc\/passwd/' p/f.csv.mlo
expect_rc 3 data checkout
expect_err_contains "must be the plain name"
sed -i 's/^path: .*/path: other.csv/' p/f.csv.mlo
expect_rc 3 data status
expect_err_contains "does not match the pointer's name"
printf 'version: 1\npath: f.csv\ntype: file\nsha256: nothex\nsize: 4\n' > p/f.csv.mlo
expect_rc 3 data status
expect_err_contains "p/f.csv.mlo:4: sha256 must be 64 lower-case hex digits"
# A path of the wrong kind is named as such, with its line (not "missing").
printf 'version: 1\npath: [f.csv]\ntype: file\nsize: 4\n' > p/f.csv.mlo
expect_rc 3 data status
expect_err_contains "p/f.csv.mlo:2: path must be the name of the tracked file or folder, not a list"
printf 'version: [1\n' > p/f.csv.mlo
expect_rc 3 data checkout
expect_err_contains "p/f.csv.mlo"
expect_eq "$(cat p/f.csv)" "data" "data untouched by failed checkouts"
cp "$TEST_TMP/good.mlo" p/f.csv.mlo
expect_ok data status --exit-code

# commands on untracked paths
expect_rc 3 data checkout nope
expect_err_contains "nope: not tracked by mlo"
expect_rc 3 data status nope
expect_rc 3 data commit nope
expect_rc 3 data rm nope
expect_err_contains "not tracked by mlo"
# usage errors
expect_rc 2 data add
expect_rc 2 data
expect_rc 2 data diff a b c
# unknown revision
expect_rc 3 data diff no-such-rev
expect_err_contains "unknown revision 'no-such-rev'"

done_testing
