#!/usr/bin/env bash
# `make demo`: the machine-learning lifecycle on example data, step by step,
# in a fresh temporary git repository. Each capability adds a numbered step
# under steps/ (10-data.sh, 20-remote.sh, ...); steps run in order in one shell
# so later steps see what earlier ones made.
set -euo pipefail
DEMO_SRC=$(cd "$(dirname "$0")" && pwd)
: "${MLO:=$(command -v mlo)}"
MLO=$(readlink -f "$MLO")
export MLO DEMO_SRC
export PATH="$(dirname "$MLO"):$PATH"
DEMO_DIR=${DEMO_DIR:-$(mktemp -d /tmp/mlo-demo.XXXXXX)}
export DEMO_DIR
export GIT_AUTHOR_NAME=${GIT_AUTHOR_NAME:-"Demo User"} GIT_AUTHOR_EMAIL=${GIT_AUTHOR_EMAIL:-demo@example.com}
export GIT_COMMITTER_NAME=${GIT_COMMITTER_NAME:-"Demo User"} GIT_COMMITTER_EMAIL=${GIT_COMMITTER_EMAIL:-demo@example.com}

bold=$(tput bold 2>/dev/null || true); reset=$(tput sgr0 2>/dev/null || true)
# step TITLE: a heading; say CMD...: print a command, then run it.
step() { printf '\n%s== %s ==%s\n' "$bold" "$*" "$reset"; }
say() { printf '%s$ %s%s\n' "$bold" "$*" "$reset"; "$@"; }
export -f step say
export bold reset

echo "mlo demo in $DEMO_DIR (using $MLO)"
cd "$DEMO_DIR"
for s in "$DEMO_SRC"/steps/*.sh; do
  # shellcheck source=/dev/null
  source "$s"
done
printf '\n%sDemo finished.%s Everything it made is in %s\n' "$bold" "$reset" "$DEMO_DIR"
