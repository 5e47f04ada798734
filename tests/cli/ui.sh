#!/usr/bin/env bash
# mlo ui over HTTP (curl): every page answers from a real repo; hostile names
# in records and requests come back escaped; bad addresses are 4xx, never a
# crash; loopback-only Host check; a token on non-loopback hosts; read-only;
# Ctrl-C stops it. The real-browser checks are in ui_browser.sh.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ui.sh"
make_ui_repo
start_ui
base=${UI_URL%/}

# get PATH [CURL ARGS...] : sets STATUS and BODY.
get() {
  local path=$1; shift
  BODY=$(curl -s -o - -w '\n%{http_code}' "$@" "$base$path") || fail "curl $path failed"
  STATUS=${BODY##*$'\n'}; BODY=${BODY%$'\n'*}
}
body_has() { [[ "$BODY" == *"$1"* ]] || fail "page lacks '$1': ${BODY:0:3000}"; pass; }
body_lacks() { [[ "$BODY" != *"$1"* ]] || fail "page unexpectedly has '$1'"; pass; }
status_is() { [ "$STATUS" = "$1" ] || fail "expected HTTP $1, got $STATUS: ${BODY:0:500}"; pass; }

get /
status_is 200
body_has "$RUN_A"
body_has "$RUN_B"
# The hostile param name and stage are text, never markup.
body_has "&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;"
body_lacks "<img src=x"
body_has "&lt;b&gt;evil&lt;/b&gt;"
body_lacks "<script"
headers=$(curl -s -D - -o /dev/null "$base/")
[[ "$headers" == *"Content-Security-Policy: default-src 'none'"* ]] || fail "no CSP header: $headers"; pass

get "/?where=metrics.acc%3E0.96"
body_has "$RUN_B"
body_lacks "$RUN_A"
get "/?where=%3Cscript%3Ealert(1)%3C/script%3E"
status_is 400
body_lacks "<script>"
body_has "&lt;script&gt;"
get "/?$(printf 'a=1&%.0s' $(seq 1 70))"
status_is 400

get "/run/$RUN_A"
status_is 200
body_has "Metric series"
body_has "loss"
get "/compare?run=$RUN_A&run=$RUN_B"
status_is 200
[ "$(grep -o "class='series'" <<<"$BODY" | wc -l)" = 2 ] || fail "compare: not two curves"; pass
body_has "data-name='$RUN_A train'"
body_has "data-name='$RUN_B train'"

get "/scatter?x=params.train.lr&y=metrics.acc"
status_is 200
body_has "train: params.train.lr 0.25, metrics.acc 0.975"
body_has "train: params.train.lr 0.5, metrics.acc 0.95"
get "/scatter?x=params.train.lr"
status_is 400

get /models
body_has "churn"
get /model/churn
status_is 200
body_has "v0.0.1"
get "/lineage?target=churn%40v0.0.1"
status_is 200
for kind in data run model_version; do body_has "data-kind='$kind'"; done
body_has "href='/run/$RUN_A'"
# The whole graph, nodes and edges, against the one this pipeline makes:
# churn@v0.0.1 was registered from stage train's run at that commit (RUN_A),
# which read the deps mlo.yaml names; nothing else (a missing or an extra
# node or edge fails).
printf '%s' "$BODY" >lineage.html
/usr/bin/python3 - "$RUN_A" <<'PY' || fail "the lineage graph of churn@v0.0.1 differs from the pipeline's"
import html, re, sys, yaml
run = sys.argv[1]
deps = yaml.safe_load(open("mlo.yaml"))["stages"]["train"]["deps"]
want_nodes = {"model_version:churn@v0.0.1", f"run:{run}"} | {f"data:{d}" for d in deps}
want_edges = {(f"run:{run}", "model_version:churn@v0.0.1")} | {(f"data:{d}", f"run:{run}") for d in deps}
page = open("lineage.html").read()
nodes = {html.unescape(k + ":" + i) for k, i in re.findall(r"class='node' data-kind='([^']*)' data-id='([^']*)'", page)}
edges = {(html.unescape(a), html.unescape(b)) for a, b in re.findall(r"class='edge' data-from='([^']*)' data-to='([^']*)'", page)}
assert nodes == want_nodes, f"nodes: extra {nodes - want_nodes}, missing {want_nodes - nodes}"
assert edges == want_edges, f"edges: extra {edges - want_edges}, missing {want_edges - edges}"
assert len(re.findall(r"class='edge'", page)) == len(want_edges), "an edge drawn twice"
PY
pass
get /audit
body_has "churn"
# One model's audit page: the events `mlo audit churn` lists, newest first.
expect_ok --json audit churn
printf '%s' "$OUT" >audit.json
get "/audit?model=churn"
printf '%s' "$BODY" >audit.html
/usr/bin/python3 - <<'PY' || fail "the audit page of churn differs from mlo audit churn"
import json, re
want = [e["event"] for e in reversed(json.load(open("audit.json")))]
rows = re.findall(r"<tr>(.*?)</tr>", open("audit.html").read().split("<h1>", 1)[1], re.S)[1:]
got = [re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)[2] for r in rows]
assert want and got == want, (got, want)
PY
pass
get /plots
status_is 200
body_has "HEAD: step 2, loss 0.25"
body_has "workspace: step 2, loss 0.125"
get /monitors
status_is 200
body_has "class='heatmap'"
result=$(grep -o "/monitor/result/[0-9a-f]\{64\}" <<<"$BODY" | head -1)
[ -n "$result" ] || fail "no result link on /monitors"; pass
get "$result"
status_is 200
get /deployments
status_is 200
body_has "no deployments"

