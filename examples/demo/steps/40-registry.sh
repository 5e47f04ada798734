# The model registry: register a model, see a promotion refused by a gate,
# approve it, promote it to production, then its lineage and the audit log.
# Versions, stages and approvals are annotated git tags in GTO's format.
cd "$DEMO_DIR/project"
step "Declare the model the churn pipeline trains, and its production gates"
cat >> mlo.yaml <<'YAML'   # next to the pipeline's stages:
models:
  churn:
    path: model/model.pkl
    type: sklearn
    description: Predicts which customers will churn (examples/churn)
registry:
  stages:
    dev: {}
    staging: {}
    production:
      gates:
        metrics: ["accuracy >= 0.75"]
        beat:
          - metric: accuracy
            min_absolute_change: 0.005
        approvals: 1
        check: test -s "$MLO_ARTIFACT"
YAML
say git add mlo.yaml
say git commit -qm "Declare the churn model and its production gates"

step "Register it: the artifact goes to the store, the version is a git tag"
say mlo register churn --version v1.0.0 --metrics metrics.json -l owner=demo
say git tag -n1 -l 'churn*'

step "Promote to production: refused, no approval yet (exit 1, nothing changed)"
say mlo promote churn@v1.0.0 --to production || echo "(exit $? - refused as expected)"

step "A reviewer approves it (their git identity is recorded)"
GIT_COMMITTER_NAME="Rita Reviewer" GIT_COMMITTER_EMAIL=rita@example.com \
  say mlo approve churn@v1.0.0 --stage production -m "eval looks right"
say mlo promote churn@v1.0.0 --to production -m "first release"

step "Retrain with shallower trees; it must beat production by 0.005 accuracy"
say mlo run --set train.max_depth=2
say cat metrics.json
say mlo register churn --bump minor --metrics metrics.json
GIT_COMMITTER_NAME="Rita Reviewer" GIT_COMMITTER_EMAIL=rita@example.com \
  say mlo approve churn@v1.1.0 --stage production
# Whether it beats production depends on the data: the gates decide either way.
say mlo promote churn@latest --to production || echo "(exit $? - the retrained model did not beat production; it stays out)"
say mlo models alias churn@v1.0.0 challenger
say mlo models ls
say mlo models show churn#production

step "Lineage and the audit log, both read from the tags"
say mlo lineage churn@v1.1.0
say mlo audit churn
say mlo registry check-ref 'churn#production#1'
say sh -c 'mlo models card churn@v1.1.0 | head -20'
