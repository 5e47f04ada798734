#!/usr/bin/env bash
# The environment in every run record (OS, kernel, libc, CPU, memory, the
# stage's python and its packages, lock files, allow-listed env vars, never a
# secret), `environment:` on a stage keying the run cache on it, `mlo status`
# naming the package that changed, `mlo runs show/diff` printing it, and bad
# input. The interpreter is a real venv of Debian's python; the test changes
# its packages by adding and editing a dist-info folder, as pip would.
source "$(dirname "$0")/lib.sh"
new_repo envrepo
/usr/bin/python3 -m venv --without-pip --system-site-packages venv || fail "cannot make a venv"
echo "/venv" >> .gitignore
SITE=$(venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
[ -d "$SITE" ] || fail "no site-packages in the venv: $SITE"
# fake_dist VERSION: the venv holds fakepkg VERSION (none: removed).
fake_dist() {
  rm -rf "$SITE"/fakepkg-*.dist-info
  [ "$1" = none ] && return
  mkdir -p "$SITE/fakepkg-$1.dist-info"
  printf 'Metadata-Version: 2.1\nName: fakepkg\nVersion: %s\n' "$1" > "$SITE/fakepkg-$1.dist-info/METADATA"
}
fake_dist 1.0
echo "numpy==1.24.2" > requirements.txt
cat > train.py <<'PY'
import sys
open("model.txt", "w").write("trained with " + sys.version.split()[0] + "\n")
PY
cat > mlo.yaml <<'YAML'
stages:
  train:
    cmd: venv/bin/python train.py
    deps: [train.py]
    outs: [model.txt]
    environment: python
  report:
    cmd: echo report > report.txt
    outs: [report.txt]
YAML
git add -A && git commit -qm pipeline
export PYTHONHASHSEED=7 MY_API_TOKEN=s3cr3t-value MLO_TEST_PASSWORD=hunter2
expect_ok run
run1=$(last_run train)
expect_ok --json runs show "$run1"
expect_json "d['environment']['python']['path'].endswith('venv/bin/python')"
expect_json "d['environment']['python']['packages'].get('fakepkg') == '1.0'"
expect_json "d['environment']['python']['version'].count('.') == 2"
expect_json "d['environment']['os']['id'] != '' and d['environment']['kernel'] != '' and d['environment']['libc'].startswith('glibc ')"
expect_json "d['environment']['cpu']['cores'] >= 1 and d['environment']['memory_bytes'] > 0"
expect_json "isinstance(d['environment']['gpus'], list)"
expect_json "len(d['environment']['lock_files']['requirements.txt']) == 64"
expect_json "d['environment']['env_vars'].get('PYTHONHASHSEED') == '7'"
# A secret never reaches the record, whatever its name's place in the allow-list.
expect_out_not_contains "s3cr3t-value"
expect_out_not_contains "hunter2"
expect_out_not_contains "MY_API_TOKEN"
# A stage that names no python still records the machine and python3 on PATH.
run_r=$(last_run report)
expect_ok --json runs show "$run_r"
expect_json "'kernel' in d['environment']"
expect_ok runs show "$run1"
expect_out_contains "environment:"
expect_out_contains "venv/bin/python"
expect_out_contains "requirements.txt"
expect_ok -v runs show "$run1"
expect_out_contains "    fakepkg 1.0"

# Nothing changed: up to date, and the interpreter is not asked again (its cache holds).
expect_ok status --exit-code
expect_out_contains "train: up to date"
[ -n "$(ls .mlo/cache/env/python-*.json 2>/dev/null)" ] || fail "no interpreter cache under .mlo/cache/env"
pass

# A package upgraded, as pip does it: the stage is stale and status names the package.
fake_dist 2.0
expect_rc 1 status --exit-code
expect_out_contains "train: stale: environment changed: fakepkg 1.0 → 2.0"
expect_out_contains "report: up to date"
expect_ok run -n
expect_out_contains "would run train: environment changed: fakepkg 1.0 → 2.0"
expect_ok run
expect_out_contains "Running train"
run2=$(last_run train)
expect_ok runs diff "$run1" "$run2"
expect_out_contains "environment.package fakepkg"
expect_ok --json runs diff "$run1" "$run2"
expect_json "[e for e in d['environment'] if e['field'] == 'package fakepkg' and e['old'] == '1.0' and e['new'] == '2.0' and e['change'] == 'changed']"
expect_json "all(not e['field'].startswith('kernel') for e in d['environment'])"

# Back to 1.0: the run cache has the output made under 1.0 and restores it;
# it never hands back the one made under 2.0.
fake_dist 1.0
expect_ok status
expect_out_contains "fakepkg 2.0 → 1.0"
expect_out_contains "the run cache has its outputs: run $run1"
expect_ok run
expect_out_contains "restored train from the run cache (run $run1)"

# Added and removed packages are named too.
fake_dist none
expect_ok status
expect_out_contains "fakepkg removed (was 1.0)"
fake_dist 1.0

# Lock files as the environment: a changed requirements.txt makes the stage stale.
sed -i 's/environment: python/environment: [python, requirements.txt]/' mlo.yaml
expect_ok run
echo "numpy==1.26.4" > requirements.txt
expect_ok status
expect_out_contains "train: stale: environment changed: lock_file requirements.txt"
expect_ok run

# Bad input: a lock file that is not there, image without the container runner, a pin on a tag.
cp mlo.yaml good.yaml
sed -i 's/environment: \[python, requirements.txt\]/environment: [uv.lock]/' mlo.yaml
expect_rc 3 run
expect_err_contains "mlo.yaml:"
expect_err_contains "'uv.lock', which does not exist"
cp good.yaml mlo.yaml
printf '    image: busybox:1\n' >> mlo.yaml
expect_rc 3 run
expect_err_contains "image is for runner: container"
cp good.yaml mlo.yaml
sed -i 's/^  report:/  report:\n    runner: container\n    image: localhost\/x:1\n    pin: digest/' mlo.yaml
expect_rc 3 status
expect_err_contains "pin: digest but image 'localhost/x:1' names only a tag"
cp good.yaml mlo.yaml
sed -i 's/^  report:/  report:\n    runner: container\n    environment: python\n    image: localhost\/x:1/' mlo.yaml
expect_rc 3 status
expect_err_contains "runs in a container"
cp good.yaml mlo.yaml
sed -i 's/^  report:/  report:\n    pin: latest/' mlo.yaml
expect_rc 3 status
expect_err_contains "pin must be 'digest' or 'none'"
cp good.yaml mlo.yaml
expect_ok status
done_testing
