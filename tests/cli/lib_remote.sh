# Helpers for the remote tests: real servers started on free loopback
# ports, stopped when the test exits. Source after lib.sh.

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

SERVER_PIDS=()
stop_servers() {
  local pid
  for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  SERVER_PIDS=()
}
trap 'stop_servers; cleanup' EXIT

# wait_port PORT : waits (up to 20 s) until something listens on PORT.
wait_port() {
  local i
  for i in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  fail "nothing listens on port $1"
}

# start_s3rver BUCKET : a real S3-compatible server (s3rver, from
# tests/tools) with BUCKET; sets S3_PORT and S3_ENDPOINT and the
# credentials s3rver accepts. Skips the test when s3rver is not installed.
start_s3rver() {
  local bin="$MLO_SOURCE_DIR/tests/tools/node_modules/.bin/s3rver"
  [ -x "$bin" ] || skip "s3rver is not installed (run 'make deps')"
  command -v node >/dev/null || skip "node is not installed"
  S3_PORT=$(free_port)
  mkdir -p "$TEST_TMP/s3data"
  # s3rver 3.7.1 makes ListObjectsV2 continuation tokens with a cipher that
  # node 17+ only offers through the legacy provider.
  NODE_OPTIONS=--openssl-legacy-provider node "$bin" -d "$TEST_TMP/s3data" -a 127.0.0.1 -p "$S3_PORT" -s --service-endpoint localhost --configure-bucket "$1" \
    >"$TEST_TMP/s3rver.log" 2>&1 &
  SERVER_PIDS+=($!)
  wait_port "$S3_PORT"
  S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
  export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
  unset AWS_PROFILE AWS_SESSION_TOKEN
}

# start_nginx_dav : nginx with WebDAV (PUT/DELETE/PROPFIND) serving
# $TEST_TMP/dav at http://127.0.0.1:$DAV_PORT/; bearer token "$DAV_TOKEN"
# required when DAV_TOKEN is set; HTTPS with DAV_TLS_CERT/DAV_TLS_KEY (PEM files)
# when DAV_TLS_CERT is set. Skips when nginx or the dav_ext module is missing.
start_nginx_dav() {
  local nginx mod
  nginx=$(command -v nginx || echo /usr/sbin/nginx)
  [ -x "$nginx" ] || skip "nginx is not installed (run 'make deps')"
  mod=/usr/lib/nginx/modules/ngx_http_dav_ext_module.so
  [ -f "$mod" ] || skip "nginx's dav_ext module is not installed (libnginx-mod-http-dav-ext)"
  DAV_PORT=$(free_port)
  mkdir -p "$TEST_TMP/dav" "$TEST_TMP/nginx/tmp"
  local auth=""
  if [ -n "${DAV_TOKEN:-}" ]; then
    auth="if (\$http_authorization != \"Bearer $DAV_TOKEN\") { return 401; }"
  fi
  local listen="listen 127.0.0.1:$DAV_PORT;"
  if [ -n "${DAV_TLS_CERT:-}" ]; then
    listen="listen 127.0.0.1:$DAV_PORT ssl; ssl_certificate $DAV_TLS_CERT; ssl_certificate_key $DAV_TLS_KEY;"
  fi
  start_nginx "$TEST_TMP/nginx" "$DAV_PORT" "load_module $mod;" "
    $listen
    root $TEST_TMP/dav;
    location / {
      $auth
      dav_methods PUT DELETE MKCOL;
      dav_ext_methods PROPFIND OPTIONS;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
    }"
}

# start_nginx DIR PORT PRELUDE SERVER : runs nginx (foreground, stopped with
# the test) from DIR/nginx.conf with one server block whose body is SERVER,
# top-level PRELUDE lines (load_module ...), and waits for PORT.
start_nginx() {
  local nginx
  nginx=$(command -v nginx || echo /usr/sbin/nginx)
  [ -x "$nginx" ] || skip "nginx is not installed (run 'make deps')"
  mkdir -p "$1/tmp"
  cat >"$1/nginx.conf" <<CONF
$3
daemon off;
user $(id -un) $(id -gn);
worker_processes 1;
pid $1/nginx.pid;
error_log $1/error.log;
events { worker_connections 256; }
http {
  access_log $1/access.log;
  client_body_temp_path $1/tmp;
  proxy_temp_path $1/tmp;
  fastcgi_temp_path $1/tmp;
  uwsgi_temp_path $1/tmp;
  scgi_temp_path $1/tmp;
  client_max_body_size 0;
  server {
$4
  }
}
CONF
  "$nginx" -c "$1/nginx.conf" -p "$1" >"$1/stdout.log" 2>&1 &
  SERVER_PIDS+=($!)
  wait_port "$2"
}

# start_fault_proxy UPSTREAM_PORT : tests/cli/fault_proxy.py in front of a
# server; sets PROXY_PORT and FAULTS (the file naming the faults to inject,
# empty at first) and short retry delays.
start_fault_proxy() {
  PROXY_PORT=$(free_port)
  FAULTS="$TEST_TMP/faults"
  : >"$FAULTS"
  /usr/bin/python3 -B "$MLO_SOURCE_DIR/tests/cli/fault_proxy.py" "$PROXY_PORT" "$1" "$FAULTS" &
  SERVER_PIDS+=($!)
  wait_port "$PROXY_PORT"
  export MLO_REMOTE_BACKOFF_MS=20
}

