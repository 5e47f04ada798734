#!/usr/bin/env python3
"""A hostile WebDAV server for tests/cli/remote_hostile.sh (fault injection).

Usage: hostile_dav.py PORT TEMPLATE_IDX OUTSIDE_DIR

Stores PUTs in memory and answers HEAD/GET from them; a GET of any other
.idx answers with TEMPLATE_IDX (a real pack index), so a client that uses a
listed name as a local path would write it there. Every PROPFIND answers
the stored entries plus hrefs that decode to names outside the listed
folder: percent-encoded "..%2f", "%2e%2e/", an absolute path under
OUTSIDE_DIR, and a malformed escape. Loopback only.
"""
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

PORT, TEMPLATE, OUTSIDE = int(sys.argv[1]), open(sys.argv[2], "rb").read(), sys.argv[3]
store, lock = {}, threading.Lock()
HOSTILE = [
    "/r/packs/..%2f..%2f..%2f..%2f..%2fevil1.idx",
    "/r/packs/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/evil2.idx",
    "/r/packs/" + quote("/" + OUTSIDE.strip("/") + "/evil3.idx", safe=""),
    "/r/packs/1700000000-abc%2f..%2f..%2f..%2f..%2f..%2f..%2fevil4.idx",
    "/r/packs/%zz-evil5.idx",
]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with lock:
            store[self.path] = body
        self.reply(201)

    def do_GET(self):
        with lock:
            body = store.get(self.path)
        if body is None and self.path.endswith(".idx"):
            body = TEMPLATE
        if body is None:
            return self.reply(404)
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            a, b = rng[6:].split("-")
            return self.reply(206, body[int(a) : int(b) + 1])
        self.reply(200, body)

    def do_HEAD(self):
        with lock:
            body = store.get(self.path)
        if body is None:
            return self.reply(404)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()

    def do_PROPFIND(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        entries = [(h, len(TEMPLATE)) for h in HOSTILE] if self.path.rstrip("/").endswith("packs") else []
        with lock:
            entries += [(p, len(b)) for p, b in store.items() if p.startswith(self.path)]
        xml = '<?xml version="1.0"?><D:multistatus xmlns:D="DAV:">'
        xml += "<D:response><D:href>%s</D:href><D:propstat><D:prop></D:prop></D:propstat></D:response>" % self.path
        for href, size in entries:
            xml += ("<D:response><D:href>%s</D:href><D:propstat><D:prop><D:getcontentlength>%d"
                    "</D:getcontentlength></D:prop></D:propstat></D:response>" % (href, size))
        xml += "</D:multistatus>"
        self.reply(207, xml.encode(), [("Content-Type", "application/xml")])


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    server.daemon_threads = True
    server.serve_forever()
