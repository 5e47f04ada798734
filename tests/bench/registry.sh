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
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
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
/usr/bin/python3 "$BENCH_DIR/registry_tags.py" "$MODELS" "$VERSIONS" | git fast-import --quiet
git symbolic-ref HEAD refs/heads/main
gen_ms=$(( ($(date +%s%N) - gen_start) / 1000000 ))
ntags=$(git for-each-ref refs/tags | wc -l)
echo "generated $ntags tags in ${gen_ms} ms (git fast-import)"

# median_ms CMD... : median wall time of RUNS runs, in ms; also sets CPU_MS to
# the median user+system CPU time (what the command costs on a busy machine).
median_ms() {
  local walls=() cpus=() i out
  for ((i = 0; i < RUNS; i++)); do
    out=$( { TIMEFORMAT="%R %U %S"; time "$@" >/dev/null 2>&1 || true; } 2>&1 )
    walls+=("$(awk '{print $1 * 1000}' <<<"$out")")
    cpus+=("$(awk '{print ($2 + $3) * 1000}' <<<"$out")")
  done
  CPU_MS=$(printf '%s\n' "${cpus[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.0f", a[int((NR+1)/2)]}')
  printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.0f", a[int((NR+1)/2)]}'
}
rebuild() { "$MLO" registry rebuild; }
mid=$(printf 'model-%04d' $((MODELS / 2)))

# Wait out the 2 s "racy" window after the refs last changed (see ARCHITECTURE.md).
sleep 3
median_ms rebuild >/tmp/.mlo-bench-$$; r_rebuild=$(cat /tmp/.mlo-bench-$$); r_rebuild_cpu=$CPU_MS
"$MLO" models ls >/dev/null  # index up to date
median_ms "$MLO" models ls >/tmp/.mlo-bench-$$; r_ls=$(cat /tmp/.mlo-bench-$$); r_ls_cpu=$CPU_MS
median_ms "$MLO" --json models ls >/tmp/.mlo-bench-$$; r_ls_json=$(cat /tmp/.mlo-bench-$$); r_ls_json_cpu=$CPU_MS
median_ms "$MLO" models show "$mid@v1.25.0" >/tmp/.mlo-bench-$$; r_show=$(cat /tmp/.mlo-bench-$$); r_show_cpu=$CPU_MS
median_ms "$MLO" models show "$mid#production" >/tmp/.mlo-bench-$$; r_show_stage=$(cat /tmp/.mlo-bench-$$); r_show_stage_cpu=$CPU_MS
median_ms "$MLO" models show "$mid" >/tmp/.mlo-bench-$$; r_show_model=$(cat /tmp/.mlo-bench-$$); r_show_model_cpu=$CPU_MS
median_ms git for-each-ref refs/tags --format='%(refname) %(taggerdate:unix) %(contents)' >/tmp/.mlo-bench-$$; g_all=$(cat /tmp/.mlo-bench-$$); g_all_cpu=$CPU_MS
median_ms git tag -l >/tmp/.mlo-bench-$$; g_names=$(cat /tmp/.mlo-bench-$$); g_names_cpu=$CPU_MS
median_ms git for-each-ref "refs/tags/$mid@*" --format='%(refname) %(contents)' >/tmp/.mlo-bench-$$; g_one=$(cat /tmp/.mlo-bench-$$); g_one_cpu=$CPU_MS
# One new tag (made with git), then the next `models ls` refreshes
# incrementally; RUNS times, a new tag each time (the tag is not timed).
incremental() {
  local walls=() cpus=() i out
  for ((i = 0; i < RUNS; i++)); do
    git tag -a "$mid@v9.$1$i.0" -m "Registering artifact $mid version v9.$1$i.0"
    out=$( { TIMEFORMAT="%R %U %S"; time "$MLO" models ls >/dev/null 2>&1 || true; } 2>&1 )
    walls+=("$(awk '{print $1 * 1000}' <<<"$out")")
    cpus+=("$(awk '{print ($2 + $3) * 1000}' <<<"$out")")
  done
  CPU_MS=$(printf '%s\n' "${cpus[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.0f", a[int((NR+1)/2)]}')
  printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.0f", a[int((NR+1)/2)]}'
}
incremental 1 >/tmp/.mlo-bench-$$; r_incr=$(cat /tmp/.mlo-bench-$$); r_incr_cpu=$CPU_MS
git pack-refs --all
"$MLO" models ls >/dev/null; sleep 3
median_ms "$MLO" models ls >/tmp/.mlo-bench-$$; r_ls_packed=$(cat /tmp/.mlo-bench-$$); r_ls_packed_cpu=$CPU_MS
median_ms "$MLO" models show "$mid@v1.25.0" >/tmp/.mlo-bench-$$; r_show_packed=$(cat /tmp/.mlo-bench-$$); r_show_packed_cpu=$CPU_MS
median_ms rebuild >/tmp/.mlo-bench-$$; r_rebuild_packed=$(cat /tmp/.mlo-bench-$$); r_rebuild_packed_cpu=$CPU_MS
incremental 2 >/tmp/.mlo-bench-$$; r_incr_packed=$(cat /tmp/.mlo-bench-$$); r_incr_packed_cpu=$CPU_MS

ratio() { awk "BEGIN {printf \"%.2f\", $1 / $2}"; }
rm -f /tmp/.mlo-bench-$$
echo
echo "registry: $MODELS models x $VERSIONS versions ($ntags tags), median of $RUNS runs, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
row() { printf '| %-44s | %8s | %8s | %-36s | %8s | %8s |\n' "$@"; }
row "mlo" "wall ms" "CPU ms" "git on the same tags" "wall ms" "CPU ms"
echo "|---|---|---|---|---|---|"
row "registry rebuild (index from tags, loose refs)" "$r_rebuild" "$r_rebuild_cpu" "for-each-ref with messages" "$g_all" "$g_all_cpu"
row "registry rebuild (packed refs)" "$r_rebuild_packed" "$r_rebuild_packed_cpu" "" "" ""
row "models ls" "$r_ls" "$r_ls_cpu" "git tag -l" "$g_names" "$g_names_cpu"
row "models ls (packed refs)" "$r_ls_packed" "$r_ls_packed_cpu" "" "" ""
row "--json models ls" "$r_ls_json" "$r_ls_json_cpu" "" "" ""
row "models show NAME@v1.25.0" "$r_show" "$r_show_cpu" "for-each-ref NAME@* with messages" "$g_one" "$g_one_cpu"
row "models show NAME#production" "$r_show_stage" "$r_show_stage_cpu" "" "" ""
row "models show NAME (all versions)" "$r_show_model" "$r_show_model_cpu" "" "" ""
row "models show NAME@v1.25.0 (packed refs)" "$r_show_packed" "$r_show_packed_cpu" "" "" ""
row "models ls after one new tag (loose refs)" "$r_incr" "$r_incr_cpu" "" "" ""
row "models ls after one new tag (packed refs)" "$r_incr_packed" "$r_incr_packed_cpu" "" "" ""
echo
echo "targets: models ls < 100 ms, models show < 50 ms, rebuild < 5000 ms"
