#!/usr/bin/env bash
# deployments.ENV.validate_requests (issue 17): a registered model served by
# the native runner; request rows that break the contract of its training
# data (type, range, allowed values, nulls) are logged and counted (warn) or
# answered 422 with the failing checks (reject), in MLflow JSON and CSV and
# Open Inference Protocol bodies; the counts are in deploy status.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"
PY=/usr/bin/python3

new_repo
mkdir data
$PY - <<'PYEOF'
with open("data/train.csv", "w") as f:
    f.write("a,b,y\n")
    for i in range(40):
        a, b = i / 4, 1 + i % 3
        f.write(f"{a},{b},{2 * a + b}\n")
PYEOF
expect_ok data add data/train.csv
cat > mlo.yaml <<'YAML'
stages:
  train:
    cmd: >-
      printf '{"format":"mlo-linear","version":1,"task":"regression","features":["a","b"],"coef":[2,1],"intercept":0}' > model.json
    deps: [data/train.csv]
    outs: [model.json]
checks:
  data/train.csv:
    columns:
      a: {type: number, min: 0, max: 10, nullable: false}
      b: {type: integer, in: [1, 2, 3]}
deployments:
  prod:
    validate_requests: warn
  strict:
    validate_requests: reject
YAML
git add -A && git commit -qm project || fail commit
expect_ok run -q
git add -A && git commit -qm trained || fail commit
expect_ok --json register m --stage train
expect_json "d['version'] == 'v0.0.1' and [i['name'] for i in d['signature']['inputs']] == ['a', 'b']"

