# Pipelines and experiment tracking with the churn example (examples/churn).
step "Pipelines: the churn example (generate -> prepare -> train -> evaluate)"
cp -r "$DEMO_SRC/../churn/mlo.yaml" "$DEMO_SRC/../churn/params.yaml" "$DEMO_SRC/../churn/src" .
say mlo dag
say mlo run
git add -A && git commit -qm "Churn pipeline"

step "Nothing changed: the re-run does nothing"
say mlo run

step "Try a deeper model without editing params.yaml (--set)"
say mlo run --set train.max_depth=5
say mlo metrics diff
say mlo runs ls --stage evaluate

step "Back to params.yaml: restored from the run cache, nothing re-trained"
say mlo run
