#!/usr/bin/env bash
# Overhead of the local runner: the same command run directly and through
# `mlo runners exec` (fork/exec in its own process group, output teed into a
# log and the terminal, status mapped). Medians of N runs; the difference is
# the per-stage cost (it includes mlo's own start-up, which `mlo run` pays once
# per pipeline, not per stage). Target: under 20 ms per stage.
set -euo pipefail
: "${MLO:?MLO must point at the built mlo binary}"
N=${N:-40}
SRC_LIB="$(cd "$(dirname "$0")/../.." && pwd)/lib"
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

# In-process: LocalRunner::run (what `mlo run` pays per stage) against
# posix_spawn + waitpid of the same program, built against libmlo.a.
lib="$(dirname "$MLO")/libmlo.a"
src="$SRC_LIB"
if [ -f "$lib" ] && command -v g++ >/dev/null; then
  cat > inproc.cpp <<'CPP'
#include "runner/local.h"
#include <spawn.h>
#include <sys/wait.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
extern char** environ;
int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 200;
  mlo::LocalRunner runner;
  mlo::JobSpec spec;
  spec.argv = {"/bin/true"};
  spec.workdir = ".";
  spec.log_path = "run.log";
  spec.stream_output = false;
  std::vector<double> a, b;
  for (int i = 0; i < n; ++i) {
    auto t = std::chrono::steady_clock::now();
    runner.run(spec);
    a.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
    t = std::chrono::steady_clock::now();
    pid_t pid;
    char* args[] = {const_cast<char*>("/bin/true"), nullptr};
    posix_spawn(&pid, "/bin/true", nullptr, nullptr, args, environ);
    int status;
    waitpid(pid, &status, 0);
    b.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
  }
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  std::printf("in-process, /bin/true x %d: LocalRunner::run %.2f ms, posix_spawn+wait %.2f ms, runner overhead %.2f ms (medians)\n",
              n, a[n / 2], b[n / 2], a[n / 2] - b[n / 2]);
}
CPP
  if g++ -std=c++20 -O2 -I"$src" inproc.cpp "$lib" -lssl -lcrypto -lsqlite3 -lcurl -lyaml-cpp -lgit2 -lzstd -lpthread -o inproc 2>build.err; then
    ./inproc 200
  else
    echo "(in-process comparison not built: $(head -3 build.err))"
  fi
fi
