"""Gradient-boosted trees; logs the training log-loss after each boosting
stage as a step-wise metric (mlo runs show / MLO_METRICS_FILE)."""
import os
import pickle

import pandas as pd
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import log_loss

import mlo_params

p = mlo_params.load()["train"]
train = pd.read_csv("data/prepared/train.csv")
weight = [1.0] * len(train)
# Served requests whose outcome arrived later (make demo's closed loop):
# feedback/sent.csv (request_id and features) joined to feedback/labels.csv
# (request_id and churn); the freshest evidence of the world counts 100x.
if os.path.exists("feedback/labels.csv"):
    fresh = pd.read_csv("feedback/sent.csv").merge(pd.read_csv("feedback/labels.csv")[["request_id", "churn"]])
    train = pd.concat([train, fresh.drop(columns=["request_id"])], ignore_index=True)
    weight += [100.0] * len(fresh)
X, y = train.drop(columns=["churn"]), train["churn"]
model = GradientBoostingClassifier(n_estimators=p["n_estimators"], learning_rate=p["learning_rate"],
                                   max_depth=p["max_depth"], random_state=p["seed"])
model.fit(X, y, sample_weight=weight)
for step, proba in enumerate(model.staged_predict_proba(X), start=1):
    if step % 5 == 0 or step == p["n_estimators"]:
        mlo_params.log_metric("train_loss", log_loss(y, proba), step)
os.makedirs("model", exist_ok=True)
with open("model/model.pkl", "wb") as f:
    pickle.dump(model, f)
print(f"trained {p['n_estimators']} trees, depth {p['max_depth']}, learning rate {p['learning_rate']}")
