#!/usr/bin/env bash
# runner: container with real podman (Debian's, rootful, runc) and an image
# imported from a busybox-static root file system: no registry. The stage
# runs as the invoking uid in the repository mounted at its own path; the
# image's digest is recorded and keyed (re-tagging the image to other bytes
# makes the stage stale); pin: digest; timeout, SIGTERM and kill -9 of
# `mlo run` leave no container behind.
source "$(dirname "$0")/lib.sh"
command -v podman >/dev/null || fail "podman is not installed (apt-get install podman runc busybox-static)"
[ -x /bin/busybox ] || fail "busybox-static is not installed"
# The engine's settings for this sandbox, in the test only (the product keeps
# the engine's defaults): crun failed here on setrlimit and the hybrid
# cgroups; a private storage so parallel tests never share images.
export CONTAINERS_CONF="$TEST_TMP/containers.conf" CONTAINERS_STORAGE_CONF="$TEST_TMP/storage.conf"
cat > "$CONTAINERS_CONF" <<'EOF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
EOF
cat > "$CONTAINERS_STORAGE_CONF" <<EOF
[storage]
driver = "vfs"
graphroot = "$TEST_TMP/storage"
runroot = "$TEST_TMP/runroot"
EOF
podman_cleanup() { podman rm -af -t 0 >/dev/null 2>&1; podman rmi -af >/dev/null 2>&1; cleanup; }
trap podman_cleanup EXIT
# make_image TAG MARKER: a busybox root file system (with MARKER in /marker) imported as TAG.
make_image() {
  local fs="$TEST_TMP/rootfs-$2"
  mkdir -p "$fs/bin" "$fs/tmp" "$fs/etc"
  cp /bin/busybox "$fs/bin/busybox"
  for c in sh echo cat sleep id ls env touch; do ln -sf busybox "$fs/bin/$c"; done
  echo "$2" > "$fs/marker"
  tar -C "$fs" -c . | podman import -q - "$1" >/dev/null || fail "podman import $1"
}
digest_of() { podman image inspect --format '{{.Digest}}' "$1"; }
running() { podman ps -a --format '{{.Names}}' | grep -c '^mlo-' ; }

make_image localhost/mlo-bb:1 one
D1=$(digest_of localhost/mlo-bb:1)
new_repo c
cat > .mlo/config.yaml.add <<'EOF'
runners:
  container:
    kill_grace_s: 1
EOF
cat .mlo/config.yaml.add >> .mlo/config.yaml && rm .mlo/config.yaml.add
cat > mlo.yaml <<'YAML'
stages:
  build:
    runner: container
    image: localhost/mlo-bb:1
    cmd: echo "$(cat /marker) uid=$(id -u) stage=$MLO_STAGE lr=$MLO_PARAM_LR pwd=$(pwd)" > out.txt
    params: [lr]
    outs: [out.txt]
    resources: {cpus: 1, memory: 256M}
YAML
echo "lr: 0.5" > params.yaml
expect_ok run
expect_eq "$(cat out.txt)" "one uid=$(id -u) stage=build lr=0.5 pwd=$PWD" "what the container wrote"
run1=$(last_run build)
expect_ok --json runs show "$run1"
expect_json "d['environment']['container']['digest'] == '$D1'"
expect_json "d['environment']['container']['image'] == 'localhost/mlo-bb:1'"
expect_json "d['runner'] == 'container' and d['status'] == 'succeeded'"
expect_json "'python' not in d['environment']"
expect_eq "$(running)" "0" "containers left after a run"
expect_ok run
expect_out_contains "build is up to date"

# The tag moves to other bytes: the stage is stale, and status says the image changed.
make_image localhost/mlo-bb:1 two
D2=$(digest_of localhost/mlo-bb:1)
[ "$D1" != "$D2" ] || fail "the re-imported image has the same digest"
expect_rc 1 status --exit-code
expect_out_contains "build: stale: environment changed: image localhost/mlo-bb:1@$D1 → localhost/mlo-bb:1@$D2"
expect_ok run
expect_eq "$(cat out.txt | cut -d' ' -f1)" "two" "the stage ran in the re-tagged image"
run2=$(last_run build)
expect_ok --json runs diff "$run1" "$run2"
expect_json "[e for e in d['environment'] if e['field'] == 'image' and e['new'].endswith('$D2')]"

# pin: digest refuses a tag, and runs an image named by its digest.
sed -i 's|    image: localhost/mlo-bb:1|    image: localhost/mlo-bb:1\n    pin: digest|' mlo.yaml
expect_rc 3 run
expect_err_contains "names only a tag"
sed -i "s|image: localhost/mlo-bb:1|image: localhost/mlo-bb@$D2|" mlo.yaml
expect_ok run
expect_ok --json runs ls --stage build
expect_json "d[0]['status'] == 'succeeded'"
# An image that is not here (and no registry): a runner error, exit 5.
sed -i "s|image: localhost/mlo-bb@$D2|image: localhost/nosuch:1|; /pin: digest/d" mlo.yaml
expect_rc 5 run
expect_err_contains "localhost/nosuch:1"

# A failing command: its exit code and last lines reach the record.
cat > mlo.yaml <<'YAML'
stages:
  fail:
    runner: container
    image: localhost/mlo-bb:1
    cmd: echo last words; exit 7
YAML
expect_rc 5 run
fid=$(last_run fail)
expect_ok --json runs show "$fid"
expect_json "d['exit_code'] == 7 and d['status'] == 'failed'"
expect_ok runs log "$fid"
expect_out_contains "last words"

# Timeout, SIGTERM and kill -9 of mlo run: no container is left.
cat > mlo.yaml <<'YAML'
stages:
  slow:
    runner: container
    image: localhost/mlo-bb:1
    cmd: touch started; sleep 300
    resources: {time: 3s}
YAML
expect_rc 5 run
expect_err_contains "time limit"
expect_eq "$(running)" "0" "containers left after a timeout"
sed -i '/resources: {time: 3s}/d' mlo.yaml
for sig in TERM KILL; do
  rm -f started
  "$MLO" run > "$TEST_TMP/run.out" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do [ -f started ] && break; sleep 0.1; done
  [ -f started ] || fail "the container stage did not start: $(cat "$TEST_TMP/run.out")"
  expect_eq "$(running)" "1" "running containers"
  kill -$sig "$pid"
  wait "$pid" 2>/dev/null
  for _ in $(seq 1 100); do [ "$(running)" = 0 ] && break; sleep 0.1; done
  expect_eq "$(running)" "0" "containers left after kill -$sig of mlo run"
done
done_testing
