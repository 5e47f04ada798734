# Runners: where a stage executes. List them, then run one command through
# the local runner (resources applied) and through the example plugin.
step "Runners: local CPUs, CUDA GPUs, Slurm, and plugins on PATH"
cd "$DEMO_DIR/project"
export PATH="$DEMO_SRC/../runners:$PATH"   # puts the example plugin mlo-runner-nice on PATH
say mlo runners ls
say mlo runners exec --cpus 2 --time 1m -- sh -c 'echo "OMP_NUM_THREADS=$OMP_NUM_THREADS on $(hostname)"'
if command -v python3 >/dev/null; then
  say mlo runners exec -r nice -- sh -c 'echo "running at niceness $(nice)"'
fi
