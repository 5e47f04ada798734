#!/usr/bin/env bash
# Stage folder outputs are tree manifests (issue 24), as 'mlo data add'
# writes: a one-file change in a 200-file output writes and pushes only its
# folder's and its parents' objects. An mlo.lock of the previous release
# (folder outs and deps hashed as flat, version 1 manifests; built here with
# MLO_FLAT_STAGE_MANIFESTS=1, which runs that release's code path) still
# matches: nothing re-runs, mlo.lock is not rewritten, and data status,
# push, pull, checkout, gc and fsck work on it; the run cache restores runs
# of either form.
source "$(dirname "$0")/lib.sh"

new_repo a
expect_ok remote add origin "$TEST_TMP/remote" --default
printf 'which: 0\n' >params.yaml
# out/dA/eC/fB.txt: 5 x 4 x 10 = 200 files; `which` changes one of them.
cat >gen.py <<'PY'
import os
which = os.environ["MLO_PARAM_WHICH"]
for a in range(5):
    for c in range(4):
        os.makedirs(f"out/d{a}/e{c}", exist_ok=True)
        for b in range(10):
            extra = f" {which}" if (a, c, b) == (3, 2, 7) else ""
            open(f"out/d{a}/e{c}/f{b}.txt", "w").write(f"file {a} {c} {b}{extra}\n")
PY
cat >mlo.yaml <<'YAML'
stages:
  gen:
    cmd: /usr/bin/python3 gen.py
    params: [which]
    outs: [out]
  count:
    cmd: find out -type f | LC_ALL=C sort | xargs cat | sha256sum > count.txt
    deps: [out]
    outs: [count.txt]
YAML

# lock_field STAGE KEY : the stage's first out's KEY in mlo.lock ('' if none).
lock_field() {
  /usr/bin/python3 -c "import yaml; o = yaml.safe_load(open('mlo.lock'))['stages']['$1']['outs'][0]; print(o.get('$2', ''))"
}
# manifest_kinds HASH... : 'flat N' or 'tree N' (N entries) for each object.
manifest_kinds() {
  /usr/bin/python3 - "$@" <<'PY'
import json, sys
for h in sys.argv[1:]:
    try:
        d = json.load(open(f".mlo/cache/objects/{h[:2]}/{h[2:]}"))
    except (ValueError, UnicodeDecodeError):
        continue  # not JSON: a file's bytes
    if isinstance(d, dict) and d.get("version") == 1 and "files" in d: print("flat", len(d["files"]))
    elif isinstance(d, dict) and d.get("version") == 2 and "entries" in d: print("tree", len(d["entries"]))
PY
}
objects() { (cd .mlo/cache/objects && find . -type f | sed 's|^\./||; s|/||' | sort); }
# flat_hashed : flat manifest hashes the last command computed (MLO_HASH_STATS=1
# prints one line a hasher), "none" without such a line.
flat_hashed() {
  printf '%s\n' "$ERR" | sed -n 's/.*flat manifests hashed: //p' | awk '{s += $1} END {print (NR ? s : "none")}'
}

# ---- the previous release's lock ---------------------------------------------
export MLO_FLAT_STAGE_MANIFESTS=1
expect_ok run
unset MLO_FLAT_STAGE_MANIFESTS
flat=$(lock_field gen sha256)
expect_eq "$(lock_field gen manifest_version)" "" "manifest_version in a lock of the previous release"
expect_eq "$(manifest_kinds "$flat")" "flat 200" "the previous release's folder manifest"
git add -A && git commit -qm "pipeline, as the previous release ran it" || fail "commit"
cp mlo.lock "$TEST_TMP/lock.v1"
cp -r out "$TEST_TMP/out.v1"

