#!/usr/bin/env bash
# Every command a message names in quotes ('mlo pull', 'mlo data checkout',
# ...) exists: a hint that sends the user to a command mlo does not have
# ('mlo data pull' did, in four places) is a dead end. Each quoted
# 'mlo A [B]' in lib/ and cmd/ must not answer "no such command".
source "$(dirname "$0")/lib.sh"

mapfile -t named < <(grep -rohE "'mlo [a-z][a-z-]*( [a-z][a-z-]*)?" "$MLO_SOURCE_DIR/lib" "$MLO_SOURCE_DIR/cmd" | sort -u)
[ "${#named[@]}" -ge 20 ] || fail "found only ${#named[@]} quoted commands in lib/ and cmd/; is the pattern still right?"
pass
for quoted in "${named[@]}"; do
  # shellcheck disable=SC2086 # the words are the command path
  out=$("$MLO" ${quoted#\'mlo } --help 2>&1)
  if grep -q "no such command" <<<"$out"; then
    fail "a message names $quoted', which is not a command: $(head -1 <<<"$out")"
  fi
  pass
done
done_testing
