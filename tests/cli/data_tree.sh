#!/usr/bin/env bash
# Tree manifests (pointer version 2): a dataset tracked by the previous
# release (pointer version 1, one flat manifest) still checks out, pulls,
# diffs and gc's across two clones; re-adding converts it; a one-file change
# writes and pushes only its folder's and its parents' manifests; hostile
# tree objects are refused (exit 3), never exit 70.
source "$(dirname "$0")/lib.sh"

# v1_pointer DATA : rewrites DATA.mlo the way mlo did before trees: a flat
# manifest (version 1, entries sorted by path, one a line) in the cache,
# named by a pointer with version: 1. The files' objects are there already.
v1_pointer() {
  /usr/bin/python3 - "$1" <<'EOF' || fail "could not write a version 1 pointer"
import hashlib, json, os, re, sys
data = sys.argv[1]
rows = []
for root, dirs, files in os.walk(data):
    for f in files:
        p = os.path.join(root, f)
        b = open(p, "rb").read()
        exe = os.access(p, os.X_OK)
        rows.append((os.path.relpath(p, data), hashlib.sha256(b).hexdigest(), len(b), exe))
rows.sort(key=lambda r: r[0].encode())
lines = []
for path, h, size, exe in rows:
    lines.append('{"path":%s,"sha256":"%s","size":%d%s}' % (json.dumps(path), h, size, ',"exec":true' if exe else ""))
text = '{"version":1,"files":[\n' + ",\n".join(lines) + "\n]}\n"
h = hashlib.sha256(text.encode()).hexdigest()
obj = os.path.join(".mlo/cache/objects", h[:2], h[2:])
os.makedirs(os.path.dirname(obj), exist_ok=True)
open(obj, "w").write(text)
ptr = open(data + ".mlo").read()
ptr = re.sub(r"(?m)^version: 2$", "version: 1", ptr)
ptr = re.sub(r"(?m)^sha256: [0-9a-f]{64}$", "sha256: " + h, ptr)
open(data + ".mlo", "w").write(ptr)
print(h)
EOF
}

new_repo a
expect_ok remote add origin "$TEST_TMP/remote" --default
# Three levels: data/set/dA/eB/fC.txt, plus files at the top.
for a in 0 1 2; do for b in 0 1 2; do
  mkdir -p "data/set/d$a/e$b"
  for c in 0 1 2 3; do echo "file $a $b $c" >"data/set/d$a/e$b/f$c.txt"; done
done; done
echo top >data/set/top.txt
printf '#!/bin/sh\necho hi\n' >data/set/run.sh && chmod +x data/set/run.sh
expect_ok --json data add data/set
expect_json "d['added'][0]['files'] == 38 and d['added'][0]['manifests_written'] == 13"
grep -q '^version: 2$' data/set.mlo || fail "a folder is not tracked as a tree (version 2)"
pass
tree_root=$(sed -n 's/^sha256: //p' data/set.mlo)
# Every folder object fits schemas/tree-manifest.schema.json.
/usr/bin/python3 - "$MLO_SOURCE_DIR/schemas/tree-manifest.schema.json" "$tree_root" <<'EOF' || fail "tree objects do not fit the schema"
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
todo, seen = [sys.argv[2]], 0
while todo:
    h = todo.pop()
    doc = json.load(open(".mlo/cache/objects/%s/%s" % (h[:2], h[2:])))
    jsonschema.validate(doc, schema)
    todo += [e["tree"] for e in doc["entries"] if "tree" in e]
    seen += 1
assert seen == 13, seen
EOF
pass

