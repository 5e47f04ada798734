#!/usr/bin/env bash
# The training environment travels with the model: `mlo register` copies the
# producing run's environment into the version's metadata and card, and
# `mlo deploy` warns when the serving python (the scikit-learn runner's
# /usr/bin/python3) has another version of a package the model's pickle
# needs; --strict-env makes that exit 1. The training venv is Debian's python
# with a dist-info that claims another scikit-learn version (what a venv with
# its own scikit-learn would record).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_deploy.sh"
/usr/bin/python3 -c 'import sklearn, joblib' || fail "python3-sklearn and python3-joblib are needed (.ci/debian-packages.txt)"
SERVING=$(/usr/bin/python3 -c 'import importlib.metadata as m; print(m.version("scikit-learn"))')
new_repo
/usr/bin/python3 -m venv --without-pip --system-site-packages venv || fail "cannot make a venv"
echo "/venv" >> .gitignore
SITE=$(venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
mkdir -p "$SITE/scikit_learn-0.0.1.dist-info"
printf 'Metadata-Version: 2.1\nName: scikit-learn\nVersion: 0.0.1\n' > "$SITE/scikit_learn-0.0.1.dist-info/METADATA"
cat > train.py <<'PY'
import joblib, numpy as np
from sklearn.linear_model import LogisticRegression
x = np.array([[0, 0], [1, 1], [0, 1], [1, 0], [2, 2], [3, 3]], dtype=float)
y = np.array([0, 1, 0, 0, 1, 1])
joblib.dump(LogisticRegression().fit(x, y), "clf.joblib")
PY
cat > mlo.yaml <<'YAML'
stages:
  train:
    cmd: venv/bin/python train.py
    deps: [train.py]
    outs: [clf.joblib]
YAML
git add -A && git commit -qm train
expect_ok run
git add -A && git commit -qm "trained"
expect_ok register clf --stage train
expect_ok --json models show clf@latest
expect_json "d['environment']['python']['packages']['scikit-learn'] == '0.0.1'"
expect_json "d['environment']['os']['id'] != ''"
expect_out_not_contains "env_vars"
expect_ok models card clf@latest
expect_out_contains "### Environment"
expect_out_contains "| scikit-learn | 0.0.1 |"

printf '0,0\n3,3\n' > xs.csv
expect_ok --json deploy clf@latest --env nightly --target batch --input xs.csv --output xs.pred.csv --runner sklearn
expect_err_contains "scikit-learn 0.0.1 (training) vs $SERVING (serving)"
expect_rc 1 deploy clf@latest --env nightly --target batch --input xs.csv --output xs.pred.csv --runner sklearn --strict-env
expect_err_contains "scikit-learn 0.0.1 (training) vs $SERVING (serving)"
expect_err_contains "hint:"

# Trained where serving runs: no warning, and --strict-env serves.
rm -rf "$SITE/scikit_learn-0.0.1.dist-info"
expect_ok run -f
git add -A && git commit -qm "retrained"
expect_ok register clf --stage train
expect_ok deploy clf@latest --env nightly --target batch --input xs.csv --output xs.pred.csv --runner sklearn --strict-env
[[ "$ERR" != *"(training) vs"* ]] || fail "a warning without a difference: $ERR"
pass
done_testing
