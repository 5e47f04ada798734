#!/usr/bin/env bash
# Positional request logs ({"instances": [[...]]}, Open Inference [n, k]
# tensors, headerless text/csv bodies) are monitored under the model's column
# names: the signature recorded at register (given with --signature, or
# inferred from the model file or the columns of its training data).
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
new_repo msig
mkdir -p data
$PY - <<'PYEOF'
import random
r = random.Random(1)
with open("data/train.csv", "w") as f:
    f.write("a,b,y\n")
    for i in range(600):
        a, b = r.gauss(0, 1), r.gauss(5, 2)
        f.write(f"{a:.4f},{b:.4f},{2 * a + b:.4f}\n")
PYEOF
printf '{"format":"mlo-linear","version":1,"task":"regression","features":["a","b"],"coef":[2,1],"intercept":0}\n' > linear.json
cat > mlo.yaml <<'YAML'
stages:
  train:
    cmd: wc -l data/train.csv > model.bin
    deps: [data/train.csv]
    outs: [model.bin]
YAML
git add -A && git commit -qm init

# inferred: from the model file's features; from the training data's columns minus the target
expect_ok --json register lin linear.json
expect_json "[i['name'] for i in d['signature']['inputs']] == ['a', 'b'] and 'features' in d['signature']['inferred_from']"
expect_ok run -q
expect_ok --json register opaque --stage train
expect_json "[i['name'] for i in d['signature']['inputs']] == ['a', 'b'] and \"target 'y'\" in d['signature']['inferred_from']"
expect_ok --json register opaque2 --stage train --target a
expect_json "[i['name'] for i in d['signature']['inputs']] == ['b', 'y']"
expect_rc 3 register opaque3 --stage train --target yy
expect_err_contains "did you mean 'y'?"
# given: --signature wins over inference
printf '{"inputs": [{"name": "b"}, {"name": "a"}]}\n' > sig.json
expect_ok --json register given linear.json --signature sig.json
expect_json "[i['name'] for i in d['signature']['inputs']] == ['b', 'a'] and 'inferred_from' not in d['signature']"

# a request log answered by lin@v0.0.1: instances, an [n, 2] tensor, a headerless CSV body
$PY - <<'PYEOF'
import json, random
r = random.Random(2)
rows = lambda n: [[round(r.gauss(0, 1), 4), round(r.gauss(5, 2), 4)] for _ in range(n)]
base = {"ts": "2026-01-01T00:00:00Z", "env": "prod", "model": "lin", "version": "v0.0.1", "role": "primary",
        "method": "POST", "status": 200, "latency_ms": 1.0}
with open("requests.jsonl", "w") as f:
    for i in range(100):
        x = rows(3)
        f.write(json.dumps(dict(base, route="/invocations", inputs={"instances": x}, outputs={"predictions": [0, 0, 0]})) + "\n")
        flat = [v for row in rows(2) for v in row]
        f.write(json.dumps(dict(base, route="/v2/models/lin/infer",
                                inputs={"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP64", "data": flat}]},
                                outputs={"outputs": [{"name": "predict", "shape": [2], "datatype": "FP64", "data": [0, 0]}]})) + "\n")
        csv = "\n".join(",".join(str(v) for v in row) for row in rows(2)) + "\n"
        f.write(json.dumps(dict(base, route="/invocations", inputs=csv, outputs={"predictions": [0, 0]})) + "\n")
PYEOF
expect_ok monitor --no-record --json -r data/train.csv -c requests.jsonl --ignore y
expect_json "d['current']['rows'] == 700 and {m['result']['column_name'] for m in d['metrics'] if m['metric'] == 'ColumnDriftMetric'} == {'a', 'b'} and d['summary']['drift'] == 'ok'"
expect_out_not_contains "input_0"
# the same log answered by an unregistered model keeps positional names (nothing to rename by)
sed 's/"model": "lin"/"model": "other"/' requests.jsonl > other.jsonl
expect_ok monitor --no-record --json -r data/train.csv -c other.jsonl --ignore y
expect_out_contains "input_0"
done_testing
