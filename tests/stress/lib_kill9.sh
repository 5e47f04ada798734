# Helpers of the kill -9 harnesses (kill9.sh, kill9_ops.sh): SIGKILL a
# command at a random point of its run, then check that the repository
# answers and is not damaged. Source after cli/lib.sh.

KILLS=${MLO_STRESS_KILLS:-20}
declare -A MID_RUN=() FINISHED=()

# A folder of small files and one chunked (> 2 MiB) file, in NAME.
make_data() {
  local dir=$1 seed=$2
  mkdir -p "$dir/sub"
  for i in $(seq 1 60); do printf 'file %s seed %s\n' "$i" "$seed" >"$dir/f$i.txt"; done
  for i in $(seq 1 20); do head -c $((i * 997)) /dev/urandom >"$dir/sub/r$i.bin"; done
  head -c 3000000 /dev/urandom >"$dir/big.bin"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# kill_during LABEL MAX_MS CMD... : starts mlo CMD, SIGKILLs it after a random
# delay, and counts whether it was still running. The delays are weighted to
# the command's running time: uniform over 90% of an estimate that starts
# at MAX_MS (duration_of) and follows where kills land (a quarter shorter
# after a kill that came too late, 1/16 longer after one that landed), so
# most land mid-command while they still reach its last steps (halving
# after a late kill did worse: it shrank the estimate to the 10 ms floor).
declare -A EST_MS=()
kill_during() {
  local label=$1 max=$2; shift 2
  local est=${EST_MS[$label]:-$max}
  "$MLO" "$@" >/dev/null 2>&1 &
  local pid=$! delay=$((RANDOM * est * 9 / 10 / 32768))
  sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
  # A process that has exited but not been reaped (a zombie) still takes
  # the signal: count it as finished.
  local state
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)
  if [ -n "$state" ] && [ "$state" != Z ] && kill -9 "$pid" 2>/dev/null; then
    MID_RUN[$label]=$((${MID_RUN[$label]:-0} + 1))
    est=$((est + est / 16 + 1))
    ((est > 4 * max)) && est=$((4 * max))
  else
    FINISHED[$label]=$((${FINISHED[$label]:-0} + 1))
    est=$((est * 3 / 4))
    ((est < 10)) && est=10
  fi
  EST_MS[$label]=$est
  wait "$pid" 2>/dev/null
}

# How long a command takes here (ms, at least 20, at most 10 s): the first
# estimate of its running time for kill_during.
duration_of() {
  local start
  start=$(now_ms)
  "$MLO" "$@" >/dev/null 2>&1 || fail "mlo $* failed while measuring"
  local took=$(($(now_ms) - start))
  ((took < 20)) && took=20
  ((took > 10000)) && took=10000
  echo "$took"
}

no_temp_inside() {
  local left
  left=$(find "$1" -name '.*.tmp.*' 2>/dev/null | head -3)
  [ -z "$left" ] || fail "$2: temp files left inside tracked data: $left"
  pass
}

after_kill() {  # LABEL DATA_DIR [missing-ok]: the repository answers and is not damaged
  run_mlo fsck
  # A killed pull may not have fetched everything yet: missing is expected
  # there, a corrupt object never.
  if [ "${3:-}" = missing-ok ] && [ "$RC" = 1 ]; then
    [[ "$OUT" == *" 0 corrupt, "* ]] || fail "$1: fsck after a kill: $OUT"
  else
    [ "$RC" = 0 ] || fail "$1: fsck exited $RC after a kill: $OUT $ERR"
  fi
  pass
  run_mlo data status
  [ "$RC" = 0 ] || [ "$RC" = 1 ] || fail "$1: data status exited $RC after a kill: $ERR"
  pass
  [ -d "$2" ] && no_temp_inside "$2" "$1"
}

# print_counts OP... : how many kills landed while each command ran.
print_counts() {
  local op
  for op in "$@"; do
    echo "kill9 $op: $((${MID_RUN[$op]:-0} + ${FINISHED[$op]:-0})) SIGKILLs, ${MID_RUN[$op]:-0} while running," \
      "${FINISHED[$op]:-0} after it had exited (delays up to 90% of ${EST_MS[$op]:-?} ms at the end)"
  done
}
