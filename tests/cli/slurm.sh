#!/usr/bin/env bash
# The slurm runner against a real single-node Slurm that this test starts
# (tests/cli/slurm_env.sh): success with the log captured, a failing job,
# a job cancelled outside mlo, Ctrl-C -> scancel, bad settings, and a Slurm
# that cannot be reached.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/slurm_env.sh"
trap 'slurm_stop; cleanup' EXIT
slurm_start

new_repo
expect_ok runners ls
expect_out_contains "slurm"
expect_out_contains "partition $SLURM_PARTITION"
expect_ok --json runners ls
expect_json "[r for r in d['runners'] if r['name']=='slurm'][0]['available'] is True"

# Success: the output streams to the terminal and into the log; job id and node recorded.
expect_ok --json runners exec -r slurm --cpus 1 --memory 64M --time 5m --log run.log -e GREETING='hi there' \
  -- sh -c 'echo "hello $GREETING from $SLURM_JOB_ID threads=$OMP_NUM_THREADS"; pwd'
expect_json "d['status']=='succeeded' and d['exit_code']==0"
expect_json "d['info']['node']=='$SLURM_NODE' and d['host']=='$SLURM_NODE' and int(d['info']['slurm_job_id'])>0"
expect_json "d['info']['slurm_state']=='COMPLETED'"
expect_err_contains "hello hi there from"
grep -q "hello hi there from [0-9]* threads=1" run.log || fail "run.log lacks the job's output: $(cat run.log)"
grep -qx "$PWD" run.log || fail "the job did not run in the working folder"
pass
# The spool folder keeps nothing once the job is done.
[ -z "$(ls -A .mlo/tmp/slurm 2>/dev/null)" ] || fail "left files in .mlo/tmp/slurm: $(ls .mlo/tmp/slurm)"
pass

# A failing job: exit 5 and the job's own status.
expect_rc 5 --json runners exec -r slurm -- sh -c 'echo failing >&2; exit 3'
expect_json "d['status']=='failed' and d['exit_code']==3 and d['info']['slurm_state']=='FAILED'"
expect_err_contains "failing"

# start_job NAME: `mlo runners exec -r slurm --stage NAME -- sleep 60` in the
# background (output in NAME.json); waits until Slurm runs it. Sets MLO_PID, JOB.
start_job() {
  "$MLO" --json runners exec -r slurm --stage "$1" -- sleep 60 >"$1.json" 2>"$1.err" &
  MLO_PID=$!
  for _ in $(seq 100); do squeue -h -n "mlo-$1" -t R -o %i | grep -q . && break; sleep 0.2; done
  JOB=$(squeue -h -n "mlo-$1" -o %i)
  [ -n "$JOB" ] || fail "the job $1 never started: $(cat "$1.err")"
}

# Cancelled by someone else (scancel outside mlo): killed, not interrupted.
start_job victim
scancel "$JOB"
wait "$MLO_PID"
expect_eq "$?" 5 "exit status of a job cancelled outside mlo"
OUT=$(cat victim.json)
expect_json "d['status']=='killed' and 'cancelled outside mlo' in d['message']"

# Ctrl-C: mlo cancels the Slurm job (scancel) and exits 130.
start_job longjob
kill -INT "$MLO_PID"
wait "$MLO_PID"
expect_eq "$?" 130 "exit status after Ctrl-C"
OUT=$(cat longjob.json)
expect_json "d['status']=='interrupted' and d['info']['slurm_state']=='CANCELLED'"
state=$(scontrol show job -o "$JOB" | grep -o 'JobState=[A-Z_]*')
expect_eq "$state" "JobState=CANCELLED" "the Slurm job after Ctrl-C"
[ -z "$(squeue -h -j "$JOB" -t R,PD 2>/dev/null)" ] || fail "job $JOB still queued or running"
pass

# Settings from .mlo/config.yaml reach sbatch: an unknown partition is refused by Slurm.
printf 'runners:\n  slurm:\n    partition: no-such-partition\n' >> .mlo/config.yaml
expect_rc 5 runners exec -r slurm -- true
expect_err_contains "sbatch failed"
expect_err_contains "partition"
git checkout -q .mlo/config.yaml
# Bad extra_args.
printf 'runners:\n  slurm:\n    extra_args: 7\n' >> .mlo/config.yaml
expect_rc 3 runners exec -r slurm -- true
expect_err_contains "extra_args must be a list"
git checkout -q .mlo/config.yaml
# GPUs on a cluster without GPUs: Slurm's own words.
expect_rc 5 runners exec -r slurm --gpus 1 -- true
expect_err_contains "gres"

# A Slurm that cannot be reached: a config naming a controller nobody runs.
sed -e "s/^SlurmctldPort=.*/SlurmctldPort=1/" "$SLURM_CONF" > "$TEST_TMP/dead.conf"
SLURM_CONF="$TEST_TMP/dead.conf" expect_rc 5 runners exec -r slurm -- true
expect_err_contains "sbatch failed"
SLURM_CONF="$TEST_TMP/dead.conf" expect_ok runners ls
expect_out_contains "slurm"
expect_out_contains "unavailable"

done_testing
