#!/usr/bin/env bash
# --target k8s deploys a registered version without baking it into an image
# (issue 15): the Deployment's init container fetches the artifact from the
# remote by its hash into an emptyDir at /models, where the runner reads it.
# Checked by rendering (structure, with python), and by running the rendered
# fetch script itself, as the init container would, against the real remote:
# it gets the exact bytes; a remote without them fails the pod's start.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
new_repo
printf '{"format":"mlo-linear","version":1,"task":"regression","features":["a","b"],"coef":[1,1],"intercept":0}\n' > m1.json
sha=$(sha256sum m1.json | cut -d' ' -f1)

# no remote: nowhere for the pods to fetch from
expect_ok register iris m1.json --version v1.0.0
expect_rc 3 deploy iris@v1.0.0 --env prod --target k8s
expect_err_contains "the pods fetch the model from a remote by its hash"
expect_err_contains "mlo push"

mkdir "$TEST_TMP/store"
expect_ok remote add store "$TEST_TMP/store" --default
expect_ok remote modify store jobs 2
expect_ok push
expect_ok --json deploy iris@v1.0.0 --env prod --target k8s
expect_json "d['kinds'] == ['ConfigMap', 'Deployment', 'Service']"
mkdir -p "$TEST_TMP/pod/etc" "$TEST_TMP/pod/models"
$PY - "$sha" "$TEST_TMP/pod/etc" <<'PY' || fail "the rendered init step: $(cat deploy/prod/deployment.yaml)"
import os, sys, yaml
sha, etc = sys.argv[1:3]
cm, dep, svc = yaml.safe_load_all(open("deploy/prod/deployment.yaml"))
pod = dep["spec"]["template"]["spec"]
init, = pod["initContainers"]
run, = pod["containers"]
assert init["name"] == "fetch-model" and init["image"] == run["image"], init
assert init["command"] == ["/bin/sh", "/etc/mlo/fetch-model.sh"], init["command"]
env = {e["name"]: e["value"] for e in init["env"]}
assert env["MLO_CONFIG_DIR"] == "/etc/mlo" and env["MLO_MODELS_DIR"] == "/models", env
assert init["envFrom"] == [{"secretRef": {"name": "mlo-remote", "optional": True}}], init["envFrom"]
vols = {v["name"]: v for v in pod["volumes"]}
assert vols["models"] == {"name": "models", "emptyDir": {}}, vols   # no PVC to fill by hand
assert vols["spec"]["configMap"]["name"] == cm["metadata"]["name"]
mounts = lambda c: {m["name"]: m for m in c["volumeMounts"]}
assert mounts(init)["models"]["mountPath"] == "/models" and not mounts(init)["models"].get("readOnly")
assert mounts(run)["models"]["mountPath"] == "/models" and mounts(run)["models"]["readOnly"] is True
assert mounts(init)["spec"]["mountPath"] == "/etc/mlo"
assert dep["metadata"]["annotations"]["mlo.dev/artifact-sha256"] == sha
data = cm["data"]
assert set(data) == {"spec.json", "model.mlo", "fetch-model.sh"}, set(data)
ptr = yaml.safe_load(data["model.mlo"])
assert ptr["sha256"] == sha and ptr["size"] == os.path.getsize("m1.json"), ptr
assert '"/models/m1.json"' in data["spec.json"].replace(" ", ""), data["spec.json"]
script = data["fetch-model.sh"]
assert "sha256sum -c" in script and "mlo -q pull 'm1.json'" in script, script
assert "mlo -q remote modify 'store' 'jobs' '2'" in script, script   # the remote as configured here
for k, v in data.items():
    open(os.path.join(etc, k), "w").write(v)
PY
pass
grep -qx "COPY mlo /usr/local/bin/mlo" deploy/prod/Dockerfile || fail "the image lacks mlo: $(cat deploy/prod/Dockerfile)"; pass
grep -q "git libgit2-1.5 libcurl4" deploy/prod/Dockerfile || fail "the image lacks git/libgit2/libcurl"; pass

# the init step, run as the pod would: the exact bytes, by hash, from the remote
bin="$TEST_TMP/bin" && mkdir -p "$bin" && ln -s "$MLO" "$bin/mlo"
pod() {
  (cd "$TEST_TMP/pod" && env -i PATH="$bin:/usr/bin:/bin" HOME="$TEST_TMP/pod" MLO_CONFIG_DIR="$TEST_TMP/pod/etc" \
    MLO_MODELS_DIR="$TEST_TMP/pod/models" /bin/sh "$TEST_TMP/pod/etc/fetch-model.sh")
}
OUT=$(pod 2>&1) || fail "the fetch step failed: $OUT"
expect_out_contains "fetched iris@v1.0.0 (sha256 $sha)"
expect_eq "$(sha256sum < "$TEST_TMP/pod/models/m1.json" | cut -d' ' -f1)" "$sha" "the fetched artifact's hash"

