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
X, y = train.drop(columns=["churn"]), train["churn"]
model = GradientBoostingClassifier(n_estimators=p["n_estimators"], learning_rate=p["learning_rate"],
                                   max_depth=p["max_depth"], random_state=p["seed"])
model.fit(X, y)
for step, proba in enumerate(model.staged_predict_proba(X), start=1):
    if step % 5 == 0 or step == p["n_estimators"]:
        mlo_params.log_metric("train_loss", log_loss(y, proba), step)
os.makedirs("model", exist_ok=True)
with open("model/model.pkl", "wb") as f:
    pickle.dump(model, f)
print(f"trained {p['n_estimators']} trees, depth {p['max_depth']}, learning rate {p['learning_rate']}")
