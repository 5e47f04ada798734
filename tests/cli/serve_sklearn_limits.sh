#!/usr/bin/env bash
# The Python inference runner (examples/serving/mlo-serve-sklearn) keeps the
# native runner's request bounds (man mlo-deploy, "Limits"; issue 11): JSON
# nested at most 64 deep, shapes of 1..32 dimensions 0..4,000,000 whose
# product matches the data, no rows without values, at most 1,000,000 rows
# and 4,000,000 values, bodies of at most 64 MiB (413). The parsing is
# checked without scikit-learn; with it, a served runner answers each hostile
# request 400/413 quickly and keeps serving (same process).
source "$(dirname "$0")/lib.sh"

RUNNER="$MLO_SOURCE_DIR/examples/serving/mlo-serve-sklearn"
out=$(cd "$TEST_TMP" && /usr/bin/python3 - "$RUNNER" <<'PY' 2>&1
import importlib.machinery, importlib.util, json, sys, time

loader = importlib.machinery.SourceFileLoader("runner", sys.argv[1])
spec = importlib.util.spec_from_loader("runner", loader)
r = importlib.util.module_from_spec(spec)
loader.exec_module(r)
checks = 0

def refused(what, fn, *args, says):
    global checks
    t = time.time()
    try:
        fn(*args)
    except r.BadRequest as e:
        assert says in str(e), "%s: the error '%s' lacks '%s'" % (what, e, says)
        assert time.time() - t < 30, "%s: took %.1f s" % (what, time.time() - t)  # parsing 4 MB under load
        checks += 1
        return
    raise AssertionError("%s: accepted" % what)

def body(doc):
    return json.dumps(doc).encode()

v2 = lambda raw: r.parse_v2(r.parse_json(raw))
mlflow = lambda raw: r.parse_mlflow(r.parse_json(raw))
# 400 KB of nested arrays: json.loads would recurse into a RecursionError (a 500).
refused("deep nesting", v2, b"[" * 200000 + b"]" * 200000, says="deeper than 64")
refused("deep in a string-free object", mlflow, b'{"instances":' + b"[" * 65 + b"]" * 65 + b"}", says="deeper than 64")
assert r.parse_json(b'{"s":"' + b"[" * 1000 + b'"}') == {"s": "[" * 1000}; checks += 1  # brackets in strings do not count
t = lambda shape, data: body({"inputs": [{"name": "x", "shape": shape, "datatype": "FP64", "data": data}]})
refused("shape overflow", v2, t([4294967296, 4294967296], [1]), says="from 0 to 4000000")
refused("rows without values", v2, t([200000, 0], []), says="rows without values")
refused("20M rows", v2, t([20000000, 0], []), says="from 0 to 4000000")
refused("33 dimensions", v2, t([1] * 33, [1]), says="1 to 32 dimensions")
refused("a float dimension", v2, t([1.5], [1]), says="not a whole number")
refused("shape mismatch", v2, t([3], [1, 2]), says="does not match")
refused("too many rows", mlflow, body({"instances": [[1]] * 1000001}), says="at most 1000000")
refused("too many split rows", mlflow, body({"dataframe_split": {"columns": ["a"], "data": [[1]] * 1000001}}), says="at most 1000000")
refused("too many values", r.check_rows, [[1.0] * 1000] * 4001, says="at most 4000000")
refused("too many CSV rows", r.parse_csv, "a\n" + "1\n" * 1000001, says="more than 1000000 rows")
refused("an integer past float", mlflow, b'{"instances":[[1' + b"0" * 400 + b"]]}", says="out of range")
refused("a row that is not a list", mlflow, body({"instances": [[1], 2]}), says="expected a list")
assert v2(t([2, 2], [1, 2, 3, 4])) == ([], [[1.0, 2.0], [3.0, 4.0]]); checks += 1
assert len(r.parse_csv("a\n" + "1\n" * 1000001, max_rows=None)[1]) == 1000001; checks += 1  # batch files are not bounded
print("parsing checks: %d" % checks)
PY
) || fail "request parsing: $out"
echo "$out"
pass

if ! /usr/bin/python3 -c 'import sklearn, joblib' 2>/dev/null; then
  echo "note: python3-sklearn missing; skipped the served part"
  done_testing
fi
out=$(cd "$TEST_TMP" && PYTHONPATH="$MLO_SOURCE_DIR/tests/cli" /usr/bin/python3 - "$RUNNER" <<'PY' 2>&1
import http.client, json, sys, time
import serve_sklearn_fixture

proc, port = serve_sklearn_fixture.start(sys.argv[1])

def ask(path, raw, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    c.putrequest("POST", path)
    for k, v in h.items():
        c.putheader(k, v)
    if "Content-Length" not in h:
        c.putheader("Content-Length", str(len(raw)))
    c.endheaders()
    if raw:
        c.send(raw)
    t = time.time()
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, json.loads(data or b"{}"), time.time() - t

infer = "/v2/models/m/infer"
cases = [
    ("deep nesting", infer, b"[" * 200000 + b"]" * 200000, {}, 400),
    ("shape overflow", infer, b'{"inputs":[{"name":"x","shape":[4294967296,4294967296],"datatype":"FP64","data":[1]}]}', {}, 400),
    ("20M empty rows", infer, b'{"inputs":[{"name":"x","shape":[20000000,0],"datatype":"FP64","data":[]}]}', {}, 400),
    ("huge body", "/invocations", b"", {"Content-Length": str(65 << 20)}, 413),
    ("bad length", "/invocations", b"", {"Content-Length": "-5"}, 400),
    ("non-UTF-8 CSV", "/invocations", b"a,b\n\xff\xfe,1\n", {"Content-Type": "text/csv"}, 400),
]
for what, path, raw, headers, want in cases:
    status, doc, took = ask(path, raw, headers)
    assert status == want, "%s: %d %s" % (what, status, doc)
    assert "error" in doc and took < 5, "%s: %s in %.1f s" % (what, doc, took)
    assert proc.poll() is None, "%s: the runner died" % what
status, doc, _ = ask(infer, b'{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP64","data":[0,0,3,3]}]}')
assert status == 200 and doc["outputs"][0]["data"] == [0, 1], (status, doc)
proc.terminate()
proc.wait(10)
print("served checks: %d hostile requests refused, the runner kept serving" % len(cases))
PY
) || fail "served runner: $out"
echo "$out"
pass
done_testing
