# Close the loop unattended: triggers decide when to retrain (here: drift on
# the churn monitor, and a nightly schedule), `mlo triggers check --act` (what
# cron or a CI schedule runs) acts once per occasion, and a webhook hears of
# each decision, signed with HMAC-SHA256.
step "A webhook receiver that checks mlo's signature (stands in for your alerting)"
cd "$DEMO_DIR/project"
export MLO_DEMO_SECRET="demo-secret"
# start_demo_hook: runs it in the background (HOOK_PID, HOOK_URL); it appends
# "signed EVENT: SUMMARY" per notification to $DEMO_DIR/hook.log.
start_demo_hook() {
rm -f "$DEMO_DIR/hook.port"
/usr/bin/python3 - "$DEMO_DIR/hook.port" "$DEMO_DIR/hook.log" <<'PY' &
import hashlib, hmac, json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        good = hmac.compare_digest(self.headers.get("X-Mlo-Signature-256", ""),
                                   "sha256=" + hmac.new(os.environ["MLO_DEMO_SECRET"].encode(), body, hashlib.sha256).hexdigest())
        e = json.loads(body)
        with open(sys.argv[2], "a") as f:
            f.write(f"{'signed' if good else 'FORGED'} {e['event']}: {e['summary']}\n")
        self.send_response(200 if good else 401); self.end_headers()
    def log_message(self, *a): pass
s = HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
HOOK_PID=$!
for _ in $(seq 50); do [ -s "$DEMO_DIR/hook.port" ] && break; sleep 0.1; done
HOOK_URL="http://127.0.0.1:$(cat "$DEMO_DIR/hook.port")/mlo"
}
start_demo_hook
cat >> mlo.yaml <<YAML
notify:
  ops:
    type: webhook
    url: $HOOK_URL
    secret_env: MLO_DEMO_SECRET
triggers:
  drifted:
    drift: churn
    action: {run: [train], register: churn, propose: staging}
  nightly:
    schedule: "0 3 * * *"
    action: {run: [train], register: churn}
YAML
say mlo triggers ls

step "What cron would run: a dry check, then --act (each occasion fires once)"
sed -i 's|current: monitor/batch-ok.csv|current: monitor/batch-drift.csv|' mlo.yaml
say mlo triggers check || true
say mlo triggers check --act || echo "(exit $?: a gate refused; the decision is recorded)"
say mlo triggers check --act || true
say mlo triggers history
say cat "$DEMO_DIR/hook.log" || true
kill "$HOOK_PID" 2>/dev/null || true
git checkout -q mlo.yaml
