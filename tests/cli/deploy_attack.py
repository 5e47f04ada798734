#!/usr/bin/env python3
"""Hostile HTTP clients for tests/cli/deploy_limits.sh, against 127.0.0.1 only.
Every mode is bounded in connections and time and stops by itself.

  raw PORT PYTHON_BYTES_LITERAL   send the bytes, print each response (status, body)
  slowloris PORT N SECONDS        N connections trickling an endless header
  idle PORT N SECONDS             N connections that send nothing
  cputime PID SECONDS             CPU seconds PID used over SECONDS
"""
import ast
import resource
import socket
import sys
import time

HOST = "127.0.0.1"


def raise_fd_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    new = min(hard, max(soft, want + 64))
    resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return new - 64


def responses(data):
    """Splits Content-Length framed responses: [(status, body), ...]."""
    out = []
    while b"\r\n\r\n" in data:
        head, rest = data.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        out.append((status, rest[:length].decode("utf-8")))  # strict: must be UTF-8
        data = rest[length:]
    return out


def raw(port, literal, timeout=15):
    payload = ast.literal_eval(literal)
    s = socket.create_connection((HOST, int(port)), timeout=5)
    s.sendall(payload)
    data = b""
    deadline = time.time() + timeout
    s.settimeout(1)
    t0 = time.time()
    while time.time() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            if data and payload.count(b"\r\n\r\n") <= len(responses(data)):
                break
            continue
        if not chunk:
            break
        data += chunk
    for status, body in responses(data):
        print(status, body)
    print("elapsed %.1f" % (time.time() - t0))


def connect_nb(port):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex((HOST, port))
    return s


def hold(port, n, seconds, trickle):
    """Keeps n connections open; trickling ones send a request line, then one
    header byte a second, never the blank line. Reconnects a closed one at most
    n times in all. Prints what happened."""
    n = min(n, raise_fd_limit(n))
    port = int(port)
    socks = [connect_nb(port) for _ in range(n)]
    started = [False] * n
    closed = reconnects = 0
    deadline = time.time() + float(seconds)
    while time.time() < deadline:
        for i, s in enumerate(socks):
            if s is None:
                continue
            try:
                if not trickle:
                    if s.recv(1, socket.MSG_PEEK) == b"":
                        raise ConnectionResetError
                elif started[i]:
                    s.send(b"a")
                else:
                    s.send(b"GET / HTTP/1.1\r\nX-a: ")
                    started[i] = True
            except BlockingIOError:
                continue
            except OSError:
                closed += 1
                s.close()
                started[i] = False
                socks[i] = None
                if reconnects < n:
                    reconnects += 1
                    socks[i] = connect_nb(port)
        time.sleep(1)
    for s in socks:
        if s is not None:
            s.close()
    print("connections %d closed_by_server %d reconnects %d" % (n, closed, reconnects))


def cputime(pid, seconds):
    def ticks():
        with open("/proc/%s/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime, all threads
    t0 = ticks()
    time.sleep(float(seconds))
    print("%.2f" % ((ticks() - t0) / __import__("os").sysconf("SC_CLK_TCK")))


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "raw":
        raw(*args)
    elif mode == "slowloris":
        hold(int(args[0]), int(args[1]), args[2], trickle=True)
    elif mode == "idle":
        hold(int(args[0]), int(args[1]), args[2], trickle=False)
    elif mode == "cputime":
        cputime(*args)
    else:
        sys.exit("unknown mode " + mode)
