# Shared by the benchmarks that compare this build with MLO_BASE on a large
# tree (push_change.sh, pull_memory.sh). Source after setting NAME.
# Sets MLO and BASE (empty without MLO_BASE); exits 2 on a missing binary.
here=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
MLO=$(readlink -f "${MLO:-$here/../../build/mlo}")
[ -x "$MLO" ] || { echo "$NAME: no mlo binary at $MLO" >&2; exit 2; }
BASE=""
if [ -n "${MLO_BASE:-}" ]; then
  BASE=$(readlink -f "$MLO_BASE")
  [ -x "$BASE" ] || { echo "$NAME: no mlo binary at MLO_BASE=$MLO_BASE" >&2; exit 2; }
fi
export GIT_AUTHOR_NAME=b GIT_AUTHOR_EMAIL=b@x GIT_COMMITTER_NAME=b GIT_COMMITTER_EMAIL=b@x

# print_machine : the machine and the load, for the output's first lines.
print_machine() {
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# make_scale_files DIR N : N files of 512 bytes, 1,000 a folder, 100 folders a group.
make_scale_files() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "g%03d" % (i // 1000 // 100), "d%05d" % (i // 1000))
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%07d.bin" % i), "wb") as f:
        f.write(("%07d" % i).encode() * 73 + b"x")
PY
}
