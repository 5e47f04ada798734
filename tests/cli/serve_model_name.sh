#!/usr/bin/env bash
# A model name in a folder (team.ml:churn) is served (issue 23): the router
# percent-encodes it when it reads the runner's metadata (the class
# order it logs beside MLflow answers), and both runners decode
# /v2/models/team.ml%3Achurn, as a client that encodes ':' sends it (they
# answered 404). A name that needs encoding ('/', space) cannot be deployed.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"
# last_log_line N: the request log's last line once it has N lines (the router writes it every 100 ms).
last_log_line() {
  for _ in $(seq 300); do
    [ "$(wc -l <.mlo/deploy/prod/requests.jsonl)" -ge "$1" ] && break
    sleep 0.1
  done
  tail -1 .mlo/deploy/prod/requests.jsonl
}

# served RUNNER COLUMNS LINES: the runner answers metadata for the encoded
# name through the router, and an MLflow predict_proba request whose log line
# (the LINES-th) carries the class order the router read from that metadata.
served() {
  local out line
  out=$(curl -sS -w ' %{http_code}' "http://127.0.0.1:$port/v2/models/team.ml%3Achurn") || fail "$1 metadata: $out"
  case $out in *'"team.ml:churn"'*' 200') pass ;; *) fail "metadata of team.ml:churn from the $1 runner: $out" ;; esac
  out=$(curl -sS -w ' %{http_code}' -H 'Content-Type: application/json' \
    -d '{"dataframe_split":{"columns":'"$2"',"data":[[2,0]]},"params":{"predict_method":"predict_proba"}}' \
    "http://127.0.0.1:$port/invocations") || fail "$1 invocations: $out"
  case $out in *' 200') pass ;; *) fail "MLflow predict_proba on the $1 team.ml:churn: $out" ;; esac
  line=$(last_log_line "$3")
  case $line in *'"classes":["churn","stay"]'*) pass ;; *) fail "no class order in the request log for the $1 team.ml:churn: $line" ;; esac
}

new_repo
printf '{"format":"mlo-linear","version":1,"task":"classification","features":["a","b"],"coef":[[1,0],[0,1]],"intercept":[0,0],"classes":["churn","stay"]}\n' >clf.json
expect_ok deploy team.ml:churn@1 --artifact clf.json --env prod
port=$(router_port prod)
served native '["a","b"]' 1
out=$(curl -sS -w ' %{http_code}' -H 'Content-Type: application/json' \
  -d '{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP64","data":[2,1]}]}' \
  "http://127.0.0.1:$port/v2/models/team.ml%3Achurn/infer") || fail "infer: $out"
case $out in *'"churn"'*' 200') pass ;; *) fail "infer on team.ml:churn: $out" ;; esac

# The scikit-learn runner decodes the name too.
/usr/bin/python3 -c 'import sklearn, joblib' 2>/dev/null ||
  fail "python3-sklearn and python3-joblib are needed (.ci/debian-packages.txt)"
/usr/bin/python3 - <<'PY' || fail "fitting the model"
import joblib, numpy as np
from sklearn.linear_model import LogisticRegression
X = np.array([[0.0, 1], [1, 0], [0, 2], [2, 0]])
joblib.dump(LogisticRegression().fit(X, ["stay", "churn", "stay", "churn"]), "churn.joblib")
PY
expect_ok deploy team.ml:churn@2 --artifact churn.joblib --env prod
served scikit-learn '["f0","f1"]' 3
expect_ok deploy stop prod
