#!/usr/bin/env bash
# Notification state shared between clones (shared: on a notify target):
# two machines that see the same drift send it once between them (the
# first claim on the git remote wins, even when both report at the same
# moment); another drift of the same monitor waits out the cooldown on the
# other machine too; a target without shared: keeps per-clone state (both
# send); an unreachable remote still sends, with a warning; a delivery that
# fails withdraws its claim; shared: takes only a remote's name.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_loop.sh"
PY=/usr/bin/python3
export MLO_SHARED_SECRET="shared-$$"
start_receiver "$MLO_SHARED_SECRET"
trap 'kill $RECEIVER 2>/dev/null; cleanup' EXIT
# sent PATH : how many requests the receiver got on PATH
sent() { [ -f "$RECEIVED" ] && $PY -c "
import json,sys; print(sum(json.loads(l)['path'] == sys.argv[2] for l in open(sys.argv[1])))" "$RECEIVED" "$1" || echo 0; }
# last_status TARGET : the status of TARGET's newest line in .mlo/notify/log.jsonl
last_status() { $PY -c "
import json,sys; print([json.loads(l) for l in open('.mlo/notify/log.jsonl') if json.loads(l)['target'] == sys.argv[1]][-1]['status'])" "$1"; }

git init -q --bare "$TEST_TMP/origin.git"
new_repo a
gen ref.csv 600 0 1
gen cur.csv 600 1 2
cat > mlo.yaml <<YAML
monitors:
  m: {reference: ref.csv, current: cur.csv}
  race: {reference: ref.csv, current: cur.csv}
  gone: {reference: ref.csv, current: cur.csv}
  fresh: {reference: ref.csv, current: cur.csv}
  interleaved: {reference: ref.csv, current: cur.csv}
notify:
  team:
    type: webhook
    url: http://127.0.0.1:$PORT/team
    secret_env: MLO_SHARED_SECRET
    shared: true
    cooldown: 1w
  mine:
    type: webhook
    url: http://127.0.0.1:$PORT/mine
    secret_env: MLO_SHARED_SECRET
    events: [drift]
YAML
git add -A && git commit -qm "monitor and notify" && git remote add origin "$TEST_TMP/origin.git" && git push -q origin main
git clone -q "$TEST_TMP/origin.git" "$TEST_TMP/b" || fail "clone"

# the same drift on two machines: one delivery to the shared target
expect_rc 0 monitor m
expect_eq "$(sent /team)" 1 "deliveries after machine a"
expect_eq "$(git ls-remote origin 'refs/mlo/notify/team/*' | wc -l | tr -d ' ')" 2 "claims on the remote (event, period)"
cd "$TEST_TMP/b"
expect_rc 0 monitor m
expect_eq "$(sent /team)" 1 "deliveries after machine b"
expect_eq "$(last_status team)" duplicate
expect_eq "$(sent /mine)" 2 "the unshared target: one per clone"
# another drift of the same monitor on b: a's delivery holds the cooldown
gen cur.csv 600 2 3
expect_rc 0 monitor m
expect_eq "$(sent /team)" 1 "deliveries after new drift on b"
expect_eq "$(last_status team)" cooldown

# both machines at the same moment, on a monitor neither has reported
git checkout -q cur.csv  # the same data as machine a
cd "$TEST_TMP"
(cd a && "$MLO" monitor race > a.out 2>&1) & first=$!
(cd b && "$MLO" monitor race > b.out 2>&1) & second=$!
wait $first $second  # not the receiver
expect_eq "$(sent /team)" 2 "deliveries of the race between a and b"
statuses=$(cd a && last_status team; cd ../b && last_status team)
[[ "$(echo $statuses | tr ' ' '\n' | sort | tr '\n' ' ')" == "duplicate sent " ]] || fail "race statuses: $statuses"; pass

# the interleaving that loses the race, made certain: b has fetched the
# claims and made its own when a's claim lands, before b pushes (a git
# reference-transaction hook in b runs a's report as b's claim is made).
# Both claims are made in the same second by the same host, so only a nonce
# keeps them from being the same object, which the remote would take twice
# as "up to date".
git -C b fetch -q origin '+refs/mlo/notify/*:refs/mlo/notify/*'
cat > b/.git/hooks/reference-transaction <<HOOK
#!/bin/sh
[ "\$1" = committed ] || exit 0
[ -e "$TEST_TMP/hook.done" ] && exit 0
touch "$TEST_TMP/hook.done"
cd "$TEST_TMP/a" && env -u GIT_DIR -u GIT_WORK_TREE -u GIT_INDEX_FILE "$MLO" monitor interleaved > "$TEST_TMP/a2.out" 2>&1
exit 0
HOOK
chmod +x b/.git/hooks/reference-transaction
(cd b && "$MLO" monitor interleaved > ../b2.out 2>&1) || fail "b's report: $(cat b2.out)"
[ -e "$TEST_TMP/hook.done" ] || fail "b made no claim"
rm b/.git/hooks/reference-transaction
expect_eq "$(sent /team)" 3 "deliveries of the interleaved race"
statuses=$(cd a && last_status team; cd ../b && last_status team)
[[ "$statuses" == "sent"$'\n'"duplicate" ]] || fail "interleaved statuses (a, b): $statuses $(cat a2.out b2.out)"; pass

# unreachable remote: sent all the same, with a warning naming the remote
cd "$TEST_TMP/b"
git remote set-url origin "$TEST_TMP/nowhere.git"
expect_rc 0 monitor gone
expect_err_contains "notify target team: git fetch origin failed"
expect_eq "$(last_status team)" sent
git remote set-url origin "$TEST_TMP/origin.git"

# a failed delivery withdraws its claim: the next report sends it
sed -i "s|127.0.0.1:$PORT/team|127.0.0.1:$PORT/fail-4|" mlo.yaml
sed -i 's/    cooldown: 1w/    cooldown: 1w\n    retries: 0/' mlo.yaml
gen new.csv 600 3 4
expect_rc 0 monitor fresh -c new.csv
expect_eq "$(last_status team)" failed
expect_eq "$(git ls-remote origin 'refs/mlo/notify/team/*' | wc -l | tr -d ' ')" 6 "claims after a failed delivery (none added)"
sed -i "s|127.0.0.1:$PORT/fail-4|127.0.0.1:$PORT/team|" mlo.yaml
expect_rc 0 monitor fresh -c new.csv
expect_eq "$(last_status team)" sent
expect_eq "$(sent /team)" 5 "deliveries after the retry (a, race, interleaved, gone, fresh)"

# shared: names a remote, never a URL or an option (and a bad notify:
# section never fails the command it reports on)
sed -i 's/    shared: true/    shared: --upload-pack=touch-x/' mlo.yaml
gen new.csv 600 4 5
expect_rc 0 monitor fresh -c new.csv
expect_err_contains "mlo.yaml:"
expect_err_contains "shared: '--upload-pack=touch-x' is not a git remote's name"
done_testing
