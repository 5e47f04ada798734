#!/usr/bin/env bash
# mlo register / models / promote / approve / demote / deprecate / lineage /
# audit / registry check-ref: GTO-format git tags, gates, and bad input.
source "$(dirname "$0")/lib.sh"

# A repository with no commits: tags need one.
mkdir -p "$TEST_TMP/empty" && cd "$TEST_TMP/empty" && git init -q . && "$MLO" init -q
echo w > m.bin
expect_rc 3 register m m.bin
expect_err_contains "no commits"
expect_err_contains "git commit"
[ -z "$(git tag)" ] || fail "a tag was created without commits"; pass

new_repo reg
mkdir -p models && printf 'weights-1' > models/churn.pkl
echo '{"accuracy": 0.91, "rmse": 3.0}' > m1.json

# Invalid names (GTO's rules), bad versions.
for bad in churn/ churn- _churn "churn model" "a@b" "Ch%rn"; do
  expect_rc 3 register "$bad" models/churn.pkl
  expect_err_contains "invalid"
done
expect_rc 3 register churn models/churn.pkl --version 1.0
expect_err_contains "invalid version"
expect_rc 3 register churn models/no-such.pkl
expect_err_contains "no such file"
expect_rc 3 register churn --run r-does-not-exist
expect_err_contains "run 'r-does-not-exist' does not exist"
[ -z "$(git tag)" ] || fail "bad input created tags"; pass

# Register: a GTO tag with mlo's metadata in the message.
expect_ok register churn models/churn.pkl --version v1.0.0 --type sklearn -d "Churn model" -l team=ds --metrics m1.json
expect_out_contains "Registered churn v1.0.0 (tag churn@v1.0.0)"
git cat-file -p churn@v1.0.0 | grep -q "^Registering artifact churn version v1.0.0$" || fail "GTO message line missing"
git cat-file -p churn@v1.0.0 | grep -q "mlo-metadata:" || fail "metadata missing"; pass
sha=$(sha256sum models/churn.pkl | cut -d' ' -f1)
expect_file ".mlo/cache/objects/${sha:0:2}/${sha:2}"
expect_rc 3 register churn models/churn.pkl --version v1.0.0
expect_err_contains "exists already"

# Declared in mlo.yaml: no other argument needed; bumps.
cat > mlo.yaml <<'YAML'
models:
  churn:
    path: models/churn.pkl
    type: sklearn
    description: Predicts churn
registry:
  stages:
    dev: {}
    staging: {}
    production:
      gates:
        metrics: ["accuracy >= 0.9", "rmse < 3.2"]
        beat:
          - metric: accuracy
            min_absolute_change: 0.01
        approvals: 2
        check: test -s "$MLO_ARTIFACT"
YAML
printf 'weights-2' > models/churn.pkl
expect_ok --json register churn --bump minor --metrics m1.json
expect_json "d['version'] == 'v1.1.0' and d['model_type'] == 'sklearn' and d['artifact']['path'] == 'models/churn.pkl'"
expect_ok register churn
expect_out_contains "v1.1.1"

# References resolve.
expect_ok --json models show churn@latest
expect_json "d['version'] == 'v1.1.1'"
expect_ok --json models show churn@greatest
expect_json "d['version'] == 'v1.1.1'"
expect_ok --json models show churn@v1.0.0
expect_json "d['labels']['team'] == 'ds' and d['metrics']['accuracy'] == 0.91"
expect_rc 3 models show churn@v9.9.9
expect_err_contains "no version v9.9.9"
expect_rc 3 models show nosuch
expect_err_contains "no model named 'nosuch'"
expect_ok --json models ls
expect_json "d[0]['name'] == 'churn' and d[0]['versions'] == 3 and d[0]['latest'] == 'v1.1.1'"

# Unknown stage.
expect_rc 3 promote churn@v1.0.0 --to prod
expect_err_contains "unknown stage 'prod'"

# Refused promotion: every gate printed, exit 1, nothing changed.
before=$(git tag | sort | tr '\n' ' ')
expect_rc 1 promote churn@v1.0.0 --to production
expect_out_contains "[pass] metric: accuracy >= 0.9 -> 0.91"
expect_out_contains "[FAIL] approvals"
expect_out_contains "[pass] check"
expect_err_contains "refused"
expect_eq "$(git tag | sort | tr '\n' ' ')" "$before" "tags after a refused promotion"

