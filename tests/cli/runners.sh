#!/usr/bin/env bash
# mlo runners ls / exec: the local runner, the cuda runner on a machine
# without GPUs, the example plugin, and bad input.
source "$(dirname "$0")/lib.sh"
: "${MLO_SOURCE_DIR:?}"

new_repo

# ls: built-ins always listed; a plugin appears when it is on PATH.
expect_ok runners ls
expect_out_contains "local"
expect_out_contains "cuda"
expect_out_contains "slurm"
expect_out_not_contains "nice"
PATH="$MLO_SOURCE_DIR/examples/runners:$PATH" expect_ok --json runners ls
expect_json "[r['name'] for r in d['runners']][:3]==['local','cuda','slurm']"
expect_json "[r for r in d['runners'] if r['name']=='nice'][0]['kind']=='plugin'"
expect_json "[r for r in d['runners'] if r['name']=='local'][0]['available'] is True"

# local: success, output to the terminal (stderr) and the log, resources applied.
expect_ok --json runners exec --cpus 2 --memory 1G --log run.log -e A=1 -- sh -c 'echo "a=$A omp=$OMP_NUM_THREADS mem=$(ulimit -v)"'
expect_json "d['status']=='succeeded' and d['exit_code']==0 and d['info']['threads']==2"
expect_err_contains "a=1 omp=2 mem=1048576"
grep -q "a=1 omp=2 mem=1048576" run.log || fail "log lacks the output"
pass
# A string command runs under /bin/sh -c exactly as written.
expect_ok runners exec --shell -- 'echo one && echo two | tr a-z A-Z'
expect_err_contains "TWO"

# Failures: exit status, signal, time limit, missing program; each exit 5.
expect_rc 5 --json runners exec -- sh -c 'exit 7'
expect_json "d['status']=='failed' and d['exit_code']==7"
expect_rc 5 --json runners exec -- sh -c 'kill -KILL $$'
expect_json "d['status']=='killed' and d['signal']==9"
expect_rc 5 --json runners exec --time 0.3s -- sh -c 'sleep 30 & sleep 30'
expect_json "d['status']=='timeout' and 'time limit' in d['message']"
expect_rc 5 runners exec -- no-such-program-xyz
expect_err_contains "cannot run 'no-such-program-xyz'"
expect_err_contains "failed"

# Ctrl-C: the job and its children are gone, exit 130.
"$MLO" --json runners exec -- sh -c 'sleep 60 & echo $! > bg.pid; sleep 60' >int.json 2>int.err &
pid=$!
for _ in $(seq 100); do [ -s bg.pid ] && break; sleep 0.05; done
kill -INT "$pid"
wait "$pid"
expect_eq "$?" 130 "exit status after Ctrl-C"
OUT=$(cat int.json)
expect_json "d['status']=='interrupted'"
sleep 0.2
bg=$(cat bg.pid)
if kill -0 "$bg" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$bg/status" 2>/dev/null; then fail "child $bg survived Ctrl-C"; fi
pass

# cuda on a machine without NVIDIA GPUs (this one, unless nvidia-smi exists): exit 5 and a hint.
if ! command -v nvidia-smi >/dev/null; then
  expect_rc 5 runners exec -r cuda -- true
  expect_err_contains "no NVIDIA GPU found"
  expect_err_contains "runner: local"
  expect_ok --json runners ls
  expect_json "[r for r in d['runners'] if r['name']=='cuda'][0]['available'] is False"
fi
# A broken driver (fault injection: nvidia-smi that fails as it does without a driver).
mkdir -p "$TEST_TMP/fakebin"
printf '#!/bin/sh\necho "NVIDIA-SMI has failed because it couldn'"'"'t communicate with the NVIDIA driver." >&2\nexit 9\n' > "$TEST_TMP/fakebin/nvidia-smi"
chmod +x "$TEST_TMP/fakebin/nvidia-smi"
PATH="$TEST_TMP/fakebin:$PATH" expect_rc 5 runners exec -r cuda --gpus 1 -- true
expect_err_contains "couldn't communicate with the NVIDIA driver"

# The example plugin, end to end: nice-ness applied, output captured, status mapped.
if command -v python3 >/dev/null; then
  printf 'runners:\n  nice:\n    niceness: 5\n' >> .mlo/config.yaml
  base=$(nice)
  PATH="$MLO_SOURCE_DIR/examples/runners:$PATH" expect_ok --json runners exec -r nice --log nice.log -- sh -c 'echo "niceness $(nice)"'
  expect_json "d['status']=='succeeded' and d['info']['niceness']==5 and d['info']['plugin'].endswith('mlo-runner-nice')"
  grep -q "niceness $((base + 5))" nice.log || fail "plugin job did not run at nice $((base + 5)): $(cat nice.log)"
  pass
  PATH="$MLO_SOURCE_DIR/examples/runners:$PATH" expect_rc 5 --json runners exec -r nice --time 0.5 -- sleep 30
  expect_json "d['status']=='timeout'"
  git checkout -q .mlo/config.yaml
fi
# A plugin that exits without a result.
printf '#!/bin/sh\necho "I forgot the protocol"\n' > "$TEST_TMP/fakebin/mlo-runner-lazy"
chmod +x "$TEST_TMP/fakebin/mlo-runner-lazy"
PATH="$TEST_TMP/fakebin:$PATH" expect_rc 5 --json runners exec -r lazy -- true
expect_json "d['status']=='error' and 'without writing a job result' in d['message']"

# Bad input: unknown runner (names the available ones), bad sizes, bad settings.
PATH="$TEST_TMP/fakebin:$PATH" expect_rc 3 runners exec -r gpu-cluster -- true
expect_err_contains "unknown runner 'gpu-cluster'"
expect_err_contains "local, cuda, slurm, container, lazy"
expect_err_contains "mlo-runner-gpu-cluster"
expect_rc 3 runners exec --memory lots -- true
expect_err_contains "'lots' is not a memory size"
expect_rc 3 runners exec --time soon -- true
expect_err_contains "'soon' is not a duration"
expect_rc 2 runners exec --cpus zero -- true
expect_rc 2 runners exec -e NOEQUALS -- true
expect_rc 2 runners exec
printf 'runners:\n  local: 5\n' >> .mlo/config.yaml
expect_rc 3 runners exec -- true
expect_err_contains "'runners.local' must be a mapping, not '5'"
git checkout -q .mlo/config.yaml
printf 'runners:\n  local:\n    kill_grace_s: soon\n' >> .mlo/config.yaml
expect_rc 3 runners exec -- true
expect_err_contains "kill_grace_s"
git checkout -q .mlo/config.yaml

# Outside a repository the runners still work (defaults).
mkdir -p "$TEST_TMP/plain" && cd "$TEST_TMP/plain"
expect_ok runners exec -- true
expect_ok runners ls

done_testing
