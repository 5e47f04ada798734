#!/usr/bin/env bash
# The scikit-learn inference runner, --target batch (tracked predictions with
# lineage), --target k8s (manifests checked against the schema), and the
# deployment event index (rebuildable from deploy/ENV/events.jsonl).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"

new_repo
linear_model m1.json 1
printf 'a,b\n1,2\n3,4\n0,0\n' > input.csv

# --target batch with the native runner: predictions tracked by a pointer.
expect_ok --json deploy iris@1 --artifact m1.json --env nightly --target batch --input input.csv --output preds/out.csv
expect_json "d['rows'] == 3 and d['output'] == 'preds/out.csv' and len(d['lineage_record']) == 64"
expect_eq "$(cat preds/out.csv)" "$(printf 'a,b,prediction\n1,2,3.0\n3,4,7.0\n0,0,0.0')" "batch output"
expect_file preds/out.csv.mlo
grep -q "sha256: $(sha256sum preds/out.csv | cut -d' ' -f1)" preds/out.csv.mlo || fail "pointer hash"; pass
grep -q "predictions of iris@1 on input.csv" preds/out.csv.mlo || fail "pointer description"; pass
git check-ignore -q preds/out.csv || fail "predictions not ignored by git"; pass
rec=$(printf '%s' "$OUT" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["lineage_record"])')
OUT=$(cat ".mlo/cache/objects/${rec:0:2}/${rec:2}")
expect_json "d['kind'] == 'mlo-batch-predictions' and d['model'] == 'iris' and d['model_version'] == '1' and d['input'] == 'input.csv'"
# Bad batch inputs.
expect_rc 2 deploy iris@1 --artifact m1.json --env nightly --target batch
expect_err_contains "needs --input"
printf 'a,c\n1,2\n' > wrong.csv
expect_rc 5 deploy iris@1 --artifact m1.json --env nightly --target batch --input wrong.csv
expect_err_contains "missing feature 'b'"
expect_rc 3 deploy iris@1 --artifact m1.json --env nightly --target batch --input nope.csv
expect_rc 2 deploy iris@1 --artifact m1.json --env nightly --target moon
expect_err_contains "unknown target 'moon'"

# --target k8s: Deployment + Service (+ ConfigMap) for replace; a KServe
# InferenceService with canaryTrafficPercent for canary. The pods fetch the
# model from the remote (cli.deploy_k8s_fetch), so there must be one.
expect_ok remote add store "$TEST_TMP/store" --default
expect_ok --json deploy iris@1 --artifact m1.json --env prod --target k8s
expect_json "d['kinds'] == ['ConfigMap', 'Deployment', 'Service'] and d['manifest'] == 'deploy/prod/deployment.yaml'"
expect_file deploy/prod/deployment.yaml
# The runner image the Deployment names has a rendered Dockerfile.
expect_json "d['dockerfile'] == 'deploy/prod/Dockerfile' and d['image'] == 'mlo-serve-native:' + d['image'].split(':')[1]"
expect_file deploy/prod/Dockerfile
grep -qx "FROM debian:bookworm-slim" deploy/prod/Dockerfile || fail "Dockerfile base"; pass
grep -qx "COPY mlo-serve-native /usr/local/bin/mlo-serve-native" deploy/prod/Dockerfile || fail "Dockerfile runner"; pass
grep -q "docker build -t $(grep -m1 'image:' deploy/prod/deployment.yaml | awk '{print $2}' | tr -d '"') -f deploy/prod/Dockerfile" deploy/prod/Dockerfile \
  || fail "the Dockerfile does not build the image the Deployment runs: $(cat deploy/prod/Dockerfile)"; pass
