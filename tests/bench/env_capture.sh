#!/usr/bin/env bash
# Cost of capturing a stage's environment (lib/environment): `mlo status` on
# a one-stage pipeline whose key holds `environment: python` (the capture runs
# for the key) against the same pipeline without it. Medians of N runs; the
# difference is the capture's cost per stage: cached (the interpreter's
# package list read from .mlo/cache/env, checked against its site folders'
# mtimes) and cold (the cache removed before each run: python is started and
# lists its distributions). Target: under 30 ms cached.
set -euo pipefail
: "${MLO:?MLO must point at the built mlo binary}"
MLO=$(readlink -f "$MLO")
N=${N:-30}
PY=${PYTHON:-/usr/bin/python3}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
git init -q . && git config user.name b && git config user.email b@example.com
"$MLO" init -q
echo 'print("hi")' > s.py
write_yaml() {
  printf 'stages:\n  s:\n    cmd: %s s.py\n    deps: [s.py]\n%s' "$PY" "$1" > mlo.yaml
}
write_yaml ""
"$MLO" run -q
/usr/bin/python3 - "$MLO" "$N" "$PY" <<'PY'
import os, shutil, statistics, subprocess, sys, time
mlo, n, py = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def yaml(extra):
    open("mlo.yaml", "w").write("stages:\n  s:\n    cmd: %s s.py\n    deps: [s.py]\n%s" % (py, extra))
def median_ms(before=None):
    times = []
    for _ in range(n):
        if before: before()
        t = time.perf_counter()
        subprocess.run([mlo, "status"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)
packages = subprocess.run([py, "-c", "import importlib.metadata as m; print(len(list(m.distributions())))"],
                          capture_output=True, text=True).stdout.strip()
yaml("")
plain = median_ms()
yaml("    environment: python\n")
subprocess.run([mlo, "status"], stdout=subprocess.DEVNULL, check=True)  # fills the cache
cached = median_ms()
cold = median_ms(lambda: shutil.rmtree(".mlo/cache/env", ignore_errors=True))
print(f"interpreter {py}: {packages} distributions; N={n}, medians")
print(f"{'case':<44}{'ms':>8}")
print(f"{'mlo status (no environment in the key)':<44}{plain:>8.1f}")
print(f"{'mlo status, environment: python, cached':<44}{cached:>8.1f}")
print(f"{'mlo status, environment: python, cold':<44}{cold:>8.1f}")
print(f"capture cost per stage: cached {cached - plain:.1f} ms (target < 30), cold {cold - plain:.1f} ms")
PY
