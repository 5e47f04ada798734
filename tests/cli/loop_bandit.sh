#!/usr/bin/env bash
# --strategy bandit: two arms behind the router (split as for ab);
# `mlo deploy experiment bandit` reads a 0/1 reward from labels that
# arrive later (joined by request id) and moves arm B's traffic share to the
# posterior probability that B is the better arm (Thompson sampling with
# Beta(1+s, 1+f) posteriors), kept within --min-share; the same seed gives
# the same split; the probability matches scipy's exact integral; each move
# is a traffic event; bad input is refused with a hint.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"
PY=/usr/bin/python3
trap 'deploy_cleanup' EXIT
new_repo
linear_model m1.json 1
linear_model m2.json 2
# rewards FILE... : a reward per request: arm B ("2") converts 3 times in 5, arm A 1 in 5
rewards() {
  $PY - "$@" <<'PY'
import sys
with open("rewards.csv", "w") as f:
    f.write("request_id,converted\n")
    for path in sys.argv[1:]:
        for k, (sent, version, rid, pred) in enumerate(l.split() for l in open(path)):
            f.write(f"{rid},{int(k % 5 < (3 if version == '2' else 1))}\n")
PY
}
expect_ok deploy iris@1 --artifact m1.json --env prod
port=$(router_port prod)
expect_rc 3 deploy experiment bandit prod --metric converted
expect_err_contains "'prod' runs no bandit"
expect_rc 2 deploy iris@2 --artifact m2.json --env prod --strategy bandits
expect_err_contains "use replace, blue-green, canary, shadow, ab or bandit"
expect_ok deploy iris@2 --artifact m2.json --env prod --strategy bandit
expect_ok --json deploy status prod
expect_json "d['strategy'] == 'bandit' and [v['weight'] for v in d['versions']] == [50, 50]"
send_rows "$port" 0 200 > "$TEST_TMP/r1.txt" || fail "requests failed"
sleep 0.5  # the router flushes its request log every 100 ms
rewards "$TEST_TMP/r1.txt"

# a dry run reports the move; the same seed, the same draws
expect_ok --json deploy experiment bandit prod --metric converted --from rewards.csv --seed 7 --dry-run
expect_json "d['applied'] is False and d['weight_before'] == 50 and d['a']['n'] + d['b']['n'] == 200"
first="$OUT"
expect_ok --json deploy experiment bandit prod --metric converted --from rewards.csv --seed 7 --dry-run
expect_eq "$OUT" "$first" "two runs with one seed"
# P(B better) against scipy: the exact integral of Beta densities
printf '%s' "$first" | $PY -c "
import json, sys
from scipy import integrate, stats
d = json.load(sys.stdin); (a1, b1), (a2, b2) = d['a']['posterior'], d['b']['posterior']
exact, _ = integrate.quad(lambda x: stats.beta.pdf(x, a2, b2) * stats.beta.cdf(x, a1, b1), 0, 1)
assert abs(d['p_b_better'] - exact) < 0.01, (d['p_b_better'], exact)   # 20000 draws: sd < 0.004
assert d['weight'] == max(5, min(95, int(100 * d['p_b_better'] + 0.5))), d
" || fail "the bandit's probability differs from scipy's: $first"; pass
expect_json "d['weight'] == 95"   # 3 in 5 against 1 in 5 over 200 requests: B is better beyond doubt

# applied: the router sends B its new share, recorded as a traffic event
expect_ok deploy experiment bandit prod --metric converted --from rewards.csv --seed 7
expect_out_contains "Arm B's traffic: 50% -> 95%"
expect_ok --json deploy status prod
expect_json "[v['weight'] for v in d['versions']] == [5, 95]"
send_rows "$port" 1000 200 > "$TEST_TMP/r2.txt" || fail "requests failed"
expect_eq "$(awk '$2 == 2' "$TEST_TMP/r2.txt" | wc -l | tr -d ' ')" 190 "requests to arm B after the move (95 of 100)"
expect_ok --json deploy history prod
expect_json "[(e['detail']['from_weight'], e['detail']['to_weight']) for e in d if e['action'] == 'traffic'] == [(50, 95)]"
# no change: nothing applied, nothing recorded
expect_ok deploy experiment bandit prod --metric converted --from rewards.csv --seed 7
expect_out_contains "(unchanged)"

# bad input
echo "request_id,converted" > bad.csv && echo "r1,0.5" >> bad.csv
expect_rc 3 deploy experiment bandit prod --metric converted --from bad.csv
expect_err_contains "values other than 0 and 1"
expect_rc 2 deploy experiment bandit prod --metric converted --from rewards.csv --min-share 60
expect_err_contains "--min-share must be 0..50"
expect_rc 2 deploy experiment bandit prod --metric converted --from rewards.csv --draws 5
done_testing
