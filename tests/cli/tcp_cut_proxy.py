#!/usr/bin/env python3
"""A TCP proxy for mlo's remote tests that cuts connections mid-transfer
(for protocols the HTTP fault proxy cannot speak: ssh/sftp).

Usage: tcp_cut_proxy.py LISTEN_PORT UPSTREAM_PORT CUT_FILE

Each new connection takes the first number N from CUT_FILE (a comma-separated
list; the number is removed): once N bytes have passed through it, in either
direction, both sides are closed without a goodbye, as a dropped network
link or a killed server would. With CUT_FILE empty, connections pass whole.
Each cut is appended to CUT_FILE.log. Only loopback addresses are used.
"""
import socket
import sys
import threading

LISTEN, UPSTREAM, CUTS = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()


def take_cut():
    with lock:
        try:
            with open(CUTS) as f:
                items = [x.strip() for x in f.read().split(",") if x.strip()]
        except FileNotFoundError:
            return None
        if not items:
            return None
        with open(CUTS, "w") as f:
            f.write(",".join(items[1:]))
        return int(items[0])


class Link:
    def __init__(self, client, budget):
        self.client = client
        self.server = socket.create_connection(("127.0.0.1", UPSTREAM))
        self.budget = budget
        self.lock = threading.Lock()
        self.closed = False

    def close(self, cut):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        if cut:
            with lock, open(CUTS + ".log", "a") as log:
                log.write("cut after %d bytes\n" % cut)
        # shutdown() first: a close() alone waits for the other thread's
        # blocked recv() on the same socket, and the peer would see nothing.
        for s in (self.client, self.server):
            for step in (lambda: s.shutdown(socket.SHUT_RDWR), s.close):
                try:
                    step()
                except OSError:
                    pass

    def pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self.lock:
                    if self.budget is not None:
                        if len(data) >= self.budget:
                            data, cut = data[:self.budget], True
                        else:
                            cut = False
                        self.budget -= len(data)
                    else:
                        cut = False
                dst.sendall(data)
                if cut:
                    self.close(self.initial)
                    return
        except OSError:
            pass
        self.close(None)


def serve(client):
    budget = take_cut()
    link = Link(client, budget)
    link.initial = budget
    threading.Thread(target=link.pump, args=(client, link.server), daemon=True).start()
    link.pump(link.server, client)


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", LISTEN))
listener.listen(64)
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
