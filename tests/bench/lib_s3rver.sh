# Shared by the benchmarks against a local S3 server (remote.sh, remote_gc.sh);
# sourced, not run (make bench skips lib_*). Needs S3RVER set.
#
# start_bench_s3rver W [LOG] : s3rver on a free port, its store in W/s3 and the
# bucket "bench"; LOG gets one line per request (none when not given). Sets
# S3PID, EP (the endpoint URL) and AWS (the aws CLI on it); removes W and stops
# the server on exit; exports the credentials s3rver takes and a git identity.
start_bench_s3rver() {
  local w=$1 log=${2:-} port quiet=-s
  [ -z "$log" ] || quiet=
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  NODE_OPTIONS=--openssl-legacy-provider node "$S3RVER" -d "$w/s3" -a 127.0.0.1 -p "$port" $quiet \
    --configure-bucket bench >"${log:-/dev/null}" 2>&1 &
  S3PID=$!
  trap 'kill $S3PID 2>/dev/null; rm -rf "'"$w"'"' EXIT
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
  export GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@x GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@x
  EP="http://127.0.0.1:$port"
  AWS=(aws --endpoint-url "$EP" --only-show-errors)
}

# timed CMD... : runs CMD (stdout to $W/out, stderr to $W/err); sets WALL and
# CPU (user+sys seconds of CMD and its children).
timed() {
  local t
  t=$( { TIMEFORMAT='%R %U %S'; time "$@" >"$W/out" 2>"$W/err"; } 2>&1 ) || { cat "$W/err" >&2; echo "failed: $*" >&2; exit 1; }
  read -r WALL u s <<<"$t"
  CPU=$(echo "$u + $s" | bc)
}
