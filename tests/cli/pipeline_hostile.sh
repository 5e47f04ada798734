#!/usr/bin/env bash
# A hostile teammate pushes run records whose outs / metric_files name paths
# outside the repository (absolute, '..', a folder out). `mlo pull && mlo run`
# in another clone must create, overwrite and delete nothing outside it: the
# records are refused with a warning and the stage re-runs. A committed
# symlink at a stage's output path is replaced on restore, never written
# through.
source "$(dirname "$0")/lib.sh"

outside="$TEST_TMP/outside"
mkdir -p "$outside/victimdir"
echo keep >"$outside/victim.txt"
echo keep >"$outside/victimdir/file.txt"

new_repo a
expect_ok remote add origin "$TEST_TMP/remote" --default
cat >mlo.yaml <<'YAML'
stages:
  prepare:
    cmd: mkdir -p prep && echo prepared > prep/p.txt
    outs: [prep]
  train:
    cmd: echo model > model.txt && echo '{"acc":0.5}' > metrics.json
    deps: [prep]
    outs: [model.txt]
    metrics: [metrics.json]
YAML
expect_ok run

# Rewrite each record the way a hostile teammate would: the same run id and
# cache key, outputs aimed outside the repository; mlo.lock names the new
# records; commit and push.
/usr/bin/python3 - "$outside" <<'PY' || fail "crafting hostile records"
import hashlib, json, os, pathlib, sys
outside = sys.argv[1]
cache = pathlib.Path(".mlo/cache")
for ref in (cache / "runs").glob("*/*"):
    old = ref.read_text().strip()
    rec = json.loads((cache / "objects" / old[:2] / old[2:]).read_text())
    outs = rec["outs"]
    (path, entry), = outs.items()
    if entry["type"] == "dir":
        rec["outs"] = {"../../outside/victimdir": entry}
    else:
        rec["outs"] = {"../../outside/victim.txt": entry, outside + "/created.txt": entry}
        rec["metric_files"] = {outside + "/metrics.json": rec["metric_files"]["metrics.json"]}
    data = (json.dumps(rec) + "\n").encode()
    h = hashlib.sha256(data).hexdigest()
    obj = cache / "objects" / h[:2] / h[2:]
    obj.parent.mkdir(parents=True, exist_ok=True)
    obj.write_bytes(data)
    ref.write_text(h + "\n")
    lock = pathlib.Path("mlo.lock")
    lock.write_text(lock.read_text().replace(old, h))
PY
git add -A && git commit -qm pipeline
expect_ok index rebuild
expect_ok push

cd "$TEST_TMP" && git clone -q a b && cd b
expect_ok pull
expect_err_contains "is refused"
expect_err_contains "unsafe path"
# The pull checked out the outputs mlo.lock names (safe paths, unchanged);
# with them gone, the stages must re-run: no refused record is used.
expect_eq "$(cat model.txt)" "model" "output checked out by the pull"
rm -rf prep model.txt
expect_ok run
expect_out_contains "Running prepare"
expect_out_contains "Running train"
expect_out_not_contains "from the run cache"
expect_eq "$(cat "$outside/victim.txt")" "keep" "file outside the repo"
expect_eq "$(cat "$outside/victimdir/file.txt")" "keep" "folder outside the repo"
expect_no_file "$outside/created.txt"
expect_no_file "$outside/metrics.json"
expect_eq "$(cat model.txt)" "model" "the stage re-ran"

# The records were refused in clone a too, where they were written by hand:
# the index rebuild skipped them, and the run cache never uses one.
cd "$TEST_TMP/a"
expect_ok --json runs ls
expect_json "len(d) == 0"

# A committed symlink at an output's path: restoring from the run cache
# replaces the link and leaves its target alone.
cd "$TEST_TMP/b"
expect_ok run --force
rm -f model.txt && ln -s "$outside/victim.txt" model.txt
rm -rf prep && ln -s "$outside/victimdir" prep
git add -f model.txt prep && git commit -qm "hostile links" || fail "committing the links"
expect_ok run
expect_out_contains "restored prepare from the run cache"
expect_out_contains "restored train from the run cache"
expect_eq "$(cat "$outside/victim.txt")" "keep" "symlink target of model.txt"
expect_eq "$(cat "$outside/victimdir/file.txt")" "keep" "symlink target of prep"
[ -L model.txt ] && fail "model.txt is still a symlink"
[ -L prep ] && fail "prep is still a symlink"
expect_eq "$(cat model.txt)" "model" "restored model"
expect_eq "$(cat prep/p.txt)" "prepared" "restored folder"
done_testing
