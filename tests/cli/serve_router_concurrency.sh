#!/usr/bin/env bash
# The router's thread count does not cap how many requests are in flight
# (issue 23): with --threads 1 and a runner that takes 400 ms per request but
# answers any number at once, 32 concurrent requests finish in about one
# runner time, not 32 of them (a blocking router with one thread needed
# 12.8 s). Each answer is its own request's.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"

new_repo
linear_model m.json 1
# A plugin runner: every request waits 400 ms on its own thread.
threaded_oip_runner slow-runner <<'EOF'
        time.sleep(0.4)
        self.answer({"id": body.get("id"), "outputs": []})
EOF
expect_ok deploy m@1 --artifact m.json --env slow --runner "$PWD/slow-runner" --threads 1
port=$(router_port slow)
out=$(/usr/bin/python3 - "$port" <<'PY' 2>&1
import http.client, json, sys, threading, time
port, got = int(sys.argv[1]), {}
def ask(k):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", "/v2/models/m/infer", json.dumps({"id": str(k)}), {"Content-Type": "application/json"})
    r = c.getresponse()
    got[k] = (r.status, json.loads(r.read()).get("id"))
t0 = time.time()
threads = [threading.Thread(target=ask, args=(k,)) for k in range(32)]
[t.start() for t in threads]
[t.join() for t in threads]
took = time.time() - t0
assert all(got[k] == (200, str(k)) for k in range(32)), got
# One runner time is 0.4 s; 4 s leaves room for a loaded machine and is still
# a third of what a blocking router with one thread needs (12.8 s).
assert took < 4.0, "32 requests of 0.4 s took %.1f s through a router with one thread" % took
print("32 concurrent 400 ms requests through a 1-thread router: %.2f s" % took)
PY
) || fail "$out"
echo "$out"; pass
done_testing
