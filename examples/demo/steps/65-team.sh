# The colleague catches up: `git pull` brings the pipeline, the registry and
# the monitor; `mlo pull` brings the data, the model and the runs behind them,
# so nothing needs re-running and the production model is there to deploy.
step "Push everything, then the colleague pulls it and has nothing to re-run"
cd "$DEMO_DIR/project"
say mlo push
say mlo data status --remote --exit-code
cd "$DEMO_DIR/colleague"
say git pull -q --no-rebase
say mlo pull
say mlo run
say mlo models ls
cd "$DEMO_DIR/project"