# ---- a dataset of the previous release ----------------------------------------
flat=$(v1_pointer data/set)
grep -q '^version: 1$' data/set.mlo || fail "v1 pointer not written"
pass
expect_ok data status --exit-code
git add -A && git commit -qm "data, as the previous release tracked it" || fail "commit"
# gc keeps the flat manifest and the files; the tree objects nothing names go.
expect_ok gc --workspace --grace 0
expect_file ".mlo/cache/objects/${flat:0:2}/${flat:2}"
expect_no_file ".mlo/cache/objects/${tree_root:0:2}/${tree_root:2}"
expect_ok fsck
rm -rf data/set/d1
expect_ok data checkout data/set
expect_file data/set/d1/e2/f3.txt
expect_ok data status --exit-code
expect_ok --json push
expect_json "d['objects'] == 39"
cd "$TEST_TMP" && git clone -q a b && cd b
expect_ok pull
diff -r data/set "$TEST_TMP/a/data/set" >/dev/null || fail "the v1 dataset differs after pull"
[ -x data/set/run.sh ] || fail "the executable bit was lost"
pass

# ---- re-adding converts; one-file changes are O(depth) ------------------------
cd "$TEST_TMP/a"
echo changed >data/set/d2/e1/f0.txt
expect_ok --json data add data/set
expect_json "d['added'][0]['changed'] and d['added'][0]['manifests_written'] == 13"
grep -q '^version: 2$' data/set.mlo || fail "re-adding did not convert the pointer to a tree"
pass
git commit -qam "converted, one file changed" || fail "commit"
expect_ok --json data diff HEAD~1 HEAD
expect_json "[c['path'] for c in d['modified']] == ['data/set/d2/e1/f0.txt'] and not d['added'] and not d['deleted']"
expect_ok --json push
expect_json "d['objects'] == 14"  # the new file and all 13 folder objects (new format)
echo "changed again" >data/set/d0/e2/f3.txt
expect_ok --json data add data/set
expect_json "d['added'][0]['manifests_written'] == 3"  # d0/e2, d0 and the root
git commit -qam "one more file" || fail "commit"
# depth 3 (root, d0, d0/e2): the file and three folders, within depth + 2.
expect_ok --json push
expect_json "d['objects'] == 4"
expect_ok --json data status --remote --exit-code
expect_ok data diff HEAD~1 HEAD
expect_out_contains "data/set/d0/e2/f3.txt"
# Tree against tree: a new folder, a removed one, a changed file; folders
# whose objects are equal are not read (one removed from the cache does not
# matter).
mkdir -p data/set/d3/e0 && echo new >data/set/d3/e0/n.txt
rm -rf data/set/d1/e1
echo "changed thrice" >data/set/d2/e2/f1.txt
"$MLO" -q data add data/set && git commit -qam "tree to tree" || fail "add/commit"
d0_tree=$(/usr/bin/python3 -c '
import json; h="'"$(sed -n 's/^sha256: //p' data/set.mlo)"'"
d=json.load(open(".mlo/cache/objects/%s/%s" % (h[:2], h[2:])))
print([e["tree"] for e in d["entries"] if e["name"] == "d0"][0])')
mv ".mlo/cache/objects/${d0_tree:0:2}/${d0_tree:2}" "$TEST_TMP/d0_tree"
expect_ok --json data diff HEAD~1 HEAD
expect_json "[c['path'] for c in d['added']] == ['data/set/d3/e0/n.txt'] and [c['path'] for c in d['modified']] == ['data/set/d2/e2/f1.txt'] and [c['path'] for c in d['deleted']] == ['data/set/d1/e1/f%d.txt' % i for i in range(4)] and not d['unknown']"
mv "$TEST_TMP/d0_tree" ".mlo/cache/objects/${d0_tree:0:2}/${d0_tree:2}"
expect_ok --json push

# The other clone pulls both commits, diffs across formats, gc's.
cd "$TEST_TMP/b"
git pull -q || fail "git pull"
expect_ok --json pull
expect_json "d['objects'] >= 4"
diff -r data/set "$TEST_TMP/a/data/set" >/dev/null || fail "the tree dataset differs after pull"
pass
expect_ok --json data diff HEAD~3 HEAD
expect_json "sorted(c['path'] for c in d['modified']) == ['data/set/d0/e2/f3.txt', 'data/set/d2/e1/f0.txt', 'data/set/d2/e2/f1.txt'] and not d['unknown']"
expect_ok --json data diff HEAD~3
expect_json "len(d['modified']) == 3 and len(d['added']) == 1 and len(d['deleted']) == 4"
expect_ok gc --workspace --grace 0
expect_ok fsck
expect_ok data status --exit-code
# The v1 commit's flat manifest went with the gc; fetching it back works.
git checkout -q HEAD~3 || fail "git checkout"
expect_ok pull
cmp -s data/set/d0/e2/f3.txt <(echo "file 0 2 3") || fail "old content not restored from the v1 commit"
pass
git checkout -q - || fail "git checkout back"
expect_ok pull
expect_ok data status --exit-code

# ---- hostile trees -----------------------------------------------------------
# store_tree TEXT : puts TEXT into the cache under its hash; prints the hash.
store_tree() {
  local h
  h=$(printf '%s' "$1" | sha256sum | cut -c1-64)
  mkdir -p ".mlo/cache/objects/${h:0:2}" && printf '%s' "$1" >".mlo/cache/objects/${h:0:2}/${h:2}"
  echo "$h"
}
hostile_pointer() {
  printf 'version: 2\npath: evil\ntype: dir\nsha256: %s\nsize: 1\nfiles: 1\n' "$1" >data/evil.mlo
}
f=$(echo -n x | sha256sum | cut -c1-64)
for case in '..|unsafe name' 'a/b|holds a' ; do
  name=${case%%|*} msg=${case#*|}
  hostile_pointer "$(store_tree "{\"version\":2,\"entries\":[
{\"name\":\"$name\",\"sha256\":\"$f\",\"size\":1}
]}
")"
  expect_rc 3 data checkout data/evil
  expect_err_contains "$msg"
  expect_no_file "$TEST_TMP/b/data/x"
done
# Exponential sharing: refused from the root's claim, at once.
level=$(store_tree "{\"version\":2,\"entries\":[
{\"name\":\"leaf\",\"sha256\":\"$f\",\"size\":1}
]}
")
n=1
for i in $(seq 1 40); do
  level=$(store_tree "{\"version\":2,\"entries\":[
{\"name\":\"l\",\"tree\":\"$level\",\"size\":$n,\"files\":$n},
{\"name\":\"r\",\"tree\":\"$level\",\"size\":$n,\"files\":$n}
]}
")
  n=$((n * 2))
done
hostile_pointer "$level"
expect_rc 3 data checkout data/evil
expect_err_contains "claims 1099511627776 files"
# A cycle by hash: an object naming itself, stored under that name.
self=$(echo -n self | sha256sum | cut -c1-64)
mkdir -p ".mlo/cache/objects/${self:0:2}"
printf '{"version":2,"entries":[\n{"name":"loop","tree":"%s","size":1,"files":1}\n]}\n' "$self" \
  >".mlo/cache/objects/${self:0:2}/${self:2}"
hostile_pointer "$self"
expect_rc 3 data checkout data/evil
expect_err_contains "do not match its hash"
expect_rc 3 data ls data/evil
expect_err_contains "do not match its hash"
# fsck and status name it; neither crashes.
run_mlo fsck
[ "$RC" != 70 ] && [ "$RC" != 0 ] || fail "fsck on a hostile tree exited $RC"
pass
run_mlo data status
[ "$RC" != 70 ] || fail "status on a hostile tree exited 70"
pass
rm -f data/evil.mlo

# data ls walks a tree folder by folder and prints as it goes: every file,
# in path order, with its hash and size, the same for a flat (version 1)
# manifest; a folder object missing from the cache is an error (exit 3).
new_repo ls
mkdir -p data/t/a/b data/t/c
for f in a/1 a/b/2 a/b/3 c/4 top; do printf 'file %s\n' "$f" >"data/t/$f"; done
"$MLO" -q data add data/t || fail "data add data/t"
want=$(cd data && find t -type f | LC_ALL=C sort | while read -r f; do
  printf '%s %s %s\n' "data/$f" "$(sha256sum "$f" | cut -c1-64)" "$(stat -c %s "$f")"; done)
list_json() { printf '%s' "$OUT" | /usr/bin/python3 -c "import json,sys; [print(e['path'], e['sha256'], e['size']) for e in json.load(sys.stdin)['entries']]"; }
expect_ok --json data ls data/t
expect_eq "$(list_json)" "$want" "data ls of a tree"
v1_pointer data/t >/dev/null
expect_ok --json data ls data/t
expect_eq "$(list_json)" "$want" "data ls of a flat manifest"
"$MLO" -q data add data/t || fail "re-add data/t"
sub=$(/usr/bin/python3 -c "
import json; m = json.loads(open('.mlo/cache/objects/' + '$(grep '^sha256:' data/t.mlo | cut -c9-)'[:2] + '/' + '$(grep '^sha256:' data/t.mlo | cut -c9-)'[2:]).read())
print([e['tree'] for e in m['entries'] if e['name'] == 'a'][0])")
# data diff of a tree the work tree lacks (a fresh clone before its pull)
# walks it as it prints: every file deleted, in path order, with its hash and
# size, and a tracked file beside it ("t.csv" sorts before "t/") in its place.
echo csv >data/t.csv && "$MLO" -q data add data/t.csv
git add -A && git commit -qm "tree and file"
mv data/t "$TEST_TMP/t_aside" && rm data/t.csv
want_deleted=$(printf 'data/t.csv %s 4\n%s' "$(echo csv | sha256sum | cut -c1-64)" "$want")
expect_ok --json data diff
expect_json "not d['added'] and not d['modified'] and not d['unknown'] and d['from'] == 'HEAD'"
expect_eq "$(printf '%s' "$OUT" | /usr/bin/python3 -c "import json,sys; [print(c['path'], c['old_sha256'], c['old_size']) for c in json.load(sys.stdin)['deleted']]")" \
  "$want_deleted" "data diff of a tree missing from the work tree"
# The first diff checked that every folder object is there, and recorded
# it with the cache's stamp: the next lists the tree in one walk.
listed_rows() {
  /usr/bin/python3 -c "
import sqlite3
for r in sqlite3.connect('.mlo/index.db').execute(\"SELECT manifest FROM data_complete WHERE manifest LIKE 'folders:%'\"): print(r[0])"
}
expect_eq "$(listed_rows)" "folders:$(grep '^sha256:' data/t.mlo | cut -c9-)" "the tree recorded as listable"
expect_ok data diff
expect_eq "$OUT" "$(printf '%s\n' "$want_deleted" | cut -d' ' -f1 | sed 's/^/deleted:  /')" "data diff's text"
# Between revisions: the commit that added them adds every file.
expect_ok --json data diff HEAD~1 HEAD
expect_eq "$(printf '%s' "$OUT" | /usr/bin/python3 -c "import json,sys; [print(c['path'], c['new_sha256'], c['new_size']) for c in json.load(sys.stdin)['added']]")" \
  "$want_deleted" "data diff of the commit that added the tree"
chmod u+w ".mlo/cache/objects/${sub:0:2}" 2>/dev/null; rm -f ".mlo/cache/objects/${sub:0:2}/${sub:2}"
# With a folder object missing, the tree is compared as a whole, named (the
# removal changed the cache's stamp, so the record above no longer holds).
expect_ok data diff
expect_out_contains "deleted:  data/t"
expect_out_contains "note: the manifest of data/t is not in the cache; compared as a whole"
mv "$TEST_TMP/t_aside" data/t
expect_rc 3 data ls data/t
expect_err_contains "$sub"

done_testing
