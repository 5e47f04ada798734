#!/usr/bin/env bash
# mlo run on bad input and failing stages: each names the problem, exits with
# the documented code, and loses nothing.
source "$(dirname "$0")/lib.sh"
new_repo e
stage() { printf 'stages:\n%s\n' "$1" > mlo.yaml; }

expect_rc 3 run
expect_err_contains "no mlo.yaml"

# Cycle.
stage '  a:
    cmd: cp b.txt a.txt
    deps: [b.txt]
    outs: [a.txt]
  b:
    cmd: cp a.txt b.txt
    deps: [a.txt]
    outs: [b.txt]'
expect_rc 3 run
expect_err_contains "the stages form a cycle: a -> b -> a"
expect_rc 3 dag

# Missing dep.
stage '  a:
    cmd: cp nope.txt a.txt
    deps: [nope.txt]
    outs: [a.txt]'
expect_rc 3 run
expect_err_contains "mlo.yaml:3:5: dep 'nope.txt' of stage 'a' does not exist"

# Two stages writing one output (also one inside another's folder).
stage '  a:
    cmd: echo > x
    outs: [x]
  b:
    cmd: echo > x
    outs: [x]'
expect_rc 3 run
expect_err_contains "output 'x' of stage 'b' overlaps output 'x' of stage 'a'"
stage '  a:
    cmd: mkdir -p out
    outs: [out]
  b:
    cmd: echo > out/x
    outs: [out/x]'
expect_rc 3 run
expect_err_contains "overlaps output 'out'"

# An output inside a dep.
mkdir -p d && echo 1 > d/f
stage '  a:
    cmd: echo > d/out
    deps: [d]
    outs: [d/out]'
expect_rc 3 run
expect_err_contains "output 'd/out' of stage 'a' overlaps its own dep 'd'"

# Paths outside the repository.
stage '  a:
    cmd: echo
    outs: [../x]'
expect_rc 3 run
expect_err_contains "leaves the repository"

# Unknown runner: nothing runs.
stage '  a:
    cmd: echo ran > x
    runner: kubernetes-nope
    outs: [x]'
expect_rc 3 run
expect_err_contains "mlo.yaml:3:5: stage 'a': unknown runner 'kubernetes-nope'"
expect_no_file x

