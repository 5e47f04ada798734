#!/usr/bin/env bash
# GTO's full name rule: upper case and '_' in model names and stages
# ([a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?), a "folder:" prefix; tags GTO
# writes for such names are listed and resolvable.
source "$(dirname "$0")/lib.sh"

new_repo names
printf 'w1' > m.bin
git add -A && git commit -qm base
expect_ok register Churn_Model m.bin --version v1.0.0
expect_out_contains "tag Churn_Model@v1.0.0"
expect_ok --json models show Churn_Model@latest
expect_json "d['version'] == 'v1.0.0'"
expect_rc 3 register _churn m.bin
expect_err_contains "GTO's naming rule"
expect_err_contains "'_'"

# Tags as GTO writes them, for a name mlo refused before.
git tag -a 'team.a=Fraud_Net@v0.1.0' -m "Registering artifact team.a:Fraud_Net version v0.1.0"
git tag -a 'team.a=Fraud_Net#dev#1' -m "Assigning stage dev to artifact team.a:Fraud_Net version v0.1.0"
expect_ok --json models ls
expect_json "sorted(m['name'] for m in d) == ['Churn_Model', 'team.a:Fraud_Net']"
expect_json "[m for m in d if m['name'] == 'team.a:Fraud_Net'][0]['stages'] == {'dev': ['v0.1.0']}"
expect_ok --json models show 'team.a:Fraud_Net#dev'
expect_json "d['version'] == 'v0.1.0'"
expect_ok --json registry check-ref 'refs/tags/team.a=Fraud_Net#dev#1'
expect_json "d['name'] == 'team.a:Fraud_Net' and d['stage'] == 'dev'"
done_testing
