#!/usr/bin/env python3
"""A webhook receiver for the notification tests: a real HTTP server that
checks mlo's X-Mlo-Signature-256 (HMAC-SHA256 of the body under SECRET, as
a receiver in production would) and appends one JSON line per request to LOG:
{path, event, signature_ok, body}. Paths change its answer: /fail-N answers
500 to the first N requests it sees, /slow sleeps 30 s, /hook answers 200.
Usage: webhook_receiver.py PORT_FILE LOG SECRET"""
import hashlib, hmac, json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, log_file, secret = sys.argv[1], sys.argv[2], sys.argv[3].encode()
seen = {}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        sig = self.headers.get("X-Mlo-Signature-256", "")
        want = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        rec = {"path": self.path, "event": self.headers.get("X-Mlo-Event", ""), "signed": bool(sig),
               "signature_ok": hmac.compare_digest(sig, want), "body": parsed}
        with open(log_file, "a") as f:
            f.write(json.dumps(rec) + "\n")
        seen[self.path] = seen.get(self.path, 0) + 1
        if self.path.startswith("/fail-") and seen[self.path] <= int(self.path[6:]):
            self.send_response(500)
        elif self.path == "/slow":
            time.sleep(30)
            self.send_response(200)
        elif rec["signed"] and not rec["signature_ok"]:
            self.send_response(401)  # what a receiver does with a forged body
        else:
            self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
