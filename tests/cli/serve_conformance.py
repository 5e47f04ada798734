#!/usr/bin/python3
"""Conformance checks for an mlo inference endpoint (a runner or the router):
every route and error case of the Open Inference Protocol REST API (v2) and
of MLflow's scoring server that mlo-inference-runners(7) promises.

    serve_conformance.py HOST:PORT MODEL VERSION FEATURES ROWS_JSON

FEATURES is the model's feature names (comma-separated) or "-" when it was
fitted without names; ROWS_JSON two or more input rows. Prints the number of
checks; exits 1 at the first failure, naming it.
"""
import http.client
import json
import sys

host, port = sys.argv[1].rsplit(":", 1)
MODEL, VERSION = sys.argv[2], sys.argv[3]
FEATURES = [] if sys.argv[4] == "-" else sys.argv[4].split(",")
ROWS = json.loads(sys.argv[5])
N, F = len(ROWS), len(ROWS[0])
conn = http.client.HTTPConnection(host, int(port), timeout=30)
checks = 0


def ask(method, path, body=None, ctype="application/json"):
    global conn
    raw = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    headers = {"Content-Type": ctype} if raw is not None else {}
    try:
        conn.request(method, path, body=raw, headers=headers)
        r = conn.getresponse()
    except (http.client.HTTPException, OSError):  # a closed keep-alive connection: once more
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request(method, path, body=raw, headers=headers)
        r = conn.getresponse()
    data = r.read()
    try:
        doc = json.loads(data) if data else None
    except ValueError:
        doc = data
    return r.status, doc, r.getheader("Content-Type") or ""


def check(what, ok, got):
    global checks
    if not ok:
        print("FAIL: %s: got %s" % (what, json.dumps(got)[:400] if not isinstance(got, bytes) else got[:400]))
        sys.exit(1)
    checks += 1


def expect(what, method, path, body=None, status=200, ctype="application/json"):
    st, doc, rtype = ask(method, path, body, ctype)
    check("%s: status %d" % (what, status), st == status, [st, doc])
    check("%s: JSON answer" % what, rtype.startswith("application/json") and doc is not None, [rtype, doc])
    if status >= 400:
        check("%s: {\"error\": message}" % what, isinstance(doc, dict) and isinstance(doc.get("error"), str), doc)
    return doc


def tensor(rows):
    return {"name": "input-0", "shape": [len(rows), F], "datatype": "FP64", "data": [v for r in rows for v in r]}


# ---- Open Inference Protocol: health, server and model metadata
check("live is true", expect("live", "GET", "/v2/health/live").get("live") is True, None)
check("ready is true", expect("ready", "GET", "/v2/health/ready").get("ready") is True, None)
server = expect("server metadata", "GET", "/v2")
check("server metadata fields", all(k in server for k in ("name", "version", "extensions")), server)
meta = expect("model metadata", "GET", "/v2/models/%s" % MODEL)
check("metadata names the model and version", meta.get("name") == MODEL and VERSION in meta.get("versions", []), meta)
check("metadata has inputs and platform", isinstance(meta.get("inputs"), list) and "platform" in meta, meta)
outputs = {o["name"]: o for o in meta.get("outputs", [])}
check("metadata lists predict", "predict" in outputs, meta)
classes = (meta.get("parameters") or {}).get("classes")
if "predict_proba" in outputs:
    check("a classifier lists its class order", isinstance(classes, list) and len(classes) >= 2, meta)
    check("predict_proba is [-1, n_classes]", outputs["predict_proba"]["shape"] == [-1, len(classes)], outputs)
    labels_are_text = any(isinstance(c, str) for c in classes)
    check("string labels are BYTES", (outputs["predict"]["datatype"] == "BYTES") == labels_are_text, outputs)
expect("versioned metadata", "GET", "/v2/models/%s/versions/%s" % (MODEL, VERSION))
check("model ready", expect("model ready", "GET", "/v2/models/%s/ready" % MODEL).get("ready") is True, None)
expect("versioned model ready", "GET", "/v2/models/%s/versions/%s/ready" % (MODEL, VERSION))
expect("unknown model", "GET", "/v2/models/no-such-model", status=404)
expect("unknown version", "GET", "/v2/models/%s/versions/no-such-version" % MODEL, status=404)
expect("unknown route", "GET", "/no/such/route", status=404)

