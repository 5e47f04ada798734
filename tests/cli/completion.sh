#!/usr/bin/env bash
# mlo completion bash|zsh|fish (issue 15): the candidates of `mlo __complete`
# (commands and options from the command tree, remotes, pipeline and registry
# stages, model references, environments), then the real shells completing
# in a pseudo-terminal after sourcing the script.
source "$(dirname "$0")/lib.sh"
command -v zsh >/dev/null || fail "zsh is not installed (.ci/debian-packages.txt)"
command -v fish >/dev/null || fail "fish is not installed (.ci/debian-packages.txt)"
mkdir -p "$TEST_TMP/bin" && ln -s "$MLO" "$TEST_TMP/bin/mlo"
export PATH="$TEST_TMP/bin:$PATH"

# candidates WORDS... : the words `mlo __complete` offers for the last word.
candidates() {
  run_mlo __complete -- "$@"
  [ "$RC" = 0 ] || fail "mlo __complete -- $* exited $RC: $ERR"
  [ -z "$ERR" ] || fail "mlo __complete -- $* wrote to stderr: $ERR"
  pass
}
has() { grep -qx -- "$1" <<<"$OUT" || fail "completing '$CTX' lacks '$1':
$OUT"; pass; }
lacks() { ! grep -qx -- "$1" <<<"$OUT" || fail "completing '$CTX' offers '$1'"; pass; }

# Outside a repository: commands and options still complete; values are just empty.
cd "$TEST_TMP"
CTX="mlo "; candidates ""
has words; has data; has registry; has completion; lacks __complete; lacks serve-router
CTX="mlo push -r "; candidates push -r ""
expect_eq "$OUT" "words" "no remotes outside a repository"

new_repo r
"$MLO" -q remote add origin "$TEST_TMP/store"
"$MLO" -q remote add backup "$TEST_TMP/backup"
cat >mlo.yaml <<'YAML'
stages:
  prepare: {cmd: [sh, -c, "echo a > a.txt"], outs: [a.txt]}
  train: {cmd: [sh, -c, "cp a.txt m.bin"], deps: [a.txt], outs: [m.bin]}
models:
  churn: {path: m.bin}
monitors:
  nightly: {reference: a.txt, current: a.txt}
registry:
  stages: {dev: {}, production: {}}
YAML
git add -A && git commit -qm pipeline
"$MLO" -q run && "$MLO" -q register churn --version v1.0.0 && "$MLO" -q promote churn@v1.0.0 --to dev

CTX="mlo data "; candidates data ""
has status; has add; lacks data
CTX="mlo data status --"; candidates data status --
has --exit-code; has --json; has -C
CTX="mlo push -r "; candidates push -r ""
has origin; has backup
CTX="mlo push --remote=x -r "; candidates fetch --remote ""
has origin
CTX="mlo run "; candidates run ""
has prepare; has train
CTX="mlo promote churn@v1.0.0 --to "; candidates promote churn@v1.0.0 --to ""
has production; has dev
CTX="mlo models show "; candidates models show ""
has churn; has churn@v1.0.0; has "churn#dev"
CTX="mlo monitor "; candidates monitor ""
has nightly; has history
CTX="mlo completion "; candidates completion ""
has bash; has zsh; has fish
CTX="mlo -C "; candidates -C ""
expect_eq "$OUT" "dirs" "-C completes folders"
CTX="mlo data add "; candidates data add ""
expect_eq "$OUT" "files" "data add completes files"
expect_rc 2 completion tcsh

# The real shells, in a pseudo-terminal: type a prefix, press TAB, read the line.
expect_ok completion bash
printf '%s\n' "$OUT" >"$TEST_TMP/mlo.bash"
bash -n "$TEST_TMP/mlo.bash" || fail "the bash script does not parse"; pass
expect_ok completion zsh
printf '%s\n' "$OUT" >"$TEST_TMP/_mlo"
zsh -n "$TEST_TMP/_mlo" || fail "the zsh script does not parse"; pass
expect_ok completion fish
expect_out_contains "complete -c mlo"
printf '%s\n' "$OUT" >"$TEST_TMP/mlo.fish"
fish -n "$TEST_TMP/mlo.fish" || fail "the fish script does not parse"; pass
# fish answers `complete -C LINE` with the candidates for LINE, no terminal needed.
fish_complete() { fish --no-config -c "source $TEST_TMP/mlo.fish; complete -C '$1'" 2>&1 | cut -f1; }
for case in "mlo data st|status" "mlo push -r ori|origin" "mlo promote churn@v1.0.0 --to prod|production" \
            "mlo models show ch|churn@v1.0.0" "mlo run tr|train"; do
  got=$(fish_complete "${case%%|*}")
  grep -qx -- "${case#*|}" <<<"$got" || fail "fish: '${case%%|*}' did not offer '${case#*|}': $got"
  pass
done
expect_eq "$(fish_complete 'mlo data add --nonexistent-option-x')" "" "fish offers nothing for an unknown option"

/usr/bin/python3 - "$TEST_TMP" <<'PYTTY' || fail "completion in a terminal"
import os, pty, select, sys, time

tmp = sys.argv[1]


def session(argv, setup, cases):
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(TERM="xterm", PS1="$ ", PROMPT="$ ", HISTFILE="/dev/null")
        os.execvp(argv[0], argv)
    def read(seconds):
        out, end = b"", time.time() + seconds
        while time.time() < end:
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                try:
                    out += os.read(fd, 4096)
                except OSError:
                    break
        return out.decode(errors="replace")
    # The setup ends by printing a marker the typed line does not contain
    # (compinit takes seconds on a loaded machine).
    os.write(fd, setup.encode() + b"; echo RE''ADY\r")
    seen, end = "", time.time() + 60
    while "READY\r\n" not in seen and time.time() < end:
        seen += read(0.5)
    assert "READY\r\n" in seen, f"{argv[0]} did not start: {seen!r}"
    for typed, want in cases:
        os.write(fd, typed.encode() + b"\t")
        got = read(1.5)
        os.write(fd, b"\x15")  # Ctrl-U: clear the line for the next case
        read(0.3)
        assert want in got, f"{argv[0]}: '{typed}<TAB>' did not give '{want}': {got!r}"
    os.write(fd, b"exit\r")
    read(0.5)
    os.waitpid(pid, 0)


cases = [("mlo data st", "status"), ("mlo push -r ori", "origin"), ("mlo promote churn@v1.0.0 --to prod", "production")]
session(["bash", "--norc", "--noprofile", "-i"], f"source {tmp}/mlo.bash", cases)
session(["zsh", "-f", "-i"], f"fpath=({tmp} $fpath); autoload -U compinit; compinit -u -D", cases)
print("bash and zsh complete in a terminal")
PYTTY
pass
done_testing
