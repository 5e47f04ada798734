# A real single-node Slurm for tests, started and stopped by the test itself.
# Source it, then call `slurm_start` (exits 77 with a clear message where Slurm
# is not installed or cannot be started) and rely on the EXIT trap (or call
# `slurm_stop`) to stop it. Needs root (CI is root): slurmd runs jobs as the
# submitting user. Exports SLURM_CONF so sbatch/squeue/scontrol/scancel, and
# mlo's slurm runner, talk to this cluster only.
#
# Variables after slurm_start: SLURM_DIR (state, spool, logs), SLURM_NODE,
# SLURM_PARTITION.

slurm_skip() {
  if declare -F skip >/dev/null; then skip "$*"; fi
  echo "SKIP: $*"; exit 77
}

slurm_start() {
  local missing=()
  for p in munged munge slurmctld slurmd sbatch squeue scontrol scancel; do
    command -v "$p" >/dev/null 2>&1 || [ -x "/usr/sbin/$p" ] || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] || slurm_skip "Slurm is not installed (missing: ${missing[*]}); install the Debian packages slurm-wlm and munge (make deps)"
  [ "$(id -u)" = 0 ] || slurm_skip "a test Slurm needs root (slurmd starts jobs as their user)"
  export PATH="$PATH:/usr/sbin"

  # munge: reuse a running munged (another test may share it), else start one.
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    [ -f /etc/munge/munge.key ] || { mkdir -p /etc/munge && dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null && chmod 400 /etc/munge/munge.key; }
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    munged --force >/dev/null 2>&1 || slurm_skip "cannot start munged"
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 || slurm_skip "munged does not answer"
  fi

  SLURM_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mlo-slurm.XXXXXX")
  SLURM_NODE=$(hostname -s)
  SLURM_PARTITION=debug
  local cpus mem_mb port
  cpus=$(nproc)
  mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
  # Ports of our own so parallel test runs (other worktrees) do not collide.
  port=$(( 20000 + ($$ % 5000) * 2 ))
  mkdir -p "$SLURM_DIR/state" "$SLURM_DIR/spool"
  cat >"$SLURM_DIR/slurm.conf" <<EOF
ClusterName=mlotest$$
SlurmctldHost=$SLURM_NODE
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/slurmctld.log
SlurmdLogFile=$SLURM_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
KillWait=2
OverTimeLimit=0
MinJobAge=600
SchedulerParameters=sched_interval=1
NodeName=$SLURM_NODE CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=$SLURM_PARTITION Nodes=$SLURM_NODE Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF="$SLURM_DIR/slurm.conf"
  /usr/sbin/slurmctld -f "$SLURM_CONF" -i >"$SLURM_DIR/slurmctld.out" 2>&1 \
    || { cat "$SLURM_DIR/slurmctld.out" "$SLURM_DIR/slurmctld.log" 2>/dev/null | tail -5; slurm_skip "slurmctld does not start"; }
  /usr/sbin/slurmd -f "$SLURM_CONF" >"$SLURM_DIR/slurmd.out" 2>&1 \
    || { slurm_stop; slurm_skip "slurmd does not start"; }
  local state=""
  for _ in $(seq 100); do
    state=$(sinfo -h -n "$SLURM_NODE" -o %T 2>/dev/null)
    [ "$state" = idle ] && break
    sleep 0.2
  done
  if [ "$state" != idle ]; then
    tail -5 "$SLURM_DIR/slurmctld.log" "$SLURM_DIR/slurmd.log" 2>/dev/null
    slurm_stop
    slurm_skip "the test Slurm node did not become idle (state: '${state:-none}')"
  fi
}

slurm_stop() {
  [ -n "${SLURM_DIR:-}" ] || return 0
  local f pid
  for f in slurmd slurmctld; do
    pid=$(cat "$SLURM_DIR/$f.pid" 2>/dev/null) || continue
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
  [ -n "${KEEP_TMP:-}" ] || rm -rf "$SLURM_DIR"
  SLURM_DIR=""
}

# Run directly (ctest runs it as cli.slurm_env): a smoke test that the test
# cluster starts, runs one batch job, and stops.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -u
  trap slurm_stop EXIT
  slurm_start
  id=$(sbatch --parsable --output="$SLURM_DIR/smoke.out" --wrap 'echo smoke-ok') || { echo "FAIL: sbatch"; exit 1; }
  for _ in $(seq 100); do grep -q smoke-ok "$SLURM_DIR/smoke.out" 2>/dev/null && break; sleep 0.2; done
  grep -q smoke-ok "$SLURM_DIR/smoke.out" || { echo "FAIL: job $id did not run"; tail "$SLURM_DIR"/*.log; exit 1; }
  echo "ok [slurm_env]: the test Slurm ran job $id on $SLURM_NODE"
fi
