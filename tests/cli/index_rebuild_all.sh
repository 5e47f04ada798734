#!/usr/bin/env bash
# mlo index rebuild restores every module's tables (runs, monitor results,
# deployment events) from git and the cache after index.db is deleted or garbage.
source "$(dirname "$0")/lib.sh"
new_repo project

# A run (pipeline module).
cat > mlo.yaml <<'YAML'
stages:
  make:
    cmd: printf '{"acc":0.75}' > metrics.json && echo out > out.txt
    outs: [out.txt]
    metrics: [metrics.json]
YAML
expect_ok run
expect_ok --json runs ls
runs_before=$(printf '%s' "$OUT" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); r=d["runs"] if isinstance(d,dict) else d; print(len(r))')
[ "$runs_before" -ge 1 ] || fail "no run recorded before the rebuild"
pass

# A monitor result.
printf 'x,c\n' > ref.csv; printf 'x,c\n' > cur.csv
for i in $(seq 1 200); do echo "$i,a" >> ref.csv; echo "$((i + 150)),b" >> cur.csv; done
run_mlo monitor -r ref.csv -c cur.csv
[ "$RC" = 0 ] || [ "$RC" = 1 ] || fail "mlo monitor exited $RC: $ERR"
pass
expect_ok --json monitor history
hist_before=$(printf '%s' "$OUT" | wc -c)

for damage in delete garbage; do
  if [ "$damage" = delete ]; then rm -f .mlo/index.db .mlo/index.db-wal .mlo/index.db-shm
  else head -c 8192 /dev/urandom > .mlo/index.db; rm -f .mlo/index.db-wal .mlo/index.db-shm; fi
  expect_ok index rebuild
  expect_ok --json runs ls
  runs_after=$(printf '%s' "$OUT" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); r=d["runs"] if isinstance(d,dict) else d; print(len(r))')
  expect_eq "$runs_after" "$runs_before" "runs after rebuild ($damage)"
  expect_ok --json monitor history
  expect_eq "$(printf '%s' "$OUT" | wc -c)" "$hist_before" "monitor history size after rebuild ($damage)"
  # Nothing to re-run: the lock and the run cache still agree.
  expect_ok run
  expect_out_contains "up to date"
done

done_testing
