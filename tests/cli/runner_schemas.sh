#!/usr/bin/env bash
# The job spec a plugin receives and the job results mlo prints validate
# against schemas/job-spec.schema.json and schemas/job-result.schema.json.
source "$(dirname "$0")/lib.sh"
: "${MLO_SOURCE_DIR:?}"
/usr/bin/python3 -c "import jsonschema" 2>/dev/null || skip "python3-jsonschema is not installed (make deps)"

validate() {  # validate SCHEMA FILE
  /usr/bin/python3 - "$MLO_SOURCE_DIR/schemas/$1" "$2" <<'PY' || fail "$2 does not match $1"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
jsonschema.validate(json.load(open(sys.argv[2])), schema, cls=jsonschema.Draft202012Validator)
PY
  pass
}

new_repo
mkdir -p "$TEST_TMP/bin"
# A plugin that keeps a copy of its spec and reports success.
cat > "$TEST_TMP/bin/mlo-runner-capture" <<PLUGIN
#!/bin/sh
cp "\$2" "$TEST_TMP/spec-\$\$.json"
printf '{"version": 1, "status": "succeeded", "exit_code": 0, "info": {"seen": true}}' > "\$MLO_JOB_RESULT"
PLUGIN
chmod +x "$TEST_TMP/bin/mlo-runner-capture"
export PATH="$TEST_TMP/bin:$PATH"

expect_ok --json runners exec -r capture --cpus 2 --gpus 1 --memory 1G --time 5m -e A=b -- python3 train.py --lr 0.1
echo "$OUT" > result1.json
expect_json "d['info']['seen'] is True"
validate job-result.schema.json result1.json
validate job-spec.schema.json "$(ls "$TEST_TMP"/spec-*.json | head -1)"
rm -f "$TEST_TMP"/spec-*.json
expect_ok runners exec -r capture --shell -- 'echo a | tr a b'
validate job-spec.schema.json "$(ls "$TEST_TMP"/spec-*.json | head -1)"
grep -q '"shell": "echo a | tr a b"' "$TEST_TMP"/spec-*.json || fail "shell form not in the spec"
pass

# Results of the local runner's statuses.
expect_rc 5 --json runners exec -- sh -c 'exit 2'
echo "$OUT" > failed.json && validate job-result.schema.json failed.json
expect_rc 5 --json runners exec --time 0.2 -- sleep 5
echo "$OUT" > timeout.json && validate job-result.schema.json timeout.json
# The schema refuses what it should: a result without status.
echo '{"version": 1}' > bad.json
if /usr/bin/python3 -c "
import json, jsonschema
jsonschema.validate(json.load(open('bad.json')), json.load(open('$MLO_SOURCE_DIR/schemas/job-result.schema.json')))" 2>/dev/null; then
  fail "a result without status passed the schema"
fi
pass
done_testing
