# Monitor a model's inputs: first the live traffic the deploy step served (its
# request log) against the training data; then a reference and a new batch
# with injected drift; a report, CI verdicts, history and the retraining trigger.
step "Live traffic: the production deployment's request log against the training data"
cd "$DEMO_DIR/project"
say mlo monitor --reference data/prepared/train.csv -c .mlo/deploy/production/requests.jsonl --target churn --no-record || true

step "Generate churn-like reference data and a new batch with injected drift"
mkdir -p monitor
gen_churn() {  # ROWS SHIFT SEED > CSV  (Box-Muller normals, deterministic awk)
  awk -v n="$1" -v shift="$2" -v seed="$3" 'BEGIN {
    srand(seed); pi = 3.141592653589793
    print "ts,tenure,monthly_charges,plan,region,churned,score"
    for (i = 0; i < n; i++) {
      z1 = sqrt(-2 * log(1 - rand())) * cos(2 * pi * rand())
      z2 = sqrt(-2 * log(1 - rand())) * cos(2 * pi * rand())
      tenure = 24 + 12 * z1 - 6 * shift; if (tenure < 0) tenure = 0
      charges = 60 + 15 * z2 + 20 * shift
      r = rand(); plan = r < 0.5 - 0.3 * shift ? "basic" : (r < 0.85 ? "plus" : "pro")
      r = rand(); region = r < 0.4 ? "north" : (r < 0.8 ? "south" : (shift > 0 && r < 0.9 ? "islands" : "east"))
      churned = rand() < 0.2 + 0.25 * shift ? 1 : 0
      score = 0.2 + 0.4 * churned + 0.7 * (rand() - 0.5); if (score < 0) score = 0; if (score > 1) score = 1
      printf "%d,%.1f,%.2f,%s,%s,%d,%.3f\n", 1714521600 + int(i * 259200 / n), tenure, charges, plan, region, churned, score
    }
  }'
}
gen_churn 5000 0 1 > monitor/reference.csv
gen_churn 3000 0 2 > monitor/batch-ok.csv
gen_churn 3000 1 3 > monitor/batch-drift.csv
say mlo data add monitor/reference.csv
say head -3 monitor/batch-drift.csv

step "Declare a monitor in mlo.yaml (reference, column roles, thresholds, on_drift)"
cat >> mlo.yaml <<'YAML'
monitors:
  churn:
    reference: monitor/reference.csv
    current: monitor/batch-ok.csv
    columns:
      timestamp: ts
      target: churned
      prediction: score
      categorical: [plan, region]
    drift:
      columns:
        monthly_charges: {method: psi, threshold: 0.2}
    on_drift:
      run: [train]
      register: churn
      propose: staging
YAML
say cat mlo.yaml
say git add mlo.yaml monitor/reference.csv.mlo monitor/.gitignore
say git commit -qm "Monitor the churn model's inputs"

step "A normal batch: no drift (the reference profile is computed once and cached)"
say mlo monitor churn --fail-on drift

step "A batch with injected drift: CI fails, the report shows where"
say mlo monitor churn -c monitor/batch-drift.csv --html monitor/report.html --fail-on drift || echo "(exit $?: drift found)"
say ls -l monitor/report.html
say sh -c "mlo monitor churn -c monitor/batch-drift.csv --no-record --markdown | head -12"

step "History: drift per column over time"
say mlo monitor history churn

step "The retraining trigger: rerun the stage, register the result from its run, propose it for staging"
say mlo monitor churn -c monitor/batch-drift.csv --act || echo "(exit $?: see the message; the decision is recorded)"
say sh -c "mlo --json monitor history churn | grep -c '\"status\"'"
