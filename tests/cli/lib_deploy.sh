# Helpers for the deploy tests: model files, runner wrappers with injected
# faults, request senders (curl), and a trap that stops every deployment the
# test started so no router or runner outlives it.
: "${MLO_BUILD_DIR:=$(dirname "$MLO")}"
NATIVE=$(readlink -f "$MLO_BUILD_DIR/mlo-serve-native")
[ -x "$NATIVE" ] || skip "mlo-serve-native is not built"
command -v curl >/dev/null || skip "curl is not installed"

deploy_cleanup() {
  local d
  for d in "$TEST_TMP"/*/.mlo/deploy/*/; do
    [ -f "$d/router.json" ] || continue
    (cd "$d/../../.." && "$MLO" deploy stop "$(basename "$d")" >/dev/null 2>&1)
  done
  cleanup
}
trap deploy_cleanup EXIT

# linear_model FILE COEF : a regression model y = COEF*a + COEF*b.
linear_model() {
  printf '{"format":"mlo-linear","version":1,"task":"regression","features":["a","b"],"coef":[%s,%s],"intercept":0}\n' "$2" "$2" >"$1"
}

# fault_runner FILE FAULT : an inference runner that misbehaves (MLO_SERVE_FAULT).
fault_runner() {
  printf '#!/bin/sh\nMLO_SERVE_FAULT=%s exec "%s" "$@"\n' "$2" "$NATIVE" >"$1"
  chmod +x "$1"
}

# router_port ENV : the port the environment's router listens on.
router_port() {
  /usr/bin/python3 -c 'import json,sys; print(json.load(open(".mlo/deploy/"+sys.argv[1]+"/router.json"))["port"])' "$1"
}

V2_BODY='{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP64","data":[1,2]}]}'

# infer_many PORT N OUTFILE [MODEL] : N v2 infer requests on one keep-alive
# connection (to MODEL, default iris); one line per request: "STATUS BODY".
infer_many() {
  local port=$1 n=$2 out=$3 model=${4:-iris} cfg
  cfg=$(mktemp "$TEST_TMP/urls.XXXX")
  for _ in $(seq "$n"); do echo "url = \"http://127.0.0.1:$port/v2/models/$model/infer\""; done >"$cfg"
  curl -s -H 'Content-Type: application/json' -d "$V2_BODY" -w ' %{http_code}\n' -K "$cfg" >"$out"
  rm -f "$cfg"
}

# count_version FILE VERSION : responses in FILE that came from VERSION.
count_version() { grep -c "\"model_version\":\"$2\"" "$1"; }

# pid_running PID : alive and not a zombie (a detached router's reaper may be slow).
pid_running() {
  [ -r "/proc/$1/stat" ] || return 1
  local state
  state=$(sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f1)
  [ "$state" != Z ]
}

# For the late-label and A/B tests:
# send_rows PORT FIRST COUNT [USERS] : COUNT requests with ids rFIRST.. (a = i % 7, b = 1);
# with USERS, header X-User: u(i % USERS). Prints "id version x-request-id" per request.
send_rows() {
  /usr/bin/python3 - "$@" <<'PY'
import json, sys, urllib.request
port, first, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
users = int(sys.argv[4]) if len(sys.argv) > 4 else 0
for i in range(first, first + count):
    body = json.dumps({"dataframe_split": {"columns": ["a", "b"], "data": [[i % 7, 1]]}}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body, headers={"Content-Type": "application/json"})
    if i % 10 != 9:
        req.add_header("X-Request-Id", f"r{i}")  # every tenth: the router makes one up
    if users:
        req.add_header("X-User", f"u{i % users}")
    with urllib.request.urlopen(req) as r:
        print(f"r{i}", r.headers["X-Mlo-Version"], r.headers["X-Request-Id"], json.load(r)["predictions"][0])
PY
}
# threaded_oip_runner FILE: writes an executable plugin runner (a thread per
# connection) whose POST handler is the Python read from stdin, indented 8
# spaces, with `body` (the parsed request) and `self.answer(doc)` at hand.
threaded_oip_runner() {
  {
    cat <<'EOF'
#!/usr/bin/python3
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
spec = json.load(open(sys.argv[2]))
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def answer(self, doc):
        body = json.dumps(doc).encode()
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    def do_GET(self):
        self.answer({"ready": True})
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
EOF
    cat
    cat <<'EOF'
s = ThreadingHTTPServer(("127.0.0.1", spec["serve"]["port"]), H)
s.daemon_threads = True
print("mlo-inference-runner ready port=%d" % s.server_address[1], flush=True)
s.serve_forever()
EOF
  } >"$1"
  chmod +x "$1"
}
