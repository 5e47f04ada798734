#!/usr/bin/env bash
# The router spreads requests over its pooled connections to a runner
# (issue 23): it reuses the least recently used one, so each connection (and
# the runner worker process SO_REUSEPORT gave it to) carries a like share.
# Reusing the latest (LIFO) sent every request of a one-at-a-time client down
# one connection, one worker, while the others idled.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"

new_repo
linear_model m.json 1
# A plugin runner that logs the router's port of the connection each request came on.
threaded_oip_runner conn-runner <<EOF
        if body["id"].startswith("open"): time.sleep(0.3)  # held at once: the router opens a connection each
        with open("$PWD/conns.log", "a") as log: log.write("%s %d\\n" % (body["id"], self.client_address[1]))
        self.answer({"id": body["id"], "outputs": []})
EOF
# One router thread: one forwarder, one pool of connections.
expect_ok deploy m@1 --artifact m.json --env bal --runner "$PWD/conn-runner" --threads 1
port=$(router_port bal)
out=$(/usr/bin/python3 - "$port" "$PWD/conns.log" <<'PY' 2>&1
import collections, http.client, json, sys, threading
port, log = int(sys.argv[1]), sys.argv[2]
def ask(c, rid):
    c.request("POST", "/v2/models/m/infer", json.dumps({"id": rid}), {"Content-Type": "application/json"})
    r = c.getresponse()
    assert r.status == 200 and json.loads(r.read())["id"] == rid
opened = [threading.Thread(target=lambda k=k: ask(http.client.HTTPConnection("127.0.0.1", port, timeout=30), "open%d" % k)) for k in range(8)]
[t.start() for t in opened]
[t.join() for t in opened]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
for k in range(80): ask(c, "seq%d" % k)  # one at a time: any pooled connection is free
lines = [l.split() for l in open(log)]
pool = {p for rid, p in lines if rid.startswith("open")}
seq = collections.Counter(p for rid, p in lines if rid.startswith("seq"))
print("8 pooled connections; 80 one-at-a-time requests per connection:", sorted(seq.values()))
assert len(pool) == 8, "the router opened %d connections for 8 concurrent requests" % len(pool)
assert len(seq) == 8 and max(seq.values()) <= 20, "one-at-a-time requests did not spread over the pool: %s" % dict(seq)
PY
) || fail "$out"
echo "$out"; pass
done_testing
