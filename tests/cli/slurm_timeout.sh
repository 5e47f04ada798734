#!/usr/bin/env bash
# A Slurm job past its own --time ends as TIMEOUT and mlo reports status
# timeout. Slurm's granularity is one minute and slurmctld checks limits every
# 30 s, so this takes 60-90 s: it runs only with MLO_SLOW_TESTS=1 (the
# cancellation path is covered quickly by slurm.sh; the state mapping by the
# unit tests).
source "$(dirname "$0")/lib.sh"
[ "${MLO_SLOW_TESTS:-}" = 1 ] || skip "slow (60-90 s): set MLO_SLOW_TESTS=1 to run the real Slurm time-limit test"
source "$(dirname "$0")/slurm_env.sh"
trap 'slurm_stop; cleanup' EXIT
slurm_start

new_repo
expect_rc 5 --json runners exec -r slurm --time 1m --log run.log -- sh -c 'echo started; sleep 600'
expect_json "d['status']=='timeout' and d['info']['slurm_state']=='TIMEOUT'"
expect_json "'time limit' in d['message']"
grep -q started run.log || fail "the log lacks the job's output"
pass
done_testing
