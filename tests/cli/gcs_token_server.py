#!/usr/bin/env python3
"""A local OAuth token endpoint for mlo's gs:// tests, as Google's
(RFC 7523 JWT bearer grant) answers a service-account key.

Usage: gcs_token_server.py PORT PUBLIC_KEY.pem EMAIL TOKEN LOG [MODE]

A POST of grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT
is checked the way the real endpoint does: the RS256 signature against
PUBLIC_KEY.pem (by the openssl command), header alg RS256 and kid k1, iss EMAIL, aud this
endpoint's URL, iat within 5 minutes of now and exp 1 hour after iat. A good
assertion gets TOKEN; a bad one 400 invalid_grant with the reason. Each verdict
is appended to LOG. MODE "expired" (a fault to inject) answers expires_in 0.
Only 127.0.0.1 is used.
"""
import base64
import http.server
import json
import subprocess
import sys
import tempfile
import time
import urllib.parse

PORT, PUBLIC_KEY, EMAIL, TOKEN, LOG = sys.argv[1:6]
MODE = sys.argv[6] if len(sys.argv) > 6 else "ok"
AUD = f"http://127.0.0.1:{PORT}/token"


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signature_ok(signed, signature):
    with tempfile.NamedTemporaryFile() as data, tempfile.NamedTemporaryFile() as sig:
        data.write(signed)
        data.flush()
        sig.write(signature)
        sig.flush()
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", PUBLIC_KEY, "-signature", sig.name, data.name],
                           capture_output=True)
        return r.returncode == 0


def verdict(jwt):
    parts = jwt.split(".")
    if len(parts) != 3:
        return "not a JWT"
    header, claims = (json.loads(b64url_decode(p)) for p in parts[:2])
    if header.get("alg") != "RS256" or header.get("kid") != "k1":
        return "alg is not RS256 or kid is not the key's private_key_id (k1)"
    if not signature_ok((parts[0] + "." + parts[1]).encode(), b64url_decode(parts[2])):
        return "Invalid JWT Signature."
    now = time.time()
    if claims.get("iss") != EMAIL:
        return "iss is not " + EMAIL
    if claims.get("aud") != AUD:
        return "aud is not " + AUD
    if not abs(claims.get("iat", 0) - now) < 300 or claims.get("exp", 0) - claims.get("iat", 0) != 3600:
        return "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."
    if not claims.get("scope", "").startswith("https://www.googleapis.com/auth/devstorage"):
        return "no storage scope"
    return "ok"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        grant = form.get("grant_type", [""])[0]
        why = verdict(form.get("assertion", [""])[0]) if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer" \
            else "unsupported grant_type " + grant
        with open(LOG, "a") as log:
            log.write(why + "\n")
        if self.path != "/token":
            status, answer = 404, {"error": "not_found"}
        elif why == "ok":
            status, answer = 200, {"access_token": TOKEN, "expires_in": 0 if MODE == "expired" else 3599,
                                   "token_type": "Bearer"}
        else:
            status, answer = 400, {"error": "invalid_grant", "error_description": why}
        body = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(PORT)), Handler).serve_forever()
