# Looking after the cache: verify it, see what gc would free, check the setup.
step "Check the cache and the repository"
cd "$DEMO_DIR/project"
say mlo fsck
say mlo gc --dry-run --grace 0
say mlo gc --dry-run --grace 0 --all-commits
say mlo doctor
say mlo index status
