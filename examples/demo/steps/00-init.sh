# A fresh git repository with mlo set up.
step "Create a git repository and set up mlo"
mkdir -p "$DEMO_DIR/project" && cd "$DEMO_DIR/project"
say git init -q -b main .
say mlo init
say git commit -qm "Set up mlo"
