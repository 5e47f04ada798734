#!/usr/bin/env bash
# mlo register links the run whose recorded output has the artifact's bytes
# (mlo.lock first, then the run index), never the newest run by time: a
# sweep's points are newer and wrote other bytes. Bytes no run wrote are
# registered without a run, and mlo says so.
source "$(dirname "$0")/lib.sh"
new_repo rlink
seq 1 100 > data.txt
printf 'train:\n  c: 1\n' > params.yaml
cat > mlo.yaml <<'YAML'
stages:
  train:
    cmd: printf 'c=%s\n' ${params.train.c} > model.bin
    deps: [data.txt]
    params: [train.c]
    outs: [model.bin]
YAML
git add -A && git commit -qm pipeline
expect_ok -q run
expect_ok --json runs ls --stage train
locked=$(printf '%s' "$OUT" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")
grep -q "$locked" mlo.lock || fail "mlo.lock does not name run $locked"; pass
git add -A && git commit -qm "trained c=1"
# a sweep: two newer runs of the stage that wrote other bytes
expect_ok -q run train --grid train.c=2,3
expect_ok --json runs ls --stage train --where params.train.c=3
point3=$(printf '%s' "$OUT" | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")
[ "$(cat model.bin)" = "c=1" ] || fail "the sweep changed the work tree"; pass

# --stage: the run mlo.lock names (it wrote model.bin as it is), not the newest point
expect_ok --json register m --stage train
expect_json "d['version'] == 'v0.0.1' and d['run'] == '$locked' and d['params']['train.c'] == 1 and d['registered']"
# PATH alone links the same way (lineage used to say 'no run recorded')
expect_ok --json register m model.bin
expect_json "d['run'] == '$locked' and 'run_note' not in d"
expect_ok lineage m@v0.0.2
expect_out_contains "run $locked"

# the bytes of sweep point c=3 (not in mlo.lock): the run index finds that point
printf 'c=3\n' > model.bin
expect_ok --json register m model.bin
expect_json "d['run'] == '$point3' and d['params']['train.c'] == 3"
expect_ok --json register m --stage train
expect_json "d['run'] == '$point3'"

# hand-edited bytes: no run wrote them; registered without one, and said so
printf 'c=3 tuned by hand\n' > model.bin
expect_ok --json register m --stage train
expect_json "'run' not in d and 'no recorded run of stage train wrote model.bin' in d['run_note']"
expect_ok register m model.bin
expect_err_contains "note: no recorded run wrote model.bin"
expect_err_contains "registered without a run"
expect_out_contains "Registered m v0.0.6"

# not in the work tree: --stage takes what mlo.lock records for the stage
rm model.bin
expect_ok --json register m --stage train
expect_json "d['run'] == '$locked' and d['artifact']['path'] == 'model.bin'"
expect_rc 3 register m --stage nostage
expect_err_contains "no run of 'nostage' is recorded"

# --if-changed: the latest version has these bytes -> nothing registered
expect_ok --json register m --stage train --if-changed
expect_json "not d['registered'] and d['version'] == 'v0.0.7'"
expect_ok register m --stage train --if-changed
expect_out_contains "Unchanged: m@v0.0.7 has the same bytes; nothing registered"
expect_ok --json models ls
expect_rc 3 models show m@v0.0.8
done_testing