# This release: the unchanged stages stay up to date, mlo.lock untouched.
MLO_HASH_STATS=1 expect_ok status --exit-code
hashed=$(flat_hashed)
[ "$hashed" != none ] && [ "$hashed" -gt 0 ] || fail "status on the previous release's lock computed $hashed flat hashes"
pass
expect_ok --json run
expect_json "[(s['stage'], s['action']) for s in d['stages']] == [('gen', 'up-to-date'), ('count', 'up-to-date')]"
cmp -s mlo.lock "$TEST_TMP/lock.v1" || fail "mlo run rewrote the previous release's mlo.lock: $(diff mlo.lock "$TEST_TMP/lock.v1")"
pass
expect_ok data status --exit-code
expect_ok fsck
expect_ok gc --workspace --grace 0
expect_file ".mlo/cache/objects/${flat:0:2}/${flat:2}"
expect_ok --json push
rm -rf out/d1
expect_ok data checkout
diff -r out "$TEST_TMP/out.v1" >/dev/null || fail "checkout of a flat stage output"
pass
cd "$TEST_TMP" && git clone -q a b && cd b
expect_ok pull
diff -r out "$TEST_TMP/out.v1" >/dev/null || fail "pull of a flat stage output"
pass
expect_ok status --exit-code
cd "$TEST_TMP/a"

# ---- the stage runs again: its output becomes a tree ---------------------------
sed -i 's/which: .*/which: 1/' params.yaml
expect_ok --json run
expect_json "[(s['stage'], s['action']) for s in d['stages']] == [('gen', 'ran'), ('count', 'ran')]"
expect_eq "$(lock_field gen manifest_version)" 2 "manifest_version once the stage ran again"
expect_eq "$(manifest_kinds "$(lock_field gen sha256)" | head -1)" "tree 5" "the new root folder object"
expect_ok data status --exit-code
# A tree lock needs no flat hash: a no-op status and run compute none (each
# was a serialisation and sha256 of every folder's whole file list).
MLO_HASH_STATS=1 expect_ok status --exit-code
expect_eq "$(flat_hashed)" 0 "flat hashes computed by a no-op status with a tree lock"
MLO_HASH_STATS=1 expect_ok --json run
expect_json "[(s['stage'], s['action']) for s in d['stages']] == [('gen', 'up-to-date'), ('count', 'up-to-date')]"
expect_eq "$(flat_hashed)" 0 "flat hashes computed by a no-op run with a tree lock"
git commit -qam "which 1" || fail "commit"
expect_ok --json push

# ---- a one-file change: O(depth) new objects, and as many pushed ---------------
sed -i 's/which: .*/which: 2/' params.yaml
objects >before.txt
expect_ok --json run
expect_json "[(s['stage'], s['action']) for s in d['stages']] == [('gen', 'ran'), ('count', 'ran')]"
objects >after.txt
new=$(comm -13 before.txt after.txt)
# out/d3/e2, out/d3 and out: three folder objects of 10, 4 and 5 entries.
expect_eq "$(manifest_kinds $new | sort | tr '\n' ' ')" "tree 10 tree 4 tree 5 " "manifests a one-file change wrote"
echo "new objects after a one-file change: $(echo "$new" | wc -l)"
git commit -qam "which 2" || fail "commit"
expect_ok --json push
pushed=$(printf '%s' "$OUT" | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["objects"])')
echo "objects pushed after a one-file change: $pushed"
[ "$pushed" -le 10 ] || fail "push after a one-file change sent $pushed objects"; pass
cd "$TEST_TMP/b"
git pull -q || fail "git pull"
expect_ok pull
diff -r out "$TEST_TMP/a/out" >/dev/null || fail "pull of a tree stage output"
pass
expect_ok status --exit-code
expect_ok data status --exit-code
cd "$TEST_TMP/a"

# ---- the run cache restores either form -----------------------------------------
sed -i 's/which: .*/which: 0/' params.yaml
expect_ok --json run
expect_json "[(s['stage'], s['action']) for s in d['stages']] == [('gen', 'restored'), ('count', 'restored')]"
diff -r out "$TEST_TMP/out.v1" >/dev/null || fail "restored from the previous release's run"
pass
expect_eq "$(lock_field gen sha256)" "$flat" "the restored run's output (flat)"
expect_ok data status --exit-code
expect_ok status --exit-code
sed -i 's/which: .*/which: 2/' params.yaml
expect_ok --json run
expect_json "[(s['stage'], s['action']) for s in d['stages']] == [('gen', 'restored'), ('count', 'restored')]"
expect_eq "$(lock_field gen manifest_version)" 2 "the restored run's output (tree)"
expect_ok data status --exit-code
expect_ok fsck
done_testing
