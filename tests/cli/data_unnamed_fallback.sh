#!/usr/bin/env bash
# Objects and workspace files are written as unnamed files (O_TMPFILE)
# linked in when full. Where that cannot be done, the named temp file and
# rename stand in: a file system without O_TMPFILE, and a process that may
# not link by AT_EMPTY_PATH (then /proc/self/fd). Each way, add, push, a
# fresh clone's pull, and a checkout over an edited file give the same
# bytes, and no temp file is left. The refusals come from an LD_PRELOAD
# shim (unnamed_shim.c); everything else is the real mlo.
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
SHIM="$TEST_TMP/unnamed.so"
cc -shared -fPIC -o "$SHIM" "$HERE/unnamed_shim.c" -ldl || skip "no C compiler for the fault injector"

no_temps() {  # no_temps REPO : nothing but locks in the temp folders
  local left
  left=$(cd "$1" && find .mlo/cache/tmp .mlo/tmp data -name '.*.tmp.*' 2>/dev/null)
  expect_eq "$left" "" "temp files left in $1"
}

for mode in no_tmpfile no_empty_path; do
  export UNNAMED_SHIM=$mode UNNAMED_SHIM_LOG="$TEST_TMP/$mode.log"
  export LD_PRELOAD="$SHIM"
  new_repo "$mode-a"
  mkdir -p data/sub && for i in $(seq 1 20); do echo "$mode file $i" >data/f$i.txt; echo "sub $i" >data/sub/s$i; done
  printf '#!/bin/sh\necho run\n' >data/run.sh && chmod +x data/run.sh
  expect_ok data add data
  expect_ok remote add origin "$TEST_TMP/$mode-remote" --default
  expect_ok push
  git add -A && git commit -qm data
  no_temps "$TEST_TMP/$mode-a"
  git clone -q "$TEST_TMP/$mode-a" "$TEST_TMP/$mode-b" && cd "$TEST_TMP/$mode-b"
  expect_ok pull
  expect_eq "$(cd data && find . -type f -exec sha256sum {} + | sort)" \
            "$(cd "$TEST_TMP/$mode-a/data" && find . -type f -exec sha256sum {} + | sort)" "pulled bytes ($mode)"
  [ -x data/run.sh ] || fail "data/run.sh lost its executable bit ($mode)"
  pass
  echo "edited" >data/f3.txt
  expect_ok data checkout --force data
  expect_eq "$(cat data/f3.txt)" "$mode file 3" "f3.txt after checkout over an edit ($mode)"
  expect_ok data status --exit-code
  no_temps "$TEST_TMP/$mode-b"
  unset LD_PRELOAD
  [ -s "$UNNAMED_SHIM_LOG" ] || fail "the shim refused nothing in mode $mode (the fault was not met)"
  pass
done

done_testing
