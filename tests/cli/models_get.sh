#!/usr/bin/env bash
# A model registered in one clone is usable in another: `mlo models get`
# and `mlo deploy --target batch` fetch the registered bytes from the remote
# when the cache lacks them (the work tree's copy may differ or be absent).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"

# Clone A: a model file tracked as data, registered, pushed (git and mlo).
git init -q --bare "$TEST_TMP/origin.git"
new_repo a
expect_ok remote add team "$TEST_TMP/remote" --default
mkdir -p models
linear_model models/m.json 2
expect_ok data add models/m.json
mkdir -p models/bundle/sub && echo weights >models/bundle/w.bin && echo cfg >models/bundle/sub/c.txt
expect_ok data add models/bundle
git add -A && git commit -qm "model" || fail "commit"
expect_ok register lin models/m.json
expect_ok register bundle models/bundle
# A model file that is neither tracked data nor a stage output: push sends
# registered artifacts too.
linear_model loose.json 3
expect_ok register loose loose.json
expect_ok push
git remote add origin "$TEST_TMP/origin.git" && git push -q origin HEAD:main --tags || fail "git push"
want=$(sha256sum models/m.json | cut -d' ' -f1)

# Clone B: git only, no `mlo pull`: the cache is empty.
git clone -q "$TEST_TMP/origin.git" "$TEST_TMP/b" && cd "$TEST_TMP/b" || fail "clone"
expect_ok models get lin@v0.0.1 -o got.json
expect_out_contains "fetched from the remote"
expect_eq "$(sha256sum got.json | cut -d' ' -f1)" "$want" "fetched model bytes"
# Already there now: no second download; an existing file is not overwritten.
expect_rc 3 models get lin@v0.0.1 -o got.json
expect_err_contains "already exists"
expect_ok --json models get lin -o got.json --force
expect_json "d['fetched'] == 0 and d['version'] == 'v0.0.1' and d['files'] == 1"
# A folder artifact: manifest and files, into a folder given with -o.
mkdir -p out
expect_ok --json models get bundle@v0.0.1 -o out
expect_json "d['type'] == 'dir' and d['files'] == 2 and d['path'].endswith('out/bundle')"
expect_eq "$(cat out/bundle/sub/c.txt)" "cfg" "folder artifact file"

expect_ok models get loose -o loose-copy.json
expect_out_contains "fetched from the remote"
expect_eq "$(cat loose-copy.json)" "$(cat "$TEST_TMP/a/loose.json")" "loose artifact"

# `pull --models` fetches every registered artifact ahead of time.
git clone -q "$TEST_TMP/origin.git" "$TEST_TMP/p" && cd "$TEST_TMP/p" || fail "clone"
expect_ok --json pull --models
# The tracked models came with the data; the loose artifact only with --models.
expect_json "d['model_objects'] == 1 and d['models_missing'] == []"
expect_ok --json models get loose -o l2.json
expect_json "d['fetched'] == 0"
expect_ok --json models get bundle -o b2
expect_json "d['fetched'] == 0 and d['files'] == 2"

# Batch scoring in clone C, whose work tree file differs from the registered bytes.
git clone -q "$TEST_TMP/origin.git" "$TEST_TMP/c" && cd "$TEST_TMP/c" || fail "clone"
linear_model models/m.json 9  # a local edit, not registered
printf 'a,b\n1,2\n' >input.csv
expect_ok --json deploy lin@v0.0.1 --env nightly --target batch --input input.csv --output preds.csv
expect_eq "$(tail -1 preds.csv)" "1,2,6.0" "prediction of the registered model (coef 2), not the edited one"

# Bad inputs: unknown version; no remote to fetch from; a remote that lacks the bytes.
expect_rc 3 models get lin@v9.9.9
git clone -q "$TEST_TMP/origin.git" "$TEST_TMP/d" && cd "$TEST_TMP/d" || fail "clone"
printf 'remote: {}\n' >.mlo/config.local.yaml
sed -i '/^remotes:/,$d; /^remote:/,$d' .mlo/config.yaml
expect_rc 3 models get lin@v0.0.1
expect_err_contains "no remote to fetch them from"
cd "$TEST_TMP/b" && rm -rf "$TEST_TMP/remote" && mkdir -p "$TEST_TMP/remote" && rm -rf .mlo/cache/objects/* .mlo/cache/remotes
expect_rc 4 models get lin@v0.0.1 -o again.json
expect_err_contains "lacks"
expect_no_file again.json
done_testing