# Approvals: the author's own does not count; two distinct others do.
expect_ok approve churn@v1.0.0 --stage production
expect_err_contains "does not count"
GIT_COMMITTER_NAME=Alice GIT_COMMITTER_EMAIL=alice@example.com expect_ok approve churn@v1.0.0 --stage production -m "reviewed"
GIT_COMMITTER_NAME=Alice GIT_COMMITTER_EMAIL=alice@example.com expect_ok approve churn@v1.0.0 --stage production
expect_rc 1 promote churn@v1.0.0 --to production
expect_out_contains "-> 1  (approved by alice@example.com)"
GIT_COMMITTER_NAME=Bob GIT_COMMITTER_EMAIL=bob@example.com expect_ok approve churn@v1.0.0 --stage production
expect_ok promote churn@v1.0.0 --to production -m "first release"
expect_out_contains "Created tag churn#production#1"
expect_ok --json models show "churn#production"
expect_json "d['version'] == 'v1.0.0' and len(d['approvals']) == 4"

# Beat the holder (MLflow MetricThreshold): 0.915 is not >= 0.91 + 0.01.
echo '{"accuracy": 0.915, "rmse": 3.0}' > m2.json
printf 'weights-3' > models/churn.pkl
expect_ok register churn --metrics m2.json --version v2.0.0
for who in alice bob; do GIT_COMMITTER_NAME=$who GIT_COMMITTER_EMAIL=$who@example.com expect_ok approve churn@v2.0.0 --stage production; done
expect_rc 1 --json promote churn@v2.0.0 --to production
expect_json "d['promoted'] is False and [g for g in d['gates'] if g['gate'] == 'beat' and not g['passed']]"
# --force overrides and is recorded; the previous holder moves out, history shows both.
expect_ok promote churn@v2.0.0 --to production --force
expect_out_contains "FORCED"
expect_out_contains "churn@v1.0.0 moved out"
expect_ok --json models show churn#production
expect_json "d['version'] == 'v2.0.0'"
expect_ok --json models history churn
expect_json "[e for e in d if e['event'] == 'unassignment' and e.get('version') == 'v1.0.0' and e.get('replaced_by') == 'v2.0.0'] and [e for e in d if e['event'] == 'assignment' and e['forced']]"
expect_ok audit churn
expect_out_contains "FORCED"
expect_out_contains "approval  churn@v1.0.0  stage production  by Alice <alice@example.com>  \"reviewed\""

# Multi-holder stage, demote, deprecate (archived), aliases.
expect_ok promote churn@v1.1.0 --to dev
expect_ok promote churn@v1.1.1 --to dev
expect_ok --json models ls
expect_json "d[0]['stages']['dev'] == ['v1.1.0', 'v1.1.1']"
expect_ok demote churn@v1.1.0 --from dev
expect_rc 3 demote churn@v1.1.0 --from dev
expect_err_contains "is not in stage 'dev'"
expect_ok deprecate churn@v1.1.1
expect_ok --json models show churn@v1.1.1
expect_json "d['stages'] == ['archived']"
expect_ok models alias churn@v1.0.0 champion
expect_ok --json models show churn@champion
expect_json "d['version'] == 'v1.0.0'"
expect_ok models alias churn@v2.0.0 champion
expect_ok --json models show churn@champion
expect_json "d['version'] == 'v2.0.0' and d['aliases'] == ['champion']"
expect_rc 3 models alias churn@v2.0.0 production
expect_err_contains "is a stage"

# Model card, lineage, check-ref.
expect_ok models card churn@v2.0.0 -o card.md
grep -q "^# Model card: churn v2.0.0" card.md || fail "card title"
for section in "## Artifact" "## Metrics" "## Lineage" "## Stage history" "## Approvals" "$sha"; do
  grep -q -- "$section" card.md || { [ "$section" = "$sha" ] && continue; fail "card lacks $section"; }
done; pass
expect_ok lineage churn@v2.0.0
expect_out_contains "churn@v2.0.0"
expect_out_contains "stage production"
expect_ok --json lineage churn#production
expect_json "d['kind'] == 'model_version' and any(c['kind'] == 'stage' for c in d['children'])"
expect_ok lineage churn@v2.0.0 --dot
expect_out_contains "digraph lineage"
expect_ok --json lineage models/churn.pkl
expect_json "d['kind'] == 'data' and any(c['id'] == 'churn@v2.0.0' for c in d['children'])"
export GITHUB_ACTIONS=true GITHUB_OUTPUT="$TEST_TMP/gh_out"
expect_ok --json registry check-ref refs/tags/churn#production#1
expect_json "d['event'] == 'assignment' and d['name'] == 'churn' and d['stage'] == 'production' and d['version'] == 'v1.0.0'"
grep -qx "version=v1.0.0" "$GITHUB_OUTPUT" || fail "GITHUB_OUTPUT lacks version"; pass
grep -qx "stage=production" "$GITHUB_OUTPUT" || fail "GITHUB_OUTPUT lacks stage"; pass
grep -qx "exists=true" "$GITHUB_OUTPUT" || fail "GITHUB_OUTPUT lacks exists=true"; pass
# A registry tag that is not there: exists=false, and the check fails (exit 1).
: >"$GITHUB_OUTPUT"
expect_rc 1 --json registry check-ref refs/tags/churn#production#99
expect_json "d['exists'] is False and d['stage'] == 'production'"
grep -qx "exists=false" "$GITHUB_OUTPUT" || fail "GITHUB_OUTPUT lacks exists=false"; pass
expect_rc 1 registry check-ref churn@v9.9.9
expect_err_contains "no tag 'churn@v9.9.9'"
unset GITHUB_ACTIONS GITHUB_OUTPUT
expect_rc 3 registry check-ref v1.0
expect_err_contains "not a registry tag"

