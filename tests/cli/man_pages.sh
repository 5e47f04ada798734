#!/usr/bin/env bash
# Man pages (issue 15): every page renders without a single groff/man warning
# at 80 columns (from the source tree with `man -l`, and from the build's man
# tree, where the alias pages of man/aliases resolve), and every command that
# `mlo help` lists has a page, so `man mlo-COMMAND` never says "No manual entry".
source "$(dirname "$0")/lib.sh"
: "${MLO_SOURCE_DIR:?}"
: "${MLO_BUILD_DIR:=$(dirname "$MLO")}"
command -v man >/dev/null || fail "man is not installed (man-db, .ci/debian-packages.txt)"
TREE="$MLO_BUILD_DIR/man"
[ -d "$TREE/man1" ] || fail "no man tree at $TREE (CMake writes it at configure time)"
export MANWIDTH=80 LC_ALL=C.UTF-8 MANROFFSEQ=''

# render DIR PAGE : man --warnings -l PAGE from DIR; fails on any message.
render() {
  local msgs
  msgs=$(cd "$1" && man --warnings -l "$2" 2>&1 >/dev/null)
  [ -z "$msgs" ] || fail "man -l $2 (in $1) warns:
$msgs"
  pass
}

for page in "$MLO_SOURCE_DIR"/man/*.[157]; do
  grep -q '^\.so ' "$page" && fail "$page is a .so alias: list it in man/aliases instead"
  render "$MLO_SOURCE_DIR/man" "$(basename "$page")"
done
# In the build's tree, the copies must match the sources (a stale copy is a bug);
# only the alias pages need rendering there.
for page in "$TREE"/man[157]/*; do
  if grep -q '^\.so ' "$page"; then
    render "$TREE" "${page#"$TREE"/}"
  else
    cmp -s "$page" "$MLO_SOURCE_DIR/man/$(basename "$page")" || fail "$page differs from man/$(basename "$page") (re-run cmake)"
    pass
  fi
done

# The alias pages open their target (not an empty or missing page).
while read -r alias target; do
  case "$alias" in ''|'#'*) continue ;; esac
  [ -f "$MLO_SOURCE_DIR/man/mlo-$target.1" ] || fail "man/aliases: mlo-$target.1 does not exist"
  head=$(cd "$TREE" && man -l "man1/mlo-$alias.1" 2>/dev/null | head -1)
  [[ "$head" == *"MLO-${target^^}(1)"* ]] || fail "mlo-$alias.1 does not open mlo-$target(1): '$head'"
  pass
done <"$MLO_SOURCE_DIR/man/aliases"

# Every command in `mlo help` has a page in the tree that gets installed.
listed=$(cd "$MLO_SOURCE_DIR/man" && man -l mlo.1 2>/dev/null | sed -n '/^COMMANDS/,/^EXIT STATUS/p')
commands=$("$MLO" help | sed -n '/^Subcommands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
[ "$(echo "$commands" | wc -l)" -gt 20 ] || fail "could not read the command list of mlo help: $commands"
for c in $commands; do
  [ "$c" = help ] && continue  # `mlo help` is described in mlo(1)
  [ -f "$TREE/man1/mlo-$c.1" ] || fail "mlo $c has no man page (man/mlo-$c.1 or a line in man/aliases)"
  grep -qw -- "$c" <<<"$listed" || fail "man mlo's COMMANDS section does not name '$c'"
  pass
done
done_testing
