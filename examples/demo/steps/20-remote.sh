# Share the data through a remote: push from the project, clone it to a
# second folder, pull there, and compare.
step "Add a directory remote and push the data to it"
cd "$DEMO_DIR/project"
say mlo remote add shared "$DEMO_DIR/remote-store" --default
say git commit -qm "Add the shared remote" .mlo/config.yaml
say mlo push
say mlo push
say ls "$DEMO_DIR/remote-store/packs"

step "Clone the repository elsewhere and pull the data"
say git clone -q "$DEMO_DIR/project" "$DEMO_DIR/colleague"
cd "$DEMO_DIR/colleague"
say mlo pull
say mlo data status

step "The data in both folders is identical"
for p in $(cd "$DEMO_DIR/project" && git ls-files '*.mlo'); do
  d=${p%.mlo}
  say diff -r "$DEMO_DIR/project/$d" "$DEMO_DIR/colleague/$d"
  echo "identical: $d"
done
cd "$DEMO_DIR/project"
