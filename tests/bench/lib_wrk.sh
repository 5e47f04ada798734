# Shared by the serving benchmarks: one wrk run, read back.
# wrk_stats THREADS CONNS SECONDS LUA URL -> "rps p50_ms p99_ms"; exits on non-2xx answers.
wrk_stats() {
  wrk -t"$1" -c"$2" -d"$3s" --latency -s "$4" "$5" | /usr/bin/python3 -c '
import re, sys
t = sys.stdin.read()
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", v)
    if not m: sys.exit("cannot read wrk output:\n" + t)
    n, u = m.groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[u]
# Anchored: "Latency ... 96.50%" on the stats line also holds "50%".
p50 = ms(re.search(r"^\s+50%\s+(\S+)", t, re.M).group(1)); p99 = ms(re.search(r"^\s+99%\s+(\S+)", t, re.M).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
if errs: sys.exit("non-2xx responses: " + errs.group(1))
print(rps, p50, p99)'
}
