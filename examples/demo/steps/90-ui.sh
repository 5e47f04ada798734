# Look instead of read: static charts for a CI artifact, and the local web app.
# The demo opens nothing; it prints the command to try.
step "Charts and the web UI"
cd "$DEMO_DIR/project"
say mlo plots show --html "$DEMO_DIR/plots/index.html" || echo "(nothing to plot in this project yet)"
echo "Browse runs, plots, models, lineage, deployments and monitors (read-only, offline):"
printf '  %smlo -C %s ui%s   then open http://127.0.0.1:8765/\n' "$bold" "$DEMO_DIR/project" "$reset"
