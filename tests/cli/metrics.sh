#!/usr/bin/env bash
# mlo metrics show/diff, mlo params diff at git revisions, mlo runs diff,
# --json and --md output; the runs index can be rebuilt from the store.
source "$(dirname "$0")/lib.sh"
new_repo m
printf 'train:\n  lr: 0.1\n  epochs: 3\n' > params.yaml
cat > mlo.yaml <<'YAML'
stages:
  train:
    cmd: |-
      printf '{"acc": %s, "nested": {"loss": 0.5}}\n' ${params.train.lr} > metrics.json
      printf 'auc: 0.7\n' > extra.yaml
    params: [train.lr, train.epochs]
    metrics: [metrics.json, extra.yaml]
YAML
expect_ok run -q
git add -A && git commit -qm "first" || fail commit
expect_ok metrics show
expect_out_contains "metrics.json  acc"
expect_ok --json metrics show
expect_json "d['metrics.json']=={'acc':0.1,'nested.loss':0.5} and d['extra.yaml']=={'auc':0.7}"
expect_ok --json metrics show HEAD
expect_json "d['metrics.json']['acc']==0.1"

sed -i 's/lr: 0.1/lr: 0.25/' params.yaml
expect_ok --json params diff
expect_json "[(c['key'],c['old'],c['new']) for c in d['changes']]==[('train.lr',0.1,0.25)]"
expect_ok run -q
expect_ok metrics diff
expect_out_contains "0.25"
expect_out_contains "0.15"
expect_ok --json metrics diff
expect_json "len(d['changes'])==1 and d['changes'][0]['path']=='metrics.json' and abs(d['changes'][0]['change']-0.15)<1e-9"
expect_ok metrics diff --md
expect_out_contains "| path | metric | HEAD | workspace | change |"
expect_out_contains "| metrics.json | acc | 0.1 | 0.25 | 0.15 |"
git add -A && git commit -qm "second" || fail commit
expect_ok --json metrics diff HEAD~1 HEAD
expect_json "d['changes'][0]['old']==0.1 and d['changes'][0]['new']==0.25"
expect_ok params diff HEAD~1 HEAD --md
expect_out_contains "| train.lr | 0.1 | 0.25 |"
expect_ok --json params diff HEAD~1 HEAD --all
expect_json "len(d['changes'])==2"
expect_rc 3 metrics diff no-such-rev
# Metrics files that git does not hold come from mlo.lock at that revision.
git rm -q --cached metrics.json extra.yaml && echo metrics.json >> .gitignore && git add .gitignore && git commit -qm "untrack" || fail commit
expect_ok --json metrics show HEAD
expect_json "d['metrics.json']['acc']==0.25"

# runs diff / ls --md.
run_mlo --json runs ls
ids=$(printf '%s' "$OUT" | /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print(d[1]['id'], d[0]['id'])")
set -- $ids
expect_ok runs diff "$1" "$2"
expect_out_contains "params.train.lr"
expect_out_contains "metrics.acc"
expect_ok --json runs diff "$1" "$2"
expect_json "any(c['key']=='metrics.acc' and c['old']==0.1 and c['new']==0.25 for c in d['changes'])"
expect_ok runs ls --md
expect_out_contains "| id | stage | status |"

# The index is a cache: delete it, and the runs come back from the store.
rm -f .mlo/index.db*
expect_ok --json runs ls
expect_json "len(d)==0"
expect_ok --json runs show "$1"
expect_json "d['run_id']=='$1' and d['stage']=='train'"
expect_ok --json runs ls
expect_json "len(d)==2"
done_testing