# ---- Open Inference Protocol: inference
infer = "/v2/models/%s/infer" % MODEL
doc = expect("infer", "POST", infer, {"id": "req-1", "inputs": [tensor(ROWS)]})
check("infer echoes the id", doc.get("id") == "req-1", doc)
check("infer names model and version", doc.get("model_name") == MODEL and doc.get("model_version") == VERSION, doc)
out = doc["outputs"]
check("infer answers predict by default", len(out) == 1 and out[0]["name"] == "predict", out)
check("predict has one value per row", out[0]["shape"] == [N] and len(out[0]["data"]) == N, out)
predicted = out[0]["data"]
nested = dict(tensor(ROWS), data=ROWS)
check("nested data gives the same", expect("infer nested", "POST", infer, {"inputs": [nested]})["outputs"][0]["data"] == predicted, None)
expect("versioned infer", "POST", "/v2/models/%s/versions/%s/infer" % (MODEL, VERSION), {"inputs": [tensor(ROWS)]})
if FEATURES:
    by_feature = [{"name": f, "shape": [N], "datatype": "FP64", "data": [r[j] for r in ROWS]}
                  for j, f in reversed(list(enumerate(FEATURES)))]
    got = expect("one tensor per feature", "POST", infer, {"inputs": by_feature})["outputs"][0]["data"]
    check("features matched by name", got == predicted, got)
for name, o in outputs.items():
    got = expect("output %s by name" % name, "POST", infer, {"inputs": [tensor(ROWS)], "outputs": [{"name": name}]})
    t = got["outputs"]
    want_shape = [N if d == -1 else d for d in o["shape"]]
    check("output %s alone, shaped as the metadata says" % name,
          len(t) == 1 and t[0]["name"] == name and t[0]["shape"] == want_shape and t[0]["datatype"] == o["datatype"], t)
    if name == "predict_proba":
        rows = t[0]["data"]
        check("probabilities: one row per input, each summing to 1",
              len(rows) == N and all(abs(sum(r) - 1) < 1e-6 and len(r) == len(classes) for r in rows), rows)
        check("probabilities carry their class order", (t[0].get("parameters") or {}).get("classes") == classes, t[0])
        best = [classes[max(range(len(r)), key=r.__getitem__)] for r in rows]
        check("the most probable class is the predicted one (class order as in metadata)", best == predicted, [best, predicted])
if len(outputs) > 1:
    names = list(outputs)[::-1]
    got = expect("several outputs", "POST", infer, {"inputs": [tensor(ROWS)], "outputs": [{"name": n} for n in names]})
    check("outputs in the order asked", [t["name"] for t in got["outputs"]] == names, got)
expect("unknown output", "POST", infer, {"inputs": [tensor(ROWS)], "outputs": [{"name": "no_such_output"}]}, status=400)
expect("malformed outputs", "POST", infer, {"inputs": [tensor(ROWS)], "outputs": "predict"}, status=400)
expect("not JSON", "POST", infer, b"{not json", status=400)
expect("no inputs", "POST", infer, {"id": "x"}, status=400)
expect("shape does not match data", "POST", infer, {"inputs": [dict(tensor(ROWS), shape=[N + 1, F])]}, status=400)
expect("wrong number of features", "POST", infer,
       {"inputs": [{"name": "input-0", "shape": [1, F + 1], "datatype": "FP64", "data": [1.0] * (F + 1)}]}, status=400)
expect("infer on an unknown model", "POST", "/v2/models/no-such-model/infer", {"inputs": [tensor(ROWS)]}, status=404)

# ---- MLflow scoring server
expect("ping", "GET", "/ping")
expect("health", "GET", "/health")
check("version", "version" in expect("version", "GET", "/version"), None)
cols = FEATURES or ["c%d" % j for j in range(F)]
bodies = {
    "dataframe_split": {"dataframe_split": {"columns": cols, "data": ROWS}},
    "dataframe_records": {"dataframe_records": [dict(zip(cols, r)) for r in ROWS]},
    "instances": {"instances": ROWS},
    "inputs": {"inputs": ROWS},
}
for fmt, body in bodies.items():
    got = expect("invocations %s" % fmt, "POST", "/invocations", body)
    check("invocations %s predicts as infer does" % fmt, got.get("predictions") == predicted, got)
csv = (",".join(cols) + "\n" + "\n".join(",".join(repr(v) for v in r) for r in ROWS) + "\n").encode()
got = expect("invocations text/csv", "POST", "/invocations", csv, ctype="text/csv")
check("CSV predicts as infer does", got.get("predictions") == predicted, got)
for name in outputs:
    got = expect("predict_method %s" % name, "POST", "/invocations", dict(bodies["instances"], params={"predict_method": name}))
    check("predict_method %s: one answer per row" % name, len(got["predictions"]) == N, got)
expect("unknown predict_method", "POST", "/invocations", dict(bodies["instances"], params={"predict_method": "nope"}), status=400)
expect("params not an object", "POST", "/invocations", dict(bodies["instances"], params=["predict_proba"]), status=400)
expect("unsupported content type", "POST", "/invocations", b"x", ctype="text/plain", status=415)
expect("invocations not JSON", "POST", "/invocations", b"{nope", status=400)
expect("invocations without a known key", "POST", "/invocations", {"rows": ROWS}, status=400)
expect("GET /invocations", "GET", "/invocations", status=405)
print("conformance: %d checks passed against %s (%s)" % (checks, sys.argv[1], ", ".join(outputs)))
