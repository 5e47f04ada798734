# Helpers for the closed-loop tests (notify, triggers, loop): data with
# injected drift, and a real webhook receiver that checks signatures.

# gen FILE N SHIFT SEED [COLUMNS] : a CSV of two numeric columns (default
# "age,income"); SHIFT moves both (SHIFT 0: the reference's distribution).
# COLUMNS "age,income,city" adds a categorical city that gains a new value
# under drift.
gen() {
  /usr/bin/python3 - "$@" <<'PYEOF'
import sys, random
f, n, shift, seed = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
cols = sys.argv[5] if len(sys.argv) > 5 else "age,income"
r = random.Random(seed)
with open(f, "w") as out:
    out.write(cols + "\n")
    for i in range(n):
        city = "," + r.choice(['paris', 'lyon', 'nice'] + (['brest'] * 3 if shift else [])) if cols.count(",") == 2 else ""
        out.write(f"{r.gauss(40 + 10 * shift, 10):.3f},{r.lognormvariate(10 + shift, 0.5):.2f}{city}\n")
PYEOF
}

# loop_yaml CMD DEPS MIN_ACC : the head of mlo.yaml the loop tests share: a
# train stage (CMD, deps [DEPS]) writing model.json and metrics.json, the
# model clf, and a production gate "acc >= MIN_ACC".
loop_yaml() {
  cat <<YAML
stages:
  train:
    cmd: $1
    deps: [$2]
    outs: [model.json]
    metrics: [metrics.json]
models:
  clf:
    path: model.json
registry:
  stages:
    production:
      gates:
        metrics: ["acc >= $3"]
YAML
}

# start_receiver SECRET : starts tests/cli/webhook_receiver.py; sets RECEIVER
# (its pid), PORT, and RECEIVED (the JSON Lines file of what it got).
start_receiver() {
  RECEIVED="$TEST_TMP/received.jsonl"
  /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/webhook_receiver.py" "$TEST_TMP/port" "$RECEIVED" "$1" &
  RECEIVER=$!
  for _ in $(seq 100); do [ -s "$TEST_TMP/port" ] && break; sleep 0.1; done
  PORT=$(cat "$TEST_TMP/port") || fail "the webhook receiver did not start"
}
