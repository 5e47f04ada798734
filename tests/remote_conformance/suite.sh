# The remote conformance suite: the same checks against every backend.
# A backend's test (tests/cli/remote_conformance_NAME.sh) starts its server,
# defines the hooks below and sources this file; a new backend is one such
# file.
#
#   conf_url FOLDER [PORT]   prints the URL of FOLDER on the shared server
#       (reached through 127.0.0.1:PORT, the fault proxy, when PORT is given)
#   conf_configure NAME [PORT]  sets remote NAME's options (endpoint, ...)
#   CONF_HTTP_PORT   the server's HTTP port (the fault proxy goes in front);
#       empty for backends that do not speak HTTP (dir, ssh).
#   CONF_DISK_ROOT   where FOLDER lives on this machine's disk (dir, ssh), so
#       a stored blob can be damaged in place; empty otherwise.
#   CONF_TCP_PORT    the port of a server that is not HTTP (ssh): the TCP cut
#       proxy goes in front; CONF_KILL_PUSH=1 kills a push mid-way instead (dir).
#
# Checks: packs of small files and CDC chunks of a large file round trip
# between clones (push, fetch, pull, data status --remote); a listing of
# many pages; two clones pushing at once; a corrupt object detected (and
# refetched where the damage is in transit); a server that acknowledges a
# write and drops it never reported complete; a push cut off mid-way
# resumed; gc --remote keeping what branches and tags need.
source "$MLO_SOURCE_DIR/tests/cli/lib_remote_gc.sh"

# Objects and page size of the listing check: in CI, 300 objects (600
# blobs) listed 100 a page (list_page, honoured by S3, GCS and Azure);
# CONF_PAGING_OBJECTS=2600 CONF_LIST_PAGE=0 crosses the services' own
# 1,000 and 5,000 pages (about 2 minutes a backend).
CONF_PAGING_OBJECTS=${CONF_PAGING_OBJECTS:-300}
CONF_LIST_PAGE=${CONF_LIST_PAGE:-100}

# conf_add_remote NAME FOLDER [PORT] [--default]: adds it to the tracked config and commits.
conf_add_remote() {
  local port=${3:-}
  expect_ok remote add "$1" "$(conf_url "$2" $port)" ${4:-}
  conf_configure "$1" $port
  git add -A && git commit -qm "remote $1" || fail "commit remote $1"
}

conf_round_trip() {
  new_repo a
  make_data
  conf_add_remote origin rt "" --default
  expect_ok --json push
  expect_json "d['objects'] == 42"
  expect_ok --json push
# A no-op push looks only at big.bin: data/small's folder was recorded as
  # pushed in full, so its 40 files are not looked at again.
  expect_json "d['objects'] == 0 and d['up_to_date'] == 1 and d['known_files'] == 40"
  cd "$TEST_TMP" && git clone -q a b && cd b
  expect_ok --json data status --remote
  expect_ok fetch
  expect_ok pull
  expect_same_data "$TEST_TMP/a" "$TEST_TMP/b"
  expect_cache_consistent
}

# Two clones push different data at the same moment; each then gets the other's.
conf_two_clones() {
  cd "$TEST_TMP/a" && mkdir -p a-only && head -c 200000 /dev/urandom >a-only/x.bin
  "$MLO" -q data add a-only/x.bin && git add -A && git commit -qm a-only || fail "commit a-only"
  cd "$TEST_TMP/b" && mkdir -p b-only && head -c 3000000 /dev/urandom >b-only/y.bin
  "$MLO" -q data add b-only/y.bin && git add -A && git commit -qm b-only || fail "commit b-only"
  (cd "$TEST_TMP/a" && "$MLO" -q push -j 4 >"$TEST_TMP/push-a.log" 2>&1; echo $? >"$TEST_TMP/push-a.rc") &
  local pa=$!
  (cd "$TEST_TMP/b" && "$MLO" -q push -j 4 >"$TEST_TMP/push-b.log" 2>&1; echo $? >"$TEST_TMP/push-b.rc") &
  wait "$pa" $!
  expect_eq "$(cat "$TEST_TMP/push-a.rc")" "0" "concurrent push from a ($(cat "$TEST_TMP/push-a.log"))"
  expect_eq "$(cat "$TEST_TMP/push-b.rc")" "0" "concurrent push from b ($(cat "$TEST_TMP/push-b.log"))"
  cd "$TEST_TMP/a" && git pull -q --no-rebase --no-edit "$TEST_TMP/b" main || fail "git pull b into a"
  expect_ok pull
  cmp -s b-only/y.bin "$TEST_TMP/b/b-only/y.bin" || fail "a did not get b's data"
  cd "$TEST_TMP/b" && git pull -q --no-rebase --no-edit "$TEST_TMP/a" main || fail "git pull a into b"
  expect_ok pull
  cmp -s a-only/x.bin "$TEST_TMP/a/a-only/x.bin" || fail "b did not get a's data"
  expect_ok fsck --remote origin
}

