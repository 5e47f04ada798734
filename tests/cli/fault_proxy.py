#!/usr/bin/env python3
"""A small HTTP proxy for mlo's remote tests that injects faults.

Usage: fault_proxy.py LISTEN_PORT UPSTREAM_PORT FAULT_FILE

Each request reads FAULT_FILE: a comma-separated list of faults. The first
fault that applies to the request is used and removed from the file;
"always-corrupt" applies to every GET with a body and is never removed.
Faults: reset (close the connection without an answer), 500, 503, 429,
slow (wait 2 s, then answer), truncate (send half the body, then close),
corrupt (flip bytes in the body), corrupt-tail (flip bytes in its second
half only), pass (forward it unchanged: to skip a request). Faults named
get-X apply to GETs only, pack-X to GETs of a pack (ranges of blobs).
A lying server: put-drop answers 201 to a PUT without storing it; put-half
stores the first half of a PUT's body and answers 201; list-garble rewrites
the <Size> values of an S3 ListObjectsV2 answer ("x123"); propfind-garble
does the same to a WebDAV listing's getcontentlength values.
Two S3 calls s3rver 3.7.1 does not implement can be answered instead of
forwarded, with what the test writes (in the shapes AWS documents):
FAULT_FILE.uploads answers ListMultipartUploads (GET ?uploads), and
FAULT_FILE.versioning answers GetBucketVersioning (GET ?versioning), while
such a file exists; AbortMultipartUpload (DELETE ?uploadId=) is then
answered 204 and its path appended to FAULT_FILE.aborted.
Only loopback addresses are used; requests are bounded by the test.
"""
import http.client
import os
import re
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LISTEN, UPSTREAM, FAULTS = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()


SCOPES = {"get-": lambda m, p: m == "GET", "put-": lambda m, p: m == "PUT",
          "pack-": lambda m, p: m == "GET" and p.split("?")[0].endswith(".pack"),
          "list-": lambda m, p: m == "GET" and "list-type=2" in p, "propfind-": lambda m, p: m == "PROPFIND"}


def take_fault(method, path):
    with lock:
        try:
            with open(FAULTS) as f:
                items = [x.strip() for x in f.read().split(",") if x.strip()]
        except FileNotFoundError:
            return None
        if "always-corrupt" in items and method == "GET":
            return "corrupt"
        for i, item in enumerate(items):
            name = item
            scope = next((s for s in SCOPES if item.startswith(s)), None)
            if scope:
                if not SCOPES[scope](method, path):
                    continue
                name = item if scope in ("list-", "propfind-") else item[len(scope):]
            if item == "always-corrupt":
                continue
            del items[i]
            with open(FAULTS, "w") as f:
                f.write(",".join(items))
            return name
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, data):
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        if data:
            self.send_header("Content-Type", "application/xml")
        self.end_headers()
        self.wfile.write(data)

    # The S3 calls s3rver lacks, answered from the test's files (see above).
    def stand_in(self):
        query = self.path.partition("?")[2]
        params = [p.split("=")[0] for p in query.split("&")]
        for name in ("uploads", "versioning"):
            if self.command == "GET" and name in params and os.path.exists(FAULTS + "." + name):
                with open(FAULTS + "." + name, "rb") as f:
                    self.answer(200, f.read())
                return True
        if self.command == "DELETE" and "uploadId" in params and os.path.exists(FAULTS + ".uploads"):
            with lock, open(FAULTS + ".aborted", "a") as f:
                f.write(self.path + "\n")
            self.answer(204, b"")
            return True
        return False

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if self.stand_in():
            return
        fault = take_fault(self.command, self.path)
        if fault == "drop":
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if fault == "half" and body:
            body = body[: len(body) // 2]
        if fault == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if fault in ("500", "503", "429"):
            msg = b"injected fault"
            self.send_response(int(fault))
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return
        if fault == "slow":
            time.sleep(2)
        conn = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "content-length")}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        if fault == "list-garble":
            data = data.replace(b"<Size>", b"<Size>x")
        if fault == "propfind-garble":
            data = re.sub(rb"getcontentlength>(?=\d)", b"getcontentlength>x", data)
        if fault == "corrupt-tail" and data:
            data = bytearray(data)
            for i in range(len(data) // 2, len(data), 37):
                data[i] ^= 0x55
            data = bytes(data)
        if fault == "corrupt" and data:
            data = bytearray(data)
            for i in range(0, len(data), 37):
                data[i] ^= 0x55
            data = bytes(data)
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length", "keep-alive"):
                self.send_header(k, v)
        # A HEAD has no body: its Content-Length is the upstream's.
        length = resp.getheader("Content-Length", "0") if self.command == "HEAD" else str(len(data))
        self.send_header("Content-Length", length)
        self.end_headers()
        if self.command == "HEAD":
            return
        if fault == "truncate" and len(data) > 1:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_DELETE = do_PROPFIND = do_POST = forward


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", LISTEN), Handler)
    server.daemon_threads = True
    server.serve_forever()
