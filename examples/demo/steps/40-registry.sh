# The model registry: register a model, see a promotion refused by a gate,
# approve it, promote it to production, then its lineage and the audit log.
# Versions, stages and approvals are annotated git tags in GTO's format.
cd "$DEMO_DIR/project"
step "Train a (tiny) model and evaluate it"
mkdir -p models
if [ -f models/churn.pkl ]; then :; else
  # Until the pipeline's example model lands, a generated artifact stands in.
  head -c 20000 /dev/urandom > models/churn.pkl
fi
echo '{"accuracy": 0.87, "f1": 0.84}' > models/eval-v1.json
cat >> mlo.yaml <<'YAML'   # next to the pipeline's stages:
models:
  churn:
    path: models/churn.pkl
    type: sklearn
    description: Predicts which customers will churn
registry:
  stages:
    dev: {}
    staging: {}
    production:
      gates:
        metrics: ["accuracy >= 0.85"]
        beat:
          - metric: accuracy
            min_absolute_change: 0.01
        approvals: 1
        check: test -s "$MLO_ARTIFACT"
YAML
echo "models/churn.pkl" >> .gitignore
say git add mlo.yaml .gitignore models/eval-v1.json
say git commit -qm "Declare the churn model and its production gates"

step "Register it: the artifact goes to the store, the version is a git tag"
say mlo register churn --version v1.0.0 --metrics models/eval-v1.json -l owner=demo
say git tag -n1 -l 'churn*'

step "Promote to production: refused, no approval yet (exit 1, nothing changed)"
say mlo promote churn@v1.0.0 --to production || echo "(exit $? - refused as expected)"

step "A reviewer approves it (their git identity is recorded)"
GIT_COMMITTER_NAME="Rita Reviewer" GIT_COMMITTER_EMAIL=rita@example.com \
  say mlo approve churn@v1.0.0 --stage production -m "eval looks right"
say mlo promote churn@v1.0.0 --to production -m "first release"

step "A retrained model must beat production by 0.01 accuracy"
head -c 20000 /dev/urandom > models/churn.pkl
echo '{"accuracy": 0.91, "f1": 0.88}' > models/eval-v2.json
say git add models/eval-v2.json
say git commit -qm "Evaluate v2"
say mlo register churn --bump minor --metrics models/eval-v2.json
GIT_COMMITTER_NAME="Rita Reviewer" GIT_COMMITTER_EMAIL=rita@example.com \
  say mlo approve churn@v1.1.0 --stage production
say mlo promote churn@latest --to production
say mlo models alias churn@v1.0.0 challenger
say mlo models ls
say mlo models show churn#production

step "Lineage and the audit log, both read from the tags"
say mlo lineage churn@v1.1.0
say mlo audit churn
say mlo registry check-ref 'churn#production#3'
say sh -c 'mlo models card churn@v1.1.0 | head -20'
