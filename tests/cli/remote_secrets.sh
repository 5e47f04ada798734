#!/usr/bin/env bash
# A URL with a password that someone wrote into the tracked
# .mlo/config.yaml by hand ('remote add' and 'remote modify' refuse to write
# it) is never used: every command that would contact the remote stops with
# exit 3 naming the file and line, before any connection, and never prints
# the password. The same key in the untracked config.local.yaml wins and is
# allowed (issue 11).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_remote.sh"

# A listener that counts connections: refused commands must not reach it.
port=$(free_port)
/usr/bin/python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
while True:
    c, _ = s.accept()
    with open(sys.argv[2], "a") as f: f.write("connection\n")
    c.close()
' "$port" "$TEST_TMP/connections" &
SERVER_PIDS+=($!)
wait_port "$port"
connections() { cat "$TEST_TMP/connections" 2>/dev/null | wc -l; }
# wait_port's own probe is one accepted connection; the listener logs it when
# it gets to it, which under load can be after this line: wait for it, or it
# is counted against the first refused command.
for _ in $(seq 1 100); do [ "$(connections)" -ge 1 ] && break; sleep 0.05; done
before=$(connections)
expect_eq "$before" "1" "connections logged after wait_port's probe"

new_repo a
mkdir data && printf 'a,b\n1,2\n' >data/t.csv
expect_ok data add data
cat >>.mlo/config.yaml <<YAML
remotes:
  origin:
    url: http://alice:S3CRETPW@127.0.0.1:$port/r
  minio:
    url: s3://bucket/prefix
    endpoint: http://bob:S3CRETPW@127.0.0.1:$port
remote:
  default: origin
YAML
git add -A && git commit -qm "a password committed by hand" || fail "commit"

for args in "push" "pull" "data status --remote" "fsck --remote origin" "push --verify"; do
  expect_rc 3 $args
  expect_err_contains ".mlo/config.yaml:11: the url of remote 'origin' holds a user name or password"
  expect_err_contains "MLO_HTTP_PASSWORD"
  expect_err_contains "--local"
  [[ "$OUT$ERR" != *S3CRETPW* ]] || fail "mlo $args printed the password: $ERR"
  pass
done
expect_rc 3 push -r minio
expect_err_contains ".mlo/config.yaml:14: the endpoint of remote 'minio'"
[[ "$OUT$ERR" != *S3CRETPW* ]] || fail "push -r minio printed the password: $ERR"
pass
expect_eq "$(connections)" "$before" "a refused command contacted the remote"

# Listing still works (to see what to fix), redacted.
expect_ok remote ls
expect_out_contains "origin"
expect_out_not_contains S3CRETPW

# The same key in the untracked config.local.yaml wins: a plain URL...
mkdir -p "$TEST_TMP/dir"
expect_ok remote modify origin url "$TEST_TMP/dir" --local
expect_ok push
# ...or one with a password, which is allowed there (and used).
expect_ok remote modify origin url "http://alice:S3CRETPW@127.0.0.1:$port/r" --local
MLO_REMOTE_RETRIES=0 expect_rc 4 push
[[ "$OUT$ERR" != *S3CRETPW* ]] || fail "push printed the password from config.local.yaml: $ERR"
pass
[ "$(connections)" -gt "$before" ] || fail "the URL from config.local.yaml was not used"
pass
done_testing