# a remote without the artifact: the step fails (Kubernetes retries the pod)
rm -rf "$TEST_TMP/store"/* "$TEST_TMP/pod/models/m1.json"
if OUT=$(pod 2>&1); then fail "the fetch step succeeded without the artifact: $OUT"; fi; pass
[ ! -e "$TEST_TMP/pod/models/m1.json" ] || fail "a model file appeared without a fetch"; pass
# a canary's KServe predictor is a pod spec too: the same fetch step, and a
# ConfigMap of its own version (the version before it keeps reading its own)
printf '{"format":"mlo-linear","version":1,"task":"regression","features":["a","b"],"coef":[2,2],"intercept":0}\n' > m2.json
expect_ok register iris m2.json --version v2.0.0
expect_ok --json deploy iris@v2.0.0 --env prod --target k8s --strategy canary --weight 10
expect_json "d['kinds'] == ['ConfigMap', 'InferenceService']"
$PY - "$(sha256sum m2.json | cut -d' ' -f1)" <<'PY' || fail "the canary's init step: $(cat deploy/prod/inferenceservice.yaml)"
import sys, yaml
cm, isvc = yaml.safe_load_all(open("deploy/prod/inferenceservice.yaml"))
old_cm = next(yaml.safe_load_all(open("deploy/prod/deployment.yaml")))
assert cm["metadata"]["name"] != old_cm["metadata"]["name"], cm["metadata"]["name"]
p = isvc["spec"]["predictor"]
assert p["canaryTrafficPercent"] == 10 and p["containers"][0]["name"] == "kserve-container"
assert p["initContainers"][0]["command"] == ["/bin/sh", "/etc/mlo/fetch-model.sh"]
assert {v["name"]: v for v in p["volumes"]}["spec"]["configMap"]["name"] == cm["metadata"]["name"]
assert {v["name"]: v for v in p["volumes"]}["models"] == {"name": "models", "emptyDir": {}}
assert yaml.safe_load(cm["data"]["model.mlo"])["sha256"] == sys.argv[1]
PY
pass

# ConfigMaps carry their version as a label (the Deployment's selector does
# not: it is immutable), and the render says how to delete the ones no pod
# reads: a canary keeps its own and the version rendered before it.
$PY <<'PY' || fail "ConfigMap labels"
import yaml
new = next(yaml.safe_load_all(open("deploy/prod/inferenceservice.yaml")))
old, dep, _ = yaml.safe_load_all(open("deploy/prod/deployment.yaml"))
assert new["metadata"]["labels"]["mlo.dev/model-version"] == "v2-0-0", new["metadata"]
assert old["metadata"]["labels"]["mlo.dev/model-version"] == "v1-0-0", old["metadata"]
assert "mlo.dev/model-version" not in dep["spec"]["selector"]["matchLabels"]
PY
pass
# kubectl ARGS: prints its arguments one a line (the prune command run through sh).
printf '#!/bin/sh\nprintf "%%s\\n" "$@"\n' >"$bin/kubectl" && chmod +x "$bin/kubectl"
prune_args() { PATH="$bin:$PATH" /bin/sh -c "$1"; }
sel='app.kubernetes.io/managed-by=mlo,app.kubernetes.io/name=iris,mlo.dev/env=prod,mlo.dev/model-version'
expect_json "d['prune_command'].startswith('kubectl delete configmap')"
expect_eq "$(prune_args "$($PY -c 'import json,sys; print(json.load(sys.stdin)["prune_command"])' <<<"$OUT")")" \
  "$(printf '%s\n' delete configmap -n default -l "$sel notin (v2-0-0,v1-0-0)")" "a canary's prune command"
expect_ok deploy iris@v2.0.0 --env prod --target k8s
expect_out_contains "delete the ConfigMaps of versions no pod reads"
expect_ok --json deploy iris@v2.0.0 --env prod --target k8s
expect_eq "$(prune_args "$($PY -c 'import json,sys; print(json.load(sys.stdin)["prune_command"])' <<<"$OUT")")" \
  "$(printf '%s\n' delete configmap -n default -l "$sel notin (v2-0-0)")" "a replace's prune command"
done_testing
