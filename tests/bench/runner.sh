#!/usr/bin/env bash
# Overhead of the local runner: the same command run directly and through
# `mlo runners exec` (fork/exec in its own process group, output teed into a
# log and the terminal, status mapped). Medians of N runs; the difference is
# the per-stage cost (it includes mlo's own start-up, which `mlo run` pays once
# per pipeline, not per stage). Target: under 20 ms per stage.
set -euo pipefail
: "${MLO:?MLO must point at the built mlo binary}"
N=${N:-40}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
head -c 10000000 /dev/urandom | base64 > big.txt   # ~13 MB of output to stream

/usr/bin/python3 - "$MLO" "$N" <<'PY'
import statistics, subprocess, sys, time
mlo, n = sys.argv[1], int(sys.argv[2])
def median_ms(argv):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)
cases = [
    ("true", ["true"]),
    ("sh -c 'echo hi'", ["sh", "-c", "echo hi"]),
    ("cat 13 MB to stdout", ["cat", "big.txt"]),
]
startup = median_ms([mlo, "--version"])
print(f"mlo start-up alone (mlo --version): {startup:.2f} ms (median of {n})")
print(f"{'command':24} {'direct ms':>10} {'mlo local ms':>13} {'overhead ms':>12} {'minus start-up':>15}")
for name, argv in cases:
    d = median_ms(argv)
    m = median_ms([mlo, "runners", "exec", "--log", "run.log", "--", *argv])
    print(f"{name:24} {d:10.2f} {m:13.2f} {m - d:12.2f} {m - d - startup:15.2f}")
PY
