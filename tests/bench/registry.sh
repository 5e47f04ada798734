#!/usr/bin/env bash
# Registry benchmark: MODELS models x VERSIONS versions (GTO-format annotated
# tags with mlo metadata, written with git fast-import), then the median of
# RUNS runs of: index rebuild from the tags, `mlo models ls`, `mlo models
# show`, next to git reading the same tags (GTO itself is a pip package,
# which this machine does not install; git for-each-ref is the floor that any
# tag-reading registry pays).
# Usage: MLO=build/mlo tests/bench/registry.sh [MODELS] [VERSIONS]
set -euo pipefail
MLO=$(readlink -f "${MLO:-build/mlo}")
MODELS=${1:-1000}
VERSIONS=${2:-50}
RUNS=${RUNS:-5}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mlo-bench-registry.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
git init -q repo && cd repo
git config user.name Bench && git config user.email bench@example.com
"$MLO" init -q

gen_start=$(date +%s%N)
/usr/bin/python3 - "$MODELS" "$VERSIONS" <<'PY' | git fast-import --quiet
import json, sys
models, versions = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout
def data(s):
    b = s.encode()
    out.write(f"data {len(b)}\n"); out.write(s); out.write("\n")
out.write("commit refs/heads/main\nmark :1\ncommitter Bench <bench@example.com> 1700000000 +0000\n")
data("init")
t = 1700000001
for m in range(models):
    name = f"model-{m:04d}"
    for v in range(versions):
        ver = f"v1.{v}.0"
        meta = {"mlo": 1, "event": "register", "name": name, "version": ver,
                "artifact": {"path": f"models/{name}.pkl", "sha256": f"{m:032x}{v:032x}", "type": "file", "size": 1000 + v},
                "metrics": {"accuracy": 0.8 + v / 1000}, "time_ms": t * 1000}
        out.write(f"tag {name}@{ver}\nfrom :1\ntagger Bench <bench@example.com> {t} +0000\n")
        data(f"Registering artifact {name} version {ver}\n\nmlo-metadata:\n{json.dumps(meta, indent=2)}\n")
        t += 1
    meta = {"mlo": 1, "event": "promote", "name": name, "version": f"v1.{versions-1}.0", "forced": False, "time_ms": t * 1000}
    out.write(f"tag {name}#production#1\nfrom :1\ntagger Bench <bench@example.com> {t} +0000\n")
    data(f"Assigning stage production to artifact {name} version v1.{versions-1}.0\n\nmlo-metadata:\n{json.dumps(meta, indent=2)}\n")
    t += 1
PY
git symbolic-ref HEAD refs/heads/main
gen_ms=$(( ($(date +%s%N) - gen_start) / 1000000 ))
ntags=$(git for-each-ref refs/tags | wc -l)
echo "generated $ntags tags in ${gen_ms} ms (git fast-import)"

# median_ms CMD... : median wall time of RUNS runs, in ms.
median_ms() {
  local times=() i s
  for ((i = 0; i < RUNS; i++)); do
    s=$(date +%s%N); "$@" >/dev/null; times+=($(( ($(date +%s%N) - s) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}
rebuild() { "$MLO" registry rebuild; }
mid=$(printf 'model-%04d' $((MODELS / 2)))

# Wait out the 2 s "racy" window after the refs last changed (see ARCHITECTURE.md).
sleep 3
r_rebuild=$(median_ms rebuild)
"$MLO" models ls >/dev/null  # index up to date
r_ls=$(median_ms "$MLO" models ls)
r_ls_json=$(median_ms "$MLO" --json models ls)
r_show=$(median_ms "$MLO" models show "$mid@v1.25.0")
r_show_stage=$(median_ms "$MLO" models show "$mid#production")
r_show_model=$(median_ms "$MLO" models show "$mid")
g_all=$(median_ms git for-each-ref refs/tags --format='%(refname) %(taggerdate:unix) %(contents)')
g_names=$(median_ms git tag -l)
g_one=$(median_ms git for-each-ref "refs/tags/$mid@*" --format='%(refname) %(contents)')
# One new tag, then the next command refreshes incrementally.
git tag -a "$mid@v9.0.0" -m "Registering artifact $mid version v9.0.0"
s=$(date +%s%N); "$MLO" models ls >/dev/null; r_incr=$(awk "BEGIN {printf \"%.1f\", $(( ($(date +%s%N) - s) / 1000 ))/1000}")
git pack-refs --all
"$MLO" models ls >/dev/null; sleep 3
r_ls_packed=$(median_ms "$MLO" models ls)
r_rebuild_packed=$(median_ms rebuild)

ratio() { awk "BEGIN {printf \"%.2f\", $1 / $2}"; }
echo
echo "registry: $MODELS models x $VERSIONS versions ($ntags tags), median of $RUNS runs, $(nproc) cores"
printf '| %-46s | %10s | %-40s | %10s | %6s |\n' "mlo" "ms" "git (same tags)" "ms" "ratio"
printf '|%s|%s|%s|%s|%s|\n' "------------------------------------------------" "------------" "------------------------------------------" "------------" "--------"
printf '| %-46s | %10s | %-40s | %10s | %6s |\n' "registry rebuild (index from tags, loose refs)" "$r_rebuild" "for-each-ref with messages" "$g_all" "$(ratio "$r_rebuild" "$g_all")"
printf '| %-46s | %10s | %-40s | %10s | %6s |\n' "registry rebuild (packed refs)" "$r_rebuild_packed" "" "" ""
printf '| %-46s | %10s | %-40s | %10s | %6s |\n' "models ls" "$r_ls" "git tag -l" "$g_names" "$(ratio "$r_ls" "$g_names")"
printf '| %-46s | %10s | %-40s | %10s | %6s |\n' "models ls (packed refs)" "$r_ls_packed" "" "" ""
printf '| %-46s | %10s | %-40s | %10s | %6s |\n' "--json models ls" "$r_ls_json" "" "" ""
printf '| %-46s | %10s | %-40s | %10s | %6s |\n' "models show NAME@v1.25.0" "$r_show" "for-each-ref NAME@* with messages" "$g_one" "$(ratio "$r_show" "$g_one")"
printf '| %-46s | %10s | %-40s | %10s | %6s |\n' "models show NAME#production" "$r_show_stage" "" "" ""
printf '| %-46s | %10s | %-40s | %10s | %6s |\n' "models show NAME (all versions)" "$r_show_model" "" "" ""
printf '| %-46s | %10s | %-40s | %10s | %6s |\n' "models ls after one new tag (incremental)" "$r_incr" "" "" ""