# post PORT PATH BODY [TYPE] : STATUS and BODY of one request.
post() {
  OUT=$(curl -s -H "Content-Type: ${4:-application/json}" -d "$3" -w '\n%{http_code}' "http://127.0.0.1:$1$2")
  CODE=${OUT##*$'\n'}
  OUT=${OUT%$'\n'*}
}
GOOD='{"dataframe_split":{"columns":["a","b"],"data":[[1.5,2],[3,1]]}}'
# row 1 breaks a's range and b's set; row 2 b's type and set (and, in NULLS, a's nullable)
BAD='{"dataframe_records":[{"a":1,"b":2},{"a":-1,"b":5},{"a":3,"b":2.5}]}'
NULLS='{"dataframe_records":[{"a":1,"b":2},{"a":-1,"b":5},{"a":null,"b":2.5}]}'

# ---- warn: answered by the model, logged with the failures, counted
expect_ok deploy m@v0.0.1 --env prod
port=$(router_port prod)
post "$port" /invocations "$GOOD"
expect_eq "$CODE" 200 "a valid request (warn)"
post "$port" /invocations "$BAD"
expect_eq "$CODE" 200 "an invalid request is still answered (warn)"
sleep 0.4  # the request log is flushed every 100 ms
tail -1 .mlo/deploy/prod/requests.jsonl > "$TEST_TMP/line.json"
OUT=$(cat "$TEST_TMP/line.json")
expect_json "d['status'] == 200 and sorted((c['row'], c['check'], c['column']) for c in d['contract']) == [(1, 'in', 'b'), (1, 'range', 'a'), (2, 'in', 'b'), (2, 'type', 'b')]"
expect_ok --json deploy status prod
expect_json "d['request_validation'] == {'mode': 'warn', 'checked': 2, 'invalid': 1, 'rejected': 0, 'failures': {'range a': 1, 'in b': 2, 'type b': 1}}"
expect_ok deploy status prod
expect_out_contains "requests checked against the training data's contract (warn): 2, invalid 1, rejected 0"

# ---- reject: 422 with the failing checks; valid rows still served
expect_ok deploy m@v0.0.1 --env strict
sport=$(router_port strict)
post "$sport" /invocations "$NULLS"
expect_eq "$CODE" 422 "an invalid request (reject)"
expect_json "len(d['checks']) == 5 and d['checks'][0] == {'check': 'range', 'column': 'a', 'row': 1, 'value': '-1'} and 'data/train.csv (mlo.yaml:' in d['error']"
post "$sport" /invocations "$GOOD"
expect_eq "$CODE" 200 "a valid request (reject)"
expect_json "d['predictions'] == [5.0, 7.0]"
# positional rows take the signature's names: MLflow instances, CSV, and OIP v2
post "$sport" /invocations '{"instances":[[4,3],[11,1]]}'
expect_eq "$CODE" 422 "positional rows (instances)"
expect_json "[(c['check'], c['column'], c['row']) for c in d['checks']] == [('range', 'a', 1)]"
post "$sport" /invocations $'a,b\n1,7\n' text/csv
expect_eq "$CODE" 422 "CSV with a header"
expect_json "[(c['check'], c['column'], c['value']) for c in d['checks']] == [('in', 'b', '7')]"
post "$sport" /invocations $'1,2\n2,3\n' text/csv
expect_eq "$CODE" 200 "CSV without a header"
post "$sport" /v2/models/m/infer '{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP64","data":[1,2,3,9]}]}'
expect_eq "$CODE" 422 "OIP v2, one tensor"
expect_json "[(c['check'], c['column'], c['row']) for c in d['checks']] == [('in', 'b', 1)]"
post "$sport" /v2/models/m/infer '{"inputs":[{"name":"a","shape":[1],"datatype":"FP64","data":[20]},{"name":"b","shape":[1],"datatype":"INT64","data":[1]}]}'
expect_eq "$CODE" 422 "OIP v2, a tensor per feature"
expect_json "[(c['check'], c['column']) for c in d['checks']] == [('range', 'a')]"
post "$sport" /v2/models/m/infer '{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP64","data":[1,2]}]}'
expect_eq "$CODE" 200 "OIP v2, valid"
sleep 0.4
expect_eq "$(grep -c '"status":422' .mlo/deploy/strict/requests.jsonl)" 5 "refused requests in the log"
expect_ok --json deploy status strict
expect_json "d['request_validation']['checked'] == 8 and d['request_validation']['invalid'] == 5 and d['request_validation']['rejected'] == 5"

# CSV bodies are split as CSV files are (RFC 4180): a quoted comma stays in
# its field, a doubled quote is one quote; bad quoting is a 400 naming the line
post "$sport" /invocations $'"a","b"\n"1,5",2\n3,"1"\n' text/csv
expect_eq "$CODE" 422 "CSV with a quoted comma"
expect_json "[(c['check'], c['column'], c['row'], c['value']) for c in d['checks']] == [('type', 'a', 0, '1,5')]"
post "$sport" /invocations $'a,b\n2,""""\n' text/csv
expect_eq "$CODE" 422 "CSV with a doubled quote"
expect_json "[(c['check'], c['column'], c['value']) for c in d['checks']] == [('type', 'b', '\"'), ('in', 'b', '\"')]"
post "$sport" /invocations $'a,b\n1,2\n3,1"x\n' text/csv
expect_eq "$CODE" 400 "CSV with bad quoting"
expect_json "'bad CSV quoting in line 3' in d['error'] and 'RFC 4180' in d['error']"
post "$sport" /invocations $'a,b\n"1",2\n' text/csv
expect_eq "$CODE" 200 "a quoted valid CSV request after a bad one"
expect_json "d['predictions'] == [4.0]"
expect_ok --json deploy status strict
expect_json "d['request_validation']['failures'].get('format') == 1"

# ---- a model without recorded training data: served unchecked, with a note
linear_model plain.json 1
expect_ok deploy plain@1 --artifact plain.json --env prod
expect_ok --json deploy status prod
expect_json "any('names no training data' in n['message'] for n in d['notices'])"

# ---- a bad mode: exit 3 naming the line
sed -i 's|validate_requests: reject|validate_requests: maybe|' mlo.yaml
expect_rc 3 deploy m@v0.0.1 --env strict
expect_err_contains "validate_requests"

done_testing