# GTO's own tags (no mlo metadata, written by plain git) read correctly.
git commit -qm "train" --allow-empty
git tag -a rf@v0.1.0 -m "Registering artifact rf version v0.1.0"
git tag -a 'rf#prod#1' -m "Assigning stage prod to artifact rf version v0.1.0"
git tag -a 'rf#staging#2' -m "Assigning stage staging to artifact rf version v0.1.0"
git tag -a 'rf#staging!#3' -m "Unassigning stage staging"
git tag lightweight-rf@v9.0.0
expect_ok --json models show rf
expect_json "d['latest'] == 'v0.1.0' and d['stages'] == {'prod': ['v0.1.0']}"
expect_ok --json models show 'rf#prod'
expect_json "d['version'] == 'v0.1.0' and 'artifact' not in d"

# Tags deleted or edited by hand: the index follows.
git tag -d 'rf#prod#1' >/dev/null
expect_rc 3 models show 'rf#prod'
git tag -a -f rf@v0.1.0 -m "Registering artifact rf version v0.1.0 (edited)" >/dev/null
expect_ok --json models history rf
expect_json "[e for e in d if e['tag'] == 'rf@v0.1.0'][0]['message'].endswith('(edited)')"
rm -f .mlo/index.db*
expect_ok --json models ls
expect_json "sorted(m['name'] for m in d) == ['churn', 'rf']"
expect_ok registry rebuild
expect_out_contains "2 models"

# Artifact missing from the store: tracked by a pointer, object gone.
mkdir -p art && printf 'big' > art/model.bin
osha=$(sha256sum art/model.bin | cut -d' ' -f1)
printf 'version: 1\npath: model.bin\ntype: file\nsha256: %s\nsize: 3\n' "$osha" > art/model.bin.mlo
rm art/model.bin
expect_rc 3 register other art/model.bin
expect_err_contains "missing from the store"

# Two registrations at once: both succeed with distinct versions.
("$MLO" register conc models/churn.pkl >/dev/null 2>"$TEST_TMP/c1.err"; echo $? > "$TEST_TMP/c1.rc") &
("$MLO" register conc models/churn.pkl >/dev/null 2>"$TEST_TMP/c2.err"; echo $? > "$TEST_TMP/c2.rc") &
wait
expect_eq "$(cat "$TEST_TMP/c1.rc")$(cat "$TEST_TMP/c2.rc")" "00" "concurrent register exit codes"
expect_eq "$(git tag -l 'conc@*' | sort | tr '\n' ' ')" "conc@v0.0.1 conc@v0.0.2 " "concurrent versions"

# --push sends the tags to the git remote.
git init -q --bare "$TEST_TMP/origin.git" && git remote add origin "$TEST_TMP/origin.git"
expect_ok register pushed models/churn.pkl --push
git -C "$TEST_TMP/origin.git" rev-parse -q --verify "refs/tags/pushed@v0.0.1" >/dev/null || fail "tag not pushed"; pass
git remote set-url origin "$TEST_TMP/nowhere.git"
expect_rc 4 promote pushed@v0.0.1 --to dev --push
expect_err_contains "git push origin failed"

# Registered artifacts are gc roots, and `mlo index rebuild` restores the registry.
printf 'weights-gc' > gc.bin
expect_ok register gcm gc.bin
gsha=$(sha256sum gc.bin | cut -d' ' -f1)
rm gc.bin
expect_ok gc --grace 0
expect_file ".mlo/cache/objects/${gsha:0:2}/${gsha:2}"
expect_ok index rebuild
expect_out_contains "registry"
expect_ok --json models show gcm@v0.0.1
expect_json "d['artifact']['sha256'] == '$gsha'"

# Audit since a date in the future is empty; a bad date is refused.
expect_ok --json audit --since 2999-01-01
expect_json "d == []"
expect_rc 3 audit --since yesterday
# Unix seconds that do not fit 64 bits: a bad date (exit 3), never exit 70.
expect_rc 3 audit --since 99999999999999999999999
expect_err_contains "too large"
expect_err_contains "cannot read the date"

done_testing
