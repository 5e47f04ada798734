#!/usr/bin/env bash
# The include rules of ARCHITECTURE.md, checked over lib/: each module may
# include only the modules listed for it below (dependencies point one way),
# nothing in lib/ includes cmd/ or CLI11, lib/remote is a transport (no
# pipeline/, registry/, deploy/, monitor/) and lib/registry does not include
# remote/. The checker is first shown a planted violation of each kind, so a
# broken checker can not pass silently.
source "$(dirname "$0")/lib.sh"
SRC="${MLO_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"

# module -> the modules its files may include (besides itself).
declare -A ALLOWED=(
  [core]=""
  [store]="core"
  [index]="core"
  [repo]="core index store"
  [data]="core index repo store"
  [runner]="core index repo store"
  [environment]="core"
  [remote]="core data index repo store"
  [pipeline]="core data environment index repo runner store"
  [registry]="core data environment index pipeline repo runner store"
  [deploy]="contracts core data environment index monitor notify pipeline registry remote repo runner store"
  [monitor]="core data environment index pipeline registry repo runner store"
  [notify]="core remote repo"
  [contracts]="core data environment index monitor notify pipeline registry repo runner store"
  [triggers]="core data environment index monitor notify pipeline registry repo runner store"
  [app]="contracts core data deploy environment index monitor notify pipeline registry remote repo runner store triggers"
  [ui]="app contracts core data deploy environment index monitor notify pipeline registry remote repo runner store triggers"
)

# check_includes LIBDIR: prints each forbidden include as FILE:LINE: what.
check_includes() {
  local lib=$1 bad=0 file module line target
  while IFS= read -r file; do
    module=${file#"$lib"/}; module=${module%%/*}
    if [ -z "${ALLOWED[$module]+x}" ]; then
      echo "$file: module '$module' has no entry in tests/cli/layering.sh"; bad=1; continue
    fi
    while IFS=: read -r line target; do
      case "$target" in
        *'<CLI/'*|*'CLI11'*) echo "$file:$line: includes CLI11 (only cmd/ parses arguments)"; bad=1; continue ;;
        *'"cmd/'*|*'"command.h"'*) echo "$file:$line: includes cmd/ (lib/ never includes cmd/)"; bad=1; continue ;;
      esac
      [[ "$target" =~ \"([a-z_]+)/ ]] || continue
      local dep=${BASH_REMATCH[1]}
      [ "$dep" = "$module" ] && continue
      [[ " ${ALLOWED[$module]} " == *" $dep "* ]] && continue
      echo "$file:$line: $module/ must not include $dep/ ($target)"; bad=1
    done < <(grep -n '^[[:space:]]*#[[:space:]]*include' "$file" | sed 's/^\([0-9]*\):[[:space:]]*#[[:space:]]*include[[:space:]]*/\1:/')
  done < <(find "$lib" -name '*.h' -o -name '*.cpp' -o -name '*.hpp' | sort)
  return $bad
}

# Planted violations, one of each kind: all must be reported.
fake="$TEST_TMP/lib"
for m in "${!ALLOWED[@]}"; do mkdir -p "$fake/$m"; done
printf '#include "pipeline/run.h"\n' >"$fake/remote/a.cpp"
printf '#include "remote/layout.h"\n' >"$fake/registry/b.cpp"
printf '#include "repo/repo.h"\n' >"$fake/core/c.h"
printf '#include "data/pointer.h"\n' >"$fake/store/d.cpp"
printf '  #  include <CLI/CLI.hpp>\n' >"$fake/app/e.cpp"
printf '#include "cmd/command.h"\n' >"$fake/deploy/f.cpp"
printf '#include "remote/sync.h"\n' >"$fake/monitor/g.cpp"
printf '#include "core/error.h"\n#include <string>\n' >"$fake/data/ok.cpp"
report=$(check_includes "$fake") && fail "the checker accepted planted violations"
for f in remote/a.cpp registry/b.cpp core/c.h store/d.cpp app/e.cpp deploy/f.cpp monitor/g.cpp; do
  [[ "$report" == *"$fake/$f:1:"* ]] || fail "the checker missed the violation in $f: $report"
  pass
done
[[ "$report" != *"data/ok.cpp"* ]] || fail "the checker reported an allowed include: $report"
pass

# The real tree.
report=$(check_includes "$SRC/lib") || fail "include rules broken:
$report"
pass
done_testing
