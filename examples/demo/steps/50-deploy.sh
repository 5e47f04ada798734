# Deployment: serve the production model behind mlo's router, send traffic,
# canary a newer version, promote it, roll back, and stop (no process is left
# behind; the request log stays for the monitor step).
step "Deploy: serve a model locally behind mlo's router"
cd "$DEMO_DIR/project"
mkdir -p models
# Two versions of a small classifier in mlo's native JSON model format.
printf '{"format":"mlo-linear","version":1,"task":"classification","features":["petal_length","petal_width"],"coef":[1.1,0.9],"intercept":-4.0,"classes":["setosa","virginica"]}\n' > models/iris-v1.json
printf '{"format":"mlo-linear","version":1,"task":"classification","features":["petal_length","petal_width"],"coef":[1.3,1.2],"intercept":-5.2,"classes":["setosa","virginica"]}\n' > models/iris-v2.json
say mlo deploy iris@1 --artifact models/iris-v1.json --env production
url=$(mlo --json deploy status production | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')
say curl -s "$url/v2/health/ready"; echo
say curl -s -H 'Content-Type: application/json' \
  -d '{"dataframe_split":{"columns":["petal_length","petal_width"],"data":[[1.4,0.2],[5.1,2.3]]}}' "$url/invocations"; echo
say curl -s -H 'Content-Type: application/json' \
  -d '{"inputs":[{"name":"input-0","shape":[1,2],"datatype":"FP64","data":[4.8,1.8]}]}' "$url/v2/models/iris/infer"; echo
send_traffic() {
  for _ in $(seq "$1"); do
    curl -s -o /dev/null -H 'Content-Type: application/json' -d '{"instances":[[4.5,1.5]]}' "$url/invocations"
  done
}
send_traffic 50

step "Canary: 20% of requests to the new version"
say mlo deploy iris@2 --artifact models/iris-v2.json --env production --strategy canary --weight 20
send_traffic 200
say mlo deploy status production

step "Promote the canary, then roll back"
say mlo deploy promote production
send_traffic 20
say mlo deploy rollback production
send_traffic 20
say mlo deploy status production
say mlo deploy history production
say tail -n 1 .mlo/deploy/production/requests.jsonl

step "Stop the deployment (router and runners)"
say mlo deploy stop production
