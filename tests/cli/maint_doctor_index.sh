#!/usr/bin/env bash
# mlo doctor (in and outside a repository, with a broken index, config and
# pointer) and mlo index rebuild/status (healthy, garbage and deleted index).
source "$(dirname "$0")/lib.sh"

# Outside any repository: versions and link modes, exit 0.
mkdir -p "$TEST_TMP/plain" && cd "$TEST_TMP/plain"
expect_ok doctor
expect_out_contains "Versions:"
expect_out_contains "libgit2"
expect_out_contains "sqlite"
expect_out_contains "not a git repository"
expect_ok --json doctor
expect_json "d['ok'] is True and d['mlo_repo'] is False and 'zstd' in d['versions'] and 'openssl' in d['versions']"
expect_json "any(l['mode']=='copy' and l['works'] for l in d['link_modes'])"
expect_rc 3 index rebuild
expect_rc 2 doctor --no-such-option

# A git repository without mlo: a note, not a failure.
mkdir -p "$TEST_TMP/gitonly" && cd "$TEST_TMP/gitonly" && git init -q .
expect_ok doctor
expect_out_contains "mlo init"

# A healthy repository.
new_repo
echo "alpha" > a.csv
expect_ok data add a.csv
expect_ok doctor
expect_out_contains "ok    config"
expect_out_contains "Link modes ("
expect_ok --json doctor
expect_json "d['ok'] is True and d['mlo_repo'] is True and d['effective_link'] in ('reflink','copy')"
expect_json "[c['name'] for c in d['checks']]==['git','config','index','cache','link modes','pointers']"
expect_no_file .mlo/tmp/.probe-src.tmp.*
[ -z "$(ls -A .mlo/cache/tmp 2>/dev/null)" ] || fail "doctor left probe files in the cache"
pass

# A missing libgit2 or libcurl is reported, not a crash: in a private mount
# namespace, /dev/null is bind-mounted over each (the loader then refuses it).
[ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null ||
  fail "this check needs root and unshare -m (util-linux) to hide libgit2 and libcurl"
git2=$(ldconfig -p | awk '/libgit2\.so\.[0-9]/ { print $NF; exit }')
curl4=$(ldconfig -p | awk '/libcurl\.so\.4 / { print $NF; exit }')
[ -n "$git2" ] && [ -n "$curl4" ] || fail "libgit2 or libcurl not found by ldconfig -p"
without_libs() { unshare -m sh -c 'mount --bind /dev/null "$1" && mount --bind /dev/null "$2" && shift 2 && exec "$@"' \
                   sh "$git2" "$curl4" "$@"; }
out=$(without_libs "$MLO" doctor 2>&1); rc=$?
expect_eq "$rc" "1" "doctor without libgit2 exits 1 (a failed check): $out"
[[ "$out" == *"cannot load libgit2"* && "$out" == *"apt-get install libgit2"* && "$out" == *"cannot load libcurl"* ]] ||
  fail "doctor without the libraries does not name them: $out"
pass
out=$(without_libs "$MLO" --json doctor 2>&1)
/usr/bin/python3 -c '
import json, sys
d = json.loads(sys.argv[1])
checks = {c["name"]: c["level"] for c in d["checks"]}
assert checks == {"libcurl": "warn", "libgit2": "fail"}, checks
assert d["versions"]["libgit2"] == "missing" and d["versions"]["libcurl"] == "missing", d["versions"]
assert d["ok"] is False and d["root"] == "", d
' "$out" || fail "doctor --json without the libraries: $out"
pass
# Other commands still stop at once with the library named (exit 3).
out=$(without_libs "$MLO" models ls 2>&1); rc=$?
expect_eq "$rc" "3" "models ls without libgit2: $out"
[[ "$out" == *"cannot load libgit2"* ]] || fail "models ls without libgit2: $out"
pass

# index status / rebuild on a healthy index.
expect_ok index status
expect_out_contains "healthy"
expect_out_contains "data_stat"
expect_ok --json index status
expect_json "d['healthy'] is True and d['modules']['data']>=1"
expect_ok index rebuild
expect_out_contains "the old index was ok"
expect_ok data status --exit-code
expect_rc 2 index
expect_rc 2 index frobnicate

# A garbage index: doctor and index status fail, rebuild fixes it.
head -c 8192 /dev/urandom > .mlo/index.db
rm -f .mlo/index.db-wal .mlo/index.db-shm
expect_rc 1 doctor
expect_out_contains "fail  index"
expect_out_contains "mlo index rebuild"
expect_rc 1 --json index status
expect_json "d['healthy'] is False and d['exists'] is True"
expect_ok index rebuild
expect_out_contains "unreadable"
expect_ok --json index status
expect_json "d['healthy'] is True"
expect_ok data status --exit-code
expect_same_file a.csv .mlo/cache/objects/$(sha256sum a.csv | cut -c1-2)/$(sha256sum a.csv | cut -c3-64)

# A deleted index.
rm -f .mlo/index.db*
expect_ok --json index status
expect_json "d['exists'] is False"
expect_ok --json index rebuild
expect_json "d['previous']=='missing' and d['modules'][0]=='data'"
expect_file .mlo/index.db
[ -z "$(ls .mlo/tmp | grep rebuild)" ] || fail "rebuild left temp files"
pass

# Broken config and pointer: doctor fails and says where.
cp .mlo/config.yaml config.bak
printf 'cache:\n  link: teleport\n' > .mlo/config.local.yaml
expect_rc 1 doctor
expect_out_contains "fail  config"
expect_out_contains "teleport"
rm .mlo/config.local.yaml
printf 'version: 1\npath: ../b.csv\n' > b.csv.mlo
expect_rc 1 --json doctor
expect_json "[c['level'] for c in d['checks'] if c['name']=='pointers']==['fail']"
expect_json "'b.csv.mlo' in [c['detail'] for c in d['checks'] if c['name']=='pointers'][0]"

done_testing
