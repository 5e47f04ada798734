#!/usr/bin/env bash
# Joined late labels are shared between clones (issue 18): clone A serves
# and joins the labels; the join is a git ref (refs/mlo/labels/ENV/...) that
# `--push` sends to the registry's git remote; clone B, which never served,
# `--fetch`es it and shows the same windows and numbers, and its performance
# trigger decides on them; `triggers check --act --push` fetches newer joins
# with the claims; joins from the old clone-local file are still read and
# pushed; an unreachable remote exits 4 and keeps the join.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"
PY=/usr/bin/python3
git init -q --bare "$TEST_TMP/origin.git"
new_repo a
git remote add origin "$TEST_TMP/origin.git"
linear_model m1.json 1
cat > mlo.yaml <<'YAML'
triggers:
  decay:
    performance: {env: prod, metric: mae, above: 0.5}
    action: {run: [noop]}
YAML
git add mlo.yaml && git commit -qm triggers && git push -q origin HEAD:main || fail "push"
git clone -q "$TEST_TMP/origin.git" "$TEST_TMP/b" || fail "clone"

# A serves 20 requests; the labels arrive later, each 1 off (MAE 1)
expect_ok deploy iris@1 --artifact m1.json --env prod
send_rows "$(router_port prod)" 0 20 > "$TEST_TMP/sent.txt" || fail "requests failed"
for _ in $(seq 300); do  # the router flushes its request log every 100 ms
  [ "$(cat .mlo/deploy/prod/requests.jsonl 2>/dev/null | wc -l)" -ge 20 ] && break; sleep 0.1
done
# labels OFFSET FILE : a label per served request, the prediction + OFFSET
labels() { awk -v off="$1" 'BEGIN { print "request_id,y" } { print $3 "," $4 + off }' "$TEST_TMP/sent.txt" > "$2"; }
labels 1 labels.csv
expect_ok --json monitor labels prod --from labels.csv --task regression --push
expect_json "d['labels'] == 20 and d['overall']['mae'] == 1"
joined_a="$OUT"
expect_eq "$(git ls-remote origin 'refs/mlo/labels/prod/*' | wc -l | tr -d ' ')" 1 "joins on the remote"
expect_ok --json triggers check
expect_json "d['decisions'][0]['state'] == 'due'"
decision_a="$OUT"
expect_ok monitor labels prod --push
expect_out_contains "Joins of prod pushed to origin (refs/mlo/labels/prod/)"

# B has no request log and no join until it fetches: then the same JSON, the
# same decision on the same evidence
cd "$TEST_TMP/b"
expect_rc 3 monitor labels prod
expect_err_contains "no labels recorded for 'prod'"
expect_ok --json triggers check
expect_json "d['decisions'][0]['state'] == 'not-due' and 'no labelled traffic' in d['decisions'][0]['reason']"
expect_ok --json monitor labels prod --fetch
expect_eq "$OUT" "$joined_a" "B's view of the join A pushed"
expect_ok --json triggers check
expect_eq "$OUT" "$decision_a" "B's decision on the shared labels"

# A joins again (the labels were corrected: MAE 0); B's triggers check --act
# --push fetches that join with the claims and decides on it
cd "$TEST_TMP/a"
labels 0 labels.csv
expect_ok --json monitor labels prod --from labels.csv --task regression --push
expect_json "d['overall']['mae'] == 0"
cd "$TEST_TMP/b"
expect_ok --json triggers check --act --push
expect_json "d['decisions'][0]['state'] == 'not-due' and d['decisions'][0]['evidence']['value'] == 0"
expect_ok --json monitor labels prod
expect_json "d['overall']['mae'] == 0"

# a join from the clone-local file of older versions: read, and shared by --push
printf '%s\n' "$joined_a" | $PY -c '
import json, sys
d = json.load(sys.stdin); d["id"] = "0123456789abcdef"; d["computed_at"] = "2020-01-01T00:00:00Z"; d["overall"]["mae"] = 7
print(json.dumps(d))' > "$TEST_TMP/legacy.jsonl"
mkdir -p .mlo/monitor/labels && cp "$TEST_TMP/legacy.jsonl" .mlo/monitor/labels/prod.jsonl
expect_ok --json monitor labels prod
expect_json "d['overall']['mae'] == 0"   # the newest join is still the latest
expect_ok --json monitor labels prod --push
expect_eq "$(git ls-remote origin refs/mlo/labels/prod/01577836800000000000-0123456789abcdef | wc -l | tr -d ' ')" 1 \
  "the legacy join pushed under its computed time"
cd "$TEST_TMP/a"
expect_ok --json monitor labels prod --fetch
expect_json "d['overall']['mae'] == 0"
expect_eq "$(git for-each-ref 'refs/mlo/labels/prod/' | wc -l | tr -d ' ')" 3 "joins A holds after fetching B's"

# the remote unreachable: exit 4, the join is recorded here all the same
git remote set-url origin "$TEST_TMP/gone.git"
labels 2 labels.csv
expect_rc 4 monitor labels prod --from labels.csv --task regression --push
expect_err_contains "push them later with 'mlo monitor labels prod --push'"
expect_ok --json monitor labels prod
expect_json "d['overall']['mae'] == 2"
expect_rc 4 monitor labels prod --fetch
expect_rc 2 monitor labels 'pro..d' --fetch
expect_err_contains "bad environment name"
done_testing