# More than 1,000 blobs under packs/: one object a pack (pack_size is
# tiny), so the listing needs more than one page.
conf_paging() {
  new_repo many
  mkdir -p data/many
  /usr/bin/python3 - "$CONF_PAGING_OBJECTS" <<'PY' || fail "make files"
import os, sys
for i in range(int(sys.argv[1])):
    with open(f"data/many/{i}.bin", "wb") as f:
        f.write(os.urandom(5000))
PY
  "$MLO" -q data add data/many && git add -A && git commit -qm many || fail "add many"
  conf_add_remote origin paging "" --default
  expect_ok remote modify origin pack_size 4096
  if [ "$CONF_LIST_PAGE" != 0 ]; then expect_ok remote modify origin list_page "$CONF_LIST_PAGE"; fi
  expect_ok --json push -j 8
  expect_json "d['packs'] >= $CONF_PAGING_OBJECTS"
  cd "$TEST_TMP" && git clone -q many many2 && cd many2
  expect_ok --json pull -j 8
  expect_json "d['objects'] == $CONF_PAGING_OBJECTS + 1 and not d['missing']"  # + the folder's manifest
  expect_eq "$(find data/many -type f | wc -l)" "$CONF_PAGING_OBJECTS" "files pulled"
  cd "$TEST_TMP/many" && expect_ok --json push
  expect_json "d['objects'] == 0 and d['up_to_date'] == 0 and d['known_files'] == $CONF_PAGING_OBJECTS"
}

# Damage on the way (a flipped byte, a cut body, a reset) is detected and
# the object fetched again; the server acknowledges a write it drops: sent
# again, and a push whose writes never stick is never reported complete;
# a push cut off mid-way is finished by the next one.
conf_faults_http() {
  start_fault_proxy "$CONF_HTTP_PORT"
  cd "$TEST_TMP/a" && conf_add_remote flaky rt "$PROXY_PORT"
  cd "$TEST_TMP" && rm -rf f1 && git clone -q a f1 && cd f1
  echo "get-corrupt,get-truncate,reset,get-corrupt" >"$FAULTS"
  expect_ok pull -r flaky -j 2
  expect_same_data "$TEST_TMP/a" "$TEST_TMP/f1"
  expect_cache_consistent
  echo "dropped $RANDOM" >data/small/dropped.txt
  "$MLO" -q data add data/small || fail "add dropped"
  echo "put-drop" >"$FAULTS"
  expect_ok push -r flaky -j 1
  expect_err_contains "sending it again"
  echo "dropped again $RANDOM" >data/small/dropped2.txt
  "$MLO" -q data add data/small || fail "add dropped2"
  echo "put-drop,put-drop,put-drop,put-drop" >"$FAULTS"
  expect_rc 4 push -r flaky -j 1
  expect_err_contains "holds nothing"
  for i in $(seq 1 20); do echo "cut $i $RANDOM" >"data/small/cut$i.txt"; done
  "$MLO" -q data add data/small || fail "add cut"
  echo "500,500,500,500,500,500,500,500,500,500" >"$FAULTS"
  MLO_REMOTE_RETRIES=1 expect_rc 4 push -r flaky -j 1
  : >"$FAULTS"
  expect_ok push -r flaky
  expect_ok fsck --remote flaky
}

# A connection cut mid-transfer (tests/cli/tcp_cut_proxy.py in front of
# CONF_TCP_PORT: ssh): a pull whose connections are cut gets the data on
# new ones; a push cut every time fails (exit 4) and the next push
# finishes it, with nothing half-written visible.
conf_cut_tcp() {
  start_cut_proxy "$CONF_TCP_PORT"
  cd "$TEST_TMP/a" && conf_add_remote cut rt "$CUT_PORT"
  cd "$TEST_TMP" && rm -rf f2 && git clone -q a f2 && cd f2
  echo "60000,60000" >"$CUTS"
  expect_ok pull -r cut -j 1
  expect_same_data "$TEST_TMP/a" "$TEST_TMP/f2"
  expect_cache_consistent
  [ "$(wc -l <"$CUTS.log")" = 2 ] || fail "the pull's connections were not cut twice: $(cat "$CUTS.log" 2>/dev/null)"
  mkdir -p big && head -c 4000000 /dev/urandom >big/cut.bin
  "$MLO" -q data add big && git add -A && git commit -qm big || fail "add big"
  printf '%s' "$(yes 300000 | head -10 | paste -sd,)" >"$CUTS"
  MLO_REMOTE_RETRIES=0 expect_rc 4 push -r cut -j 1
  expect_err_contains "write ssh://"
  : >"$CUTS"
  expect_ok push -r cut
  expect_ok fsck --remote cut
  cd "$TEST_TMP" && rm -rf f3 && git clone -q f2 f3 && cd f3
  expect_ok pull -r cut
  expect_same_file big/cut.bin "$TEST_TMP/f2/big/cut.bin"
}

