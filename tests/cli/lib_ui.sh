# Shared by the mlo ui tests: a repo with runs (metric series), tracked data,
# a registered model, monitor results and a hostile param name; and a running
# `mlo ui` on a free port. Source after lib.sh.

# make_ui_repo : builds the repo in $TEST_TMP/ui and cds into it. Sets
# RUN_A, RUN_B (two train runs, lr 0.5 and 0.25) and HOSTILE_RUN.
make_ui_repo() {
  new_repo ui
  mkdir -p data
  printf 'x,y\n1,2\n3,4\n5,6\n' >data/train.csv
  expect_ok data add data/train.csv
  printf 'train:\n  lr: 0.5\n' >params.yaml
  cat >mlo.yaml <<'YAML'
stages:
  train:
    cmd: |-
      for s in 1 2 3 4 5 6 7 8; do
        awk -v s=$s -v lr=${params.train.lr} 'BEGIN{printf "{\"key\":\"loss\",\"value\":%g,\"step\":%d}\n", lr/s, s}' >> "$MLO_METRICS_FILE"
      done
      awk -v lr=${params.train.lr} 'BEGIN{printf "{\"acc\": %g}\n", 1-lr/10}' > metrics.json
      cat data/train.csv > model.bin
    deps: [data/train.csv]
    params: [train.lr]
    outs: [model.bin]
    metrics: [metrics.json]
monitors:
  drift:
    reference: data/ref.csv
    current: [cur.csv]
YAML
  expect_ok run -q
  RUN_A=$(sed -n 's/^ *run: *\([0-9a-z]*\).*/\1/p' mlo.lock | head -1)
  git add -A && git commit -qm "lr 0.5" || fail "commit"
  expect_ok register churn --stage train
  sed -i 's/lr: 0.5/lr: 0.25/' params.yaml
  expect_ok run -q
  RUN_B=$(sed -n 's/^ *run: *\([0-9a-z]*\).*/\1/p' mlo.lock | head -1)
  [ -n "$RUN_A" ] && [ -n "$RUN_B" ] && [ "$RUN_A" != "$RUN_B" ] || fail "two runs expected: '$RUN_A' '$RUN_B'"
  # A run imported from elsewhere whose param name and stage are markup.
  HOSTILE_RUN=badbadbadbad0001
  printf '%s\n' '{"run_id":"'$HOSTILE_RUN'","stage":"<b>evil</b>","status":"succeeded","started_at":1000,"finished_at":1001,"params":{"<img src=x onerror=\"window.__xss=1\">":1},"metrics":{"acc":0.1}}' \
    >hostile.jsonl
  expect_ok runs import hostile.jsonl
  # Two monitor results (the second drifted).
  /usr/bin/python3 - <<'PY' || fail "monitor data"
import random
random.seed(1)
with open("data/ref.csv", "w") as f:
    f.write("a,b\n")
    for _ in range(300): f.write(f"{random.gauss(0,1):.4f},{random.choice('xyz')}\n")
with open("cur.csv", "w") as f:
    f.write("a,b\n")
    for _ in range(300): f.write(f"{random.gauss(0,1):.4f},{random.choice('xyz')}\n")
with open("cur2.csv", "w") as f:
    f.write("a,b\n")
    for _ in range(300): f.write(f"{random.gauss(3,1):.4f},{random.choice('xxxz')}\n")
PY
  run_mlo monitor drift
  [ "$RC" = 0 ] || fail "mlo monitor drift: $RC $ERR"; pass
  run_mlo monitor drift --current cur2.csv
  [ "$RC" = 0 ] || fail "mlo monitor drift on drifted data exited $RC: $ERR"; pass
  expect_ok --json monitor history drift
  expect_json "len(d['results']) == 2 and d['results'][-1]['dataset_drift']"
}

# start_ui [ARGS...] : starts `mlo ui --port 0 --json ARGS` in the background;
# sets UI_PID and UI_URL (as printed). Stopped at exit.
start_ui() {
  local out="$TEST_TMP/ui.$$.$RANDOM.out"
  "$MLO" --json ui --port 0 "$@" >"$out" 2>"$TEST_TMP/ui.err" &
  UI_PID=$!
  for _ in $(seq 1 100); do
    UI_URL=$(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['url'])" "$out" 2>/dev/null) && break
    kill -0 "$UI_PID" 2>/dev/null || fail "mlo ui exited: $(cat "$TEST_TMP/ui.err")"
    sleep 0.1
  done
  [ -n "$UI_URL" ] || fail "mlo ui printed no URL: $(cat "$out") $(cat "$TEST_TMP/ui.err")"
  UI_PIDS="${UI_PIDS:-} $UI_PID"
  trap 'for p in $UI_PIDS; do kill "$p" 2>/dev/null; done; cleanup' EXIT
}