expect_ok --json deploy iris@2 --artifact m1.json --env prod --target k8s --strategy canary --weight 25
expect_json "d['kinds'] == ['ConfigMap', 'InferenceService'] and d['canaryTrafficPercent'] == 25"
/usr/bin/python3 - <<'PY' || fail "rendered YAML"
import yaml
docs = list(yaml.safe_load_all(open("deploy/prod/deployment.yaml")))
kinds = [d["kind"] for d in docs]
assert kinds == ["ConfigMap", "Deployment", "Service"], kinds
dep = docs[1]
c = dep["spec"]["template"]["spec"]["containers"][0]
assert c["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
assert dep["spec"]["selector"]["matchLabels"]["mlo.dev/env"] == "prod"
isvc = list(yaml.safe_load_all(open("deploy/prod/inferenceservice.yaml")))[-1]
assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
assert isvc["spec"]["predictor"]["canaryTrafficPercent"] == 25
assert isvc["metadata"]["annotations"]["mlo.dev/model-version"] == "2"
PY
pass
# --apply without a usable kubectl context says what to run (and does not fail).
expect_ok deploy iris@1 --artifact m1.json --env prod --target k8s --apply
expect_out_contains "kubectl apply -f deploy/prod/deployment.yaml"
expect_rc 2 deploy iris@1 --artifact m1.json --env prod --target k8s --strategy shadow
expect_err_contains "not shadow"

# The event index is rebuilt from the tracked logs.
expect_ok --json deploy history
expect_json "[e['action'] for e in d] == ['batch', 'render', 'render', 'render']"
rm -f .mlo/index.db*
expect_ok --json deploy history
expect_json "[e['action'] for e in d] == ['batch', 'render', 'render', 'render'] and d[0]['detail']['rows'] == 3"
expect_eq "$(cat deploy/*/events.jsonl | wc -l | tr -d ' ')" 4 "tracked events"

# An input outside the repository (scoring /data/incoming.csv is normal): the
# lineage record and the event name it by its absolute path, and the
# tracked predictions go to the repository's top.
mkdir -p "$TEST_TMP/elsewhere/folder"
printf 'a,b\n1,2\n' > "$TEST_TMP/elsewhere/incoming.csv"
incoming="$TEST_TMP/elsewhere/incoming.csv"
expect_ok --json deploy iris@1 --artifact m1.json --env outside --target batch --input "$incoming"
expect_json "d['input'] == '$incoming' and d['output'] == 'incoming.csv.iris-1.predictions.csv' and d['rows'] == 1"
expect_eq "$(cat incoming.csv.iris-1.predictions.csv)" "$(printf 'a,b,prediction\n1,2,3.0')" "outside input scored"
expect_file incoming.csv.iris-1.predictions.csv.mlo
expect_ok --json deploy history outside
expect_json "len(d) == 1 and d[0]['action'] == 'batch' and d[0]['detail']['input'] == '$incoming' and d[0]['detail']['input_sha256'] == '$(sha256sum "$incoming" | cut -d' ' -f1)'"
# Still refused: a folder, a missing file, and predictions written outside.
expect_rc 3 deploy iris@1 --artifact m1.json --env outside --target batch --input "$TEST_TMP/elsewhere/folder"
expect_err_contains "is a folder"
expect_rc 3 deploy iris@1 --artifact m1.json --env outside --target batch --input "$TEST_TMP/elsewhere/none.csv"
expect_err_contains "does not exist"
expect_rc 3 deploy iris@1 --artifact m1.json --env outside --target batch --input "$incoming" --output "$TEST_TMP/elsewhere/p.csv"
expect_err_contains "outside the repository"

# The scikit-learn runner (Debian python3-sklearn through /usr/bin/python3).
if /usr/bin/python3 -c 'import sklearn, joblib' 2>/dev/null; then
  /usr/bin/python3 - <<'PY'
import joblib, numpy as np
from sklearn.linear_model import LogisticRegression
x = np.array([[0, 0], [1, 1], [0, 1], [1, 0], [2, 2], [3, 3]], dtype=float)
y = np.array([0, 1, 0, 0, 1, 1])
joblib.dump(LogisticRegression().fit(x, y), "clf.joblib")
PY
  expect_ok --json deploy clf@1 --artifact clf.joblib --env sk
  expect_json "d['version'] == '1'"
  port=$(router_port sk)
  OUT=$(curl -s -H 'Content-Type: application/json' -d '{"instances":[[0,0],[3,3]]}' http://127.0.0.1:$port/invocations)
  expect_json "d == {'predictions': [0, 1]}"
  OUT=$(curl -s -H 'Content-Type: application/json' -d '{"inputs":[{"name":"input-0","shape":[1,2],"datatype":"FP64","data":[3,3]}]}' http://127.0.0.1:$port/v2/models/clf/infer)
  expect_json "d['outputs'][0]['data'] == [1] and d['model_version'] == '1'"
  OUT=$(curl -s -H 'Content-Type: application/json' -d '{"instances":[[1]]}' http://127.0.0.1:$port/invocations)
  expect_json "'expects 2' in d['error']"
  OUT=$(curl -s http://127.0.0.1:$port/v2/models/clf)
  expect_json "d['platform'] == 'sklearn'"
  expect_ok deploy stop sk
  printf '0,0\n3,3\n' > xs.csv
  expect_ok --json deploy clf@1 --artifact clf.joblib --env nightly --target batch --input xs.csv --output xs.pred.csv
  expect_json "d['rows'] == 2"
  grep -q '^3.0,3.0,1$' xs.pred.csv || fail "sklearn batch output: $(cat xs.pred.csv)"; pass
else
  echo "note: python3-sklearn missing; skipped the scikit-learn runner part"
fi

done_testing
