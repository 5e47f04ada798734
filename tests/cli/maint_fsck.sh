#!/usr/bin/env bash
# mlo fsck: a clean cache, a damaged object, a missing object, --repair, a
# damaged pointer, --json, bad options.
source "$(dirname "$0")/lib.sh"
new_repo

obj() { echo ".mlo/cache/objects/${1:0:2}/${1:2}"; }
mkdir -p data/images
echo "alpha" > data/a.csv
for i in 1 2 3; do echo "image $i" > data/images/$i.png; done
expect_ok data add data/a.csv data/images
A=$(sha256sum data/a.csv | cut -d' ' -f1)
IMG2=$(sha256sum data/images/2.png | cut -d' ' -f1)

expect_ok fsck
expect_out_contains "Checked 5 objects"
expect_out_contains "no problems"
expect_ok --json fsck
expect_json "d['ok'] is True and d['objects']==5 and d['corrupt']==[] and d['missing']==[] and d['pointers']==2"

# A damaged object and a missing one: reported, exit 1, nothing changed.
chmod u+w "$(obj "$A")" && echo "ALPHA" > "$(obj "$A")"
rm -f "$(obj "$IMG2")"
expect_rc 1 fsck
expect_out_contains "corrupt $A"
expect_out_contains "needed by data/a.csv"
expect_out_contains "missing $IMG2 (needed by data/images/2.png)"
expect_out_contains "1 corrupt, 1 missing"
expect_out_contains "mlo fsck --repair"
expect_file "$(obj "$A")"
expect_rc 1 --json fsck
expect_json "d['ok'] is False and d['corrupt'][0]['hash']=='$A' and d['corrupt'][0]['moved_to']==''"
expect_json "d['missing'][0]=={'hash':'$IMG2','needed_by':'data/images/2.png'}"
expect_json "d['corrupt'][0]['actual']=='$(echo ALPHA | sha256sum | cut -d' ' -f1)'"
# In shares of the hashes' first byte (gc.pass_objects: one needed hash
# held at once): the same findings as in one pass.
echo "$OUT" >"$TEST_TMP/one.json"
printf 'gc:\n  pass_objects: 1\n' >.mlo/config.local.yaml
expect_rc 1 --json fsck
echo "$OUT" >"$TEST_TMP/split.json"
/usr/bin/python3 - "$TEST_TMP/one.json" "$TEST_TMP/split.json" <<'PY' || fail "fsck in shares found other things"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert a['passes'] == 1 and b['passes'] >= 5, (a['passes'], b['passes'])
for k in ('objects', 'bytes', 'corrupt', 'missing', 'unreferenced', 'pointers', 'broken'):
    assert a[k] == b[k], (k, a[k], b[k])
PY
pass
printf 'gc:\n  pass_objects: none\n' >.mlo/config.local.yaml
expect_rc 3 fsck
expect_err_contains "gc.pass_objects: expected a whole number"
rm -f .mlo/config.local.yaml

# --repair moves the damaged object aside (never deletes it).
expect_rc 1 fsck --repair
expect_out_contains "moved to"
expect_no_file "$(obj "$A")"
expect_file ".mlo/cache/corrupt/$A"
expect_eq "$(cat ".mlo/cache/corrupt/$A")" "ALPHA" "quarantined bytes"
# Now both are simply missing; the workspace still has the data.
expect_rc 1 --json fsck -j 1
expect_json "len(d['missing'])==2 and d['corrupt']==[]"
expect_eq "$(cat data/a.csv)" "alpha" "workspace file"

# Objects of 16 MiB and more are verified first, in a pass of their own: a
# damaged one is found like a small one, and the sizes still add up.
new_repo big
head -c $((17 << 20)) /dev/urandom > big1.bin
head -c $((20 << 20)) /dev/urandom > big2.bin
echo small > small.txt
expect_ok data add big1.bin big2.bin small.txt
B1=$(sha256sum big1.bin | cut -d' ' -f1)
expect_ok --json fsck
expect_json "d['ok'] is True and d['objects']==3 and d['bytes']==$(((17 << 20) + (20 << 20) + 6))"
chmod u+w "$(obj "$B1")" && printf 'X' | dd of="$(obj "$B1")" bs=1 seek=1000 conv=notrunc 2>/dev/null
expect_rc 1 --json fsck
expect_json "d['objects']==3 and len(d['corrupt'])==1 and d['corrupt'][0]['hash']=='$B1' and d['corrupt'][0]['size']==$((17 << 20))"
expect_json "d['missing']==[] and d['bytes']==$(((17 << 20) + (20 << 20) + 6))"
printf 'gc:\n  pass_objects: 1\n' >.mlo/config.local.yaml
expect_rc 1 --json fsck
expect_json "d['passes'] >= 4 and d['objects']==3 and [c['hash'] for c in d['corrupt']]==['$B1'] and d['missing']==[]"
rm -f .mlo/config.local.yaml

# More missing objects than fsck lists (10,000), as in a clone before its
# pull: the count covers all, the list holds the lowest hashes, the same
# in shares.
new_repo many
mkdir -p many && /usr/bin/python3 -c "
for i in range(10005): open('many/f%05d' % i, 'w').write('many %d' % i)"
expect_ok data add many
(cd many && sha256sum f*) | cut -d' ' -f1 | sort >"$TEST_TMP/many.hashes"
while read -r h; do rm -f "$(obj "$h")"; done <"$TEST_TMP/many.hashes"
expect_rc 1 --json fsck
expect_json "d['missing_count'] == 10005 and len(d['missing']) == 10000 and d['objects'] == 1"
expect_json "sorted(m['hash'] for m in d['missing']) == open('$TEST_TMP/many.hashes').read().split()[:10000]"
expect_json "all(m['needed_by'].startswith('many/f') for m in d['missing'])"
echo "$OUT" >"$TEST_TMP/many_one.json"
printf 'gc:\n  pass_objects: 1000\n' >.mlo/config.local.yaml
expect_rc 1 --json fsck
expect_json "d['passes'] > 1 and d['missing_count'] == 10005"
expect_json "d['missing'] == json.load(open('$TEST_TMP/many_one.json'))['missing']"
rm -f .mlo/config.local.yaml
expect_rc 1 fsck
expect_out_contains "(10000 of 10005 missing listed)"
expect_out_contains "0 corrupt, 10005 missing"
expect_eq "$(grep -c '^missing ' <<<"$OUT")" "10000" "missing lines"

# A damaged pointer file is a problem too.
new_repo second
printf 'version: 1\npath: x.csv\ntype: file\nsha256: nothex\nsize: 1\n' > x.csv.mlo
expect_rc 1 fsck
expect_out_contains "broken"
expect_out_contains "x.csv.mlo"
expect_rc 1 --json fsck
expect_json "d['broken'][0]['kind']=='bad_pointer'"

# Bad options and places.
expect_rc 2 fsck --jobs 0
expect_rc 2 fsck --no-such-option
mkdir -p "$TEST_TMP/plain" && cd "$TEST_TMP/plain"
expect_rc 3 fsck
expect_err_contains "not a git repository"

done_testing