# A writer killed mid-push (a directory's "cut"): the next push finishes
# the transfer and the remote checks clean.
conf_cut_disk() {
  cd "$TEST_TMP" && rm -rf f4 && git clone -q a f4 && cd f4
  mkdir -p many
  /usr/bin/python3 -c 'import os; [open(f"many/{i}.bin","wb").write(os.urandom(40000)) for i in range(400)]'
  "$MLO" -q data add many && git add -A && git commit -qm many || fail "add many"
  expect_ok remote modify origin pack_size 65536
  touch "$TEST_TMP/before-push"
  "$MLO" -q push -j 1 >/dev/null 2>&1 &
  local pid=$! i
  for i in $(seq 1 200); do
    [ -n "$(find "$CONF_DISK_ROOT/rt/packs" -newer "$TEST_TMP/before-push" -name '*.pack' 2>/dev/null | head -3 | sed -n 3p)" ] && break
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null  # (a push that ended first fails the "objects > 0" check below)
  wait "$pid" 2>/dev/null
  expect_ok --json push
  # Sent: what the killed push had not stored; up to date: what it had
  # (f4's cache holds only many/, so both prove the kill landed mid-way).
  expect_json "d['objects'] > 0 and d['up_to_date'] > 0"
  expect_ok fsck --remote origin
  cd "$TEST_TMP" && rm -rf f5 && git clone -q f4 f5 && cd f5
  expect_ok pull
  diff -r "$TEST_TMP/f4/many" many >/dev/null || fail "many/ differs after the killed push was finished"
  pass
}

# Damage at rest: a flipped byte in a stored pack is found (exit 4, the
# cache holds no bad object); once the pack is whole again, pull works.
conf_faults_disk() {
  local pack
  pack=$(find "$CONF_DISK_ROOT/rt/packs" -name '*.pack' -size +100k | head -1)
  [ -n "$pack" ] || fail "no pack to damage under $CONF_DISK_ROOT/rt/packs"
  cp "$pack" "$TEST_TMP/pack.good"
  /usr/bin/python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2]^=0xff; open(p,"wb").write(b)' "$pack"
  cd "$TEST_TMP" && rm -rf f1 && git clone -q a f1 && cd f1
  expect_rc 4 pull
  expect_err_contains "corrupt"
  expect_cache_consistent
  cp "$TEST_TMP/pack.good" "$pack"
  expect_ok pull
  expect_same_data "$TEST_TMP/a" "$TEST_TMP/f1"
}

conf_gc() {
  cd "$TEST_TMP" && mkdir -p gc && cd gc
  local saved=$TEST_TMP
  TEST_TMP="$saved/gc"
  add_gc_remote() { conf_add_remote r gc "" --default; }
  gc_setup
  gc_scenario_teammate
  gc_scenario_registered_model
  TEST_TMP=$saved
}

# Each part's time goes to the log (CI's budget: keep the whole under a minute).
# CONF_ONLY="conf_paging ..." runs only the parts named (when debugging one).
conf_part() {
  if [ -n "${CONF_ONLY:-}" ] && [[ " $CONF_ONLY " != *" $1 "* ]]; then return 0; fi
  local start=$SECONDS
  "$@"
  echo "conformance: $1 took $((SECONDS - start)) s" >&2
}
conf_part conf_round_trip
conf_part conf_two_clones
if [ -n "${CONF_HTTP_PORT:-}" ]; then conf_part conf_faults_http; fi
if [ -n "${CONF_DISK_ROOT:-}" ]; then conf_part conf_faults_disk; fi
if [ -n "${CONF_TCP_PORT:-}" ]; then conf_part conf_cut_tcp; fi
if [ "${CONF_KILL_PUSH:-}" = 1 ]; then conf_part conf_cut_disk; fi
conf_part conf_gc
conf_part conf_paging