# Hostile or unknown addresses: 4xx with an escaped message, never 500.
for path in "/run/..%2F..%2Fetc%2Fpasswd" "/run/%3Cimg%3E" "/model/nope" "/monitor/result/$(printf 'f%.0s' $(seq 1 64))" \
            "/lineage?target=%3Cx%3E" "/nope" "/?sort=params.a%27" "/?page=-1&n=999999999999"; do
  get "$path"
  [[ "$STATUS" == 4* || ( "$path" == "/?page=-1"* && "$STATUS" == 200 ) ]] || fail "$path answered $STATUS"; pass
  body_lacks "<img>"
done
get / -X POST
status_is 405
get / -H "Host: evil.example"
status_is 403

# The port is taken: exit 3 with a message.
port=${base##*:}
expect_rc 3 ui --port "$port"
# Outside a repository.
(cd "$TEST_TMP" && "$MLO" ui --port 0 >/dev/null 2>&1); [ $? = 3 ] || fail "mlo ui outside a repo did not exit 3"; pass

# A non-loopback host: the token is required on every request.
start_ui --host 0.0.0.0
[[ "$UI_URL" == *"?token="* ]] || fail "no token in $UI_URL"; pass
token=${UI_URL##*token=}
tport=$(sed 's|http://[^:]*:\([0-9]*\)/.*|\1|' <<<"$UI_URL")
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$tport/models"); expect_eq "$code" 401 "no token"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$tport/models?token=wrong$token"); expect_eq "$code" 401 "bad token"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$tport/models"); expect_eq "$code" 200 "bearer"
cookie=$(curl -s -D - -o /dev/null "http://127.0.0.1:$tport/?token=$token" | grep -i '^set-cookie')
[[ "$cookie" == *"mlo_ui_token=$token"*"HttpOnly"* ]] || fail "no HttpOnly cookie: $cookie"; pass
code=$(curl -s -o /dev/null -w '%{http_code}' -b "mlo_ui_token=$token" "http://127.0.0.1:$tport/audit"); expect_eq "$code" 200 "cookie"

# Ctrl-C stops it with 130.
kill -INT "$UI_PID"
for _ in $(seq 1 50); do kill -0 "$UI_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$UI_PID" 2>/dev/null && fail "mlo ui still running 5 s after SIGINT"
wait "$UI_PID"; expect_eq "$?" 130 "exit status after Ctrl-C"
done_testing