# start_cut_proxy UPSTREAM_PORT : tests/cli/tcp_cut_proxy.py in front of a
# TCP server; sets CUT_PORT and CUTS (the file of byte counts after which
# connections are cut, empty at first) and short retry delays.
start_cut_proxy() {
  CUT_PORT=$(free_port)
  CUTS="$TEST_TMP/cuts"
  : >"$CUTS"
  /usr/bin/python3 -B "$MLO_SOURCE_DIR/tests/cli/tcp_cut_proxy.py" "$CUT_PORT" "$1" "$CUTS" &
  SERVER_PIDS+=($!)
  wait_port "$CUT_PORT"
  export MLO_REMOTE_BACKOFF_MS=20
}

# Every object in the cache matches its name.
expect_cache_consistent() {
  local f h
  for f in $(find .mlo/cache/objects -type f 2>/dev/null); do
    h=$(sha256sum "$f" | cut -d' ' -f1)
    [ "$(basename "$(dirname "$f")")$(basename "$f")" = "$h" ] || fail "corrupt object in the cache: $f"
  done
  pass
}

# make_data : a small tracked data set in the current repo (a folder of
# small files and one file big enough to be chunked), committed.
make_data() {
  mkdir -p data/small
  local i
  for i in $(seq 1 40); do echo "sample $i $RANDOM" >"data/small/$i.txt"; done
  head -c 3500000 /dev/urandom >data/big.bin
  "$MLO" -q data add data/small data/big.bin || fail "data add"
  git add -A && git commit -qm "data" || fail "commit"
}

# expect_same_data DIR_A DIR_B : the tracked data is byte-identical.
expect_same_data() {
  cmp -s "$1/data/big.bin" "$2/data/big.bin" || fail "big.bin differs between $1 and $2"
  diff -r "$1/data/small" "$2/data/small" >/dev/null || fail "data/small differs between $1 and $2"
  pass
}

# start_azurite : Azurite's blob service (tests/tools), in memory, on a free
# port; sets AZ_PORT, AZ_ENDPOINT and AZURE_STORAGE_ACCOUNT/KEY (Azurite's
# published development account). Fails when Azurite is not installed (CI
# installs it with 'make deps').
AZ_DEV_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
start_azurite() {
  local bin="$MLO_SOURCE_DIR/tests/tools/node_modules/.bin/azurite-blob"
  [ -x "$bin" ] || fail "azurite is not installed (run 'make deps')"
  AZ_PORT=$(free_port)
  node "$bin" --blobHost 127.0.0.1 --blobPort "$AZ_PORT" --inMemoryPersistence --disableTelemetry --silent \
    --skipApiVersionCheck >"$TEST_TMP/azurite.log" 2>&1 &
  SERVER_PIDS+=($!)
  wait_port "$AZ_PORT"
  AZ_ENDPOINT="http://127.0.0.1:$AZ_PORT/devstoreaccount1"
  export AZURE_STORAGE_ACCOUNT=devstoreaccount1 AZURE_STORAGE_KEY="$AZ_DEV_KEY"
  unset AZURE_STORAGE_CONNECTION_STRING AZURE_STORAGE_SAS_TOKEN
}

# start_sshd : Debian's OpenSSH server on 127.0.0.1:$SSH_PORT with a host
# key and a user key this test generates (~/.ssh/id_ed25519 of the test's
# HOME, authorised for the current user); known_hosts is left empty, so the
# first contact needs --accept-new. Sets SSH_PORT and SSH_URL_BASE.
start_sshd() {
  local sshd=/usr/sbin/sshd dir="$TEST_TMP/sshd"
  [ -x "$sshd" ] || fail "sshd is not installed (apt-get install openssh-server)"
  command -v ssh-keygen >/dev/null || fail "ssh-keygen is not installed (openssh-client)"
  mkdir -p "$dir" "$HOME/.ssh" /run/sshd 2>/dev/null
  chmod 700 "$HOME/.ssh"
  ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key" || fail "ssh-keygen (host key)"
  ssh-keygen -q -t ed25519 -N '' -f "$HOME/.ssh/id_ed25519" || fail "ssh-keygen (user key)"
  cp "$HOME/.ssh/id_ed25519.pub" "$dir/authorized_keys"
  SSH_PORT=$(free_port)
  cat >"$dir/sshd_config" <<CONF
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $dir/host_key
AuthorizedKeysFile $dir/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PidFile $dir/sshd.pid
Subsystem sftp internal-sftp
MaxStartups 64:30:128
MaxSessions 64
LogLevel ERROR
CONF
  "$sshd" -D -e -f "$dir/sshd_config" >"$dir/sshd.log" 2>&1 &
  SERVER_PIDS+=($!)
  wait_port "$SSH_PORT"
  SSH_URL_BASE="ssh://$(id -un)@127.0.0.1:$SSH_PORT"
  SSH_HOST_KEY_PUB="$dir/host_key.pub"
}

# trust_sshd : records the test server's host key in ~/.ssh/known_hosts.
trust_sshd() {
  echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$SSH_HOST_KEY_PUB")" >>"$HOME/.ssh/known_hosts"
}
