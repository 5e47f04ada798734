#!/usr/bin/env bash
# What the fuzz targets found (issue 11; the inputs are replayed by fuzz.*),
# seen through the commands: hand-edited or teammates' files that made mlo
# exit 70 ("internal error") now get a clear error (exit 3) or are read.
source "$(dirname "$0")/lib.sh"

new_repo a
mkdir -p models && printf 'weights\n' >models/m.bin
expect_ok data add models/m.bin
git add -A && git commit -qm model || fail "commit"
expect_ok register m models/m.bin --version v1.0.0

# mlo.lock whose version is not a number (was: type_error, exit 70).
printf 'stages:\n  s:\n    cmd: "true"\n' >mlo.yaml
printf 'version: x\nstages: {}\n' >mlo.lock
expect_rc 3 run
expect_err_contains "mlo.lock: not a version 1 mlo.lock"
rm mlo.lock

# mlo.yaml that is not a mapping, read by the registry (was: yaml-cpp's
# "operator[] call on a scalar", exit 70).
printf 'just a line\n' >mlo.yaml
expect_rc 3 promote m@v1.0.0 --to dev
expect_err_contains "mlo.yaml: expected a mapping of sections"
# A list or mapping used as a key, anywhere in a YAML file (was: bad conversion, exit 70).
printf 'models:\n  ? [a, b]\n  : {path: x}\n' >mlo.yaml
expect_rc 3 promote m@v1.0.0 --to dev
expect_err_contains "mlo.yaml:2:5: a key must be a plain name, not a list"
rm mlo.yaml
cp .mlo/config.yaml "$TEST_TMP/config.yaml"
printf 'remotes:\n  ? {a: 1}\n  : {url: /x}\n' >>.mlo/config.yaml
expect_rc 3 remote ls
expect_err_contains "a key must be a plain name, not a mapping"
# Aliases that expand a small file into billions of values.
{ echo 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]'
  for i in $(seq 1 9); do echo "a$i: &a$i [*a$((i - 1)), *a$((i - 1)), *a$((i - 1)), *a$((i - 1)), *a$((i - 1)), *a$((i - 1)), *a$((i - 1)), *a$((i - 1)), *a$((i - 1)), *a$((i - 1))]"; done
} >params.yaml
printf 'stages:\n  s:\n    cmd: "true"\n    params: [a9]\n' >mlo.yaml
cp "$TEST_TMP/config.yaml" .mlo/config.yaml
expect_rc 3 run
expect_err_contains "params.yaml: the YAML document expands to more than 1000000 values"
rm mlo.yaml params.yaml

# A registry tag whose metadata has odd types (was: type_error, exit 70 in
# every registry command).
git tag -a 'm#staging#2' -m 'Assigning stage staging to artifact m version v1.0.0

mlo-metadata:
{"event": 7, "forced": "yes", "version": ["v1.0.0"], "time_ms": "now", "artifact": "none"}' HEAD ||
  fail "git tag"
expect_ok models history m
expect_ok --json models show m
expect_json "d['stages'].get('staging') == ['v1.0.0']"
expect_ok index rebuild
expect_ok --json models show m
expect_json "d['stages'].get('staging') == ['v1.0.0']"

# Monitoring data that is not UTF-8 (was: type_error on the profile cache, exit 70).
printf 'city,x\nPar\x97is,1\nLyon,2\n' >ref.csv
printf 'city,x\nPar\x97is,1\nNice,3\n' >cur.csv
run_mlo monitor --reference ref.csv --current cur.csv
[ "$RC" = 0 ] || [ "$RC" = 1 ] || fail "monitor on non-UTF-8 data exited $RC: $ERR"
pass
# Request-log lines with odd types and deep nesting (was: type_error, exit 70).
{ printf '%s\n' '{"ts":1,"status":200,"inputs":{"inputs":[{"name":"x","shape":[2,1],"datatype":"FP64","data":[1,2]}]},"outputs":{"outputs":[{"name":[1],"data":[0,1]}]}}'
  printf '%s\n' '{"ts":2,"status":"200","role":7,"inputs":{"instances":[[3]]},"outputs":{"predictions":[1]}}'
  printf '{"ts":3,"inputs":{"instances":%s}}\n' "$(printf '[%.0s' $(seq 1 200))$(printf ']%.0s' $(seq 1 200))"
  printf '%s\n' '{"ts":4,"status":200,"inputs":{"instances":[[5],[6]]},"outputs":{"predictions":[0,1]}}'
} >requests.jsonl
run_mlo monitor --reference requests.jsonl --current requests.jsonl
[ "$RC" = 0 ] || [ "$RC" = 1 ] || fail "monitor on odd request logs exited $RC: $ERR"
pass
done_testing