# Malformed mlo.yaml and params.yaml: file:line:col.
stage '  a:
    cmd: [echo
    outs: [x]'
expect_rc 3 run
expect_err_contains "mlo.yaml:4:"
stage '  a:
    cmd: echo
    outz: [x]'
expect_rc 3 run
expect_err_contains "mlo.yaml:4:5: unknown key 'outz' in stage 'a'"
# A file that passed its key check is remembered by its text
# (.mlo/tmp/schema-checks), so the same typo after a clean read is refused again.
stage '  a:
    cmd: echo
    outs: [x]'
expect_rc 0 dag
[ -s .mlo/tmp/schema-checks ] || fail "no schema check memo after a clean read"
stage '  a:
    cmd: echo
    outz: [x]'
expect_rc 3 dag
expect_err_contains "mlo.yaml:4:5: unknown key 'outz' in stage 'a'"
stage '  a:
    cmd: echo
    resources: {memory: lots}'
expect_rc 3 run
expect_err_contains "mlo.yaml:4:25: resources.memory 'lots' is not a size"
printf 'train:\n  lr: [0.1\n' > params.yaml
stage '  a:
    cmd: echo
    params: [train.lr]'
expect_rc 3 run
expect_err_contains "params.yaml:3:1: invalid YAML"
printf 'train:\n  lr: 0.1\n' > params.yaml
stage '  a:
    cmd: echo
    params: [train.nope]'
expect_rc 3 run
expect_err_contains "params.yaml: no param 'train.nope'"

# Failing stages: exit 5, a run record that says why, the lock untouched.
stage '  ok:
    cmd: echo good > good.txt
    outs: [good.txt]'
expect_ok run -q
lock=$(cat mlo.lock)
check_status() {  # STAGE STATUS
  run_mlo --json runs ls --stage "$1" --limit 1
  expect_json "d[0]['status']=='$2'"
}
stage '  ok:
    cmd: echo good > good.txt
    outs: [good.txt]
  crash:
    cmd: echo boom; exit 3
    outs: [x]
  after:
    cmd: cp x y
    deps: [x]
    outs: [y]'
expect_rc 5 run
expect_err_contains "stage 'crash' failed: exited with status 3"
expect_err_contains "mlo runs log"
expect_out_contains "skipped after"
check_status crash failed
id=$(printf '%s' "$OUT" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")
expect_ok runs log "$id"
expect_out_contains "boom"
expect_ok --json runs show "$id"
expect_json "d['exit_code']==3 and d['job']['status']=='failed' and d['outs']=={}"
expect_eq "$(sed -n '/crash/p' mlo.lock)" "" "failed stage in mlo.lock"

stage '  nowrite:
    cmd: echo hi
    outs: [x]'
expect_rc 5 run
expect_err_contains "did not write its declared output 'x'"
check_status nowrite failed

stage '  killed:
    cmd: kill -9 $$
    outs: [x]'
expect_rc 5 run
expect_err_contains "killed by signal"
check_status killed killed
expect_ok --json runs show "$(printf '%s' "$OUT" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")"
expect_json "d['signal']==9"

stage '  slow:
    cmd: sleep 30
    outs: [x]
    resources: {time: 1s}'
expect_rc 5 run
expect_err_contains "exceeded its time limit"
check_status slow timeout

# The runner itself crashes (a plugin killed by SIGSEGV before it reports a
# result): exit 5, and the run record says the runner failed and how.
mkdir -p "$TEST_TMP/crashbin"
printf '#!/bin/sh\nkill -SEGV $$\n' > "$TEST_TMP/crashbin/mlo-runner-crashy"
chmod +x "$TEST_TMP/crashbin/mlo-runner-crashy"
stage '  viaplugin:
    cmd: echo hi > x
    outs: [x]
    runner: crashy'
PATH="$TEST_TMP/crashbin:$PATH" expect_rc 5 run
expect_err_contains "stage 'viaplugin'"
expect_err_contains "runner plugin mlo-runner-crashy exited"
check_status viaplugin error
expect_ok --json runs show "$(printf '%s' "$OUT" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")"
expect_json "d['runner']=='crashy' and 'mlo-runner-crashy' in d['message'] and d['outs']=={}"
expect_eq "$(sed -n '/viaplugin/p' mlo.lock)" "" "crashed runner's stage in mlo.lock"

# Runs: bad ids.
expect_rc 2 runs show ab
expect_err_contains "at least 4"
expect_rc 3 runs show ffffffff
expect_err_contains "no run 'ffffffff'"
expect_rc 2 runs ls --where 'metrics.acc=>1'
expect_rc 2 runs ls --sort nosuchfield
expect_err_contains "unknown field"

# runs import: bad lines are refused whole, nothing half-imported.
printf '{"run_id":"0123456789abcdef","stage":"x","status":"succeeded"}\nnot json\n' > bad.jsonl
expect_rc 3 runs import bad.jsonl
expect_err_contains "bad.jsonl:2: not a JSON object"
printf '{"stage":"x"}\n' > bad2.jsonl
expect_rc 3 runs import bad2.jsonl
expect_err_contains "needs run_id"
expect_rc 3 runs show 0123456789abcdef
printf '{"run_id":"0123456789abcdef","stage":"imported","status":"succeeded","metrics":{"acc":0.5}}\n' | "$MLO" runs import -q - || fail "import from stdin"
expect_ok --json runs ls --stage imported
expect_json "len(d)==1 and d[0]['metrics']['acc']==0.5"
expect_rc 3 runs log 0123456789abcdef
expect_err_contains "no captured log"

# metrics/params on malformed files.
stage '  m:
    cmd: echo
    metrics: [m.json]
    params: [train.lr]'
echo '{"acc": ' > m.json
expect_rc 3 metrics show
expect_err_contains "m.json: metrics file is not valid JSON"
printf 'train: [\n' > params.yaml
expect_rc 3 params diff
expect_err_contains "params.yaml:2:1"
done_testing
