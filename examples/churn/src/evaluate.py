"""Accuracy, ROC AUC and F1 on the held-out test set -> metrics.json."""
import json
import pickle

import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

test = pd.read_csv("data/prepared/test.csv")
X, y = test.drop(columns=["churn"]), test["churn"]
with open("model/model.pkl", "rb") as f:
    model = pickle.load(f)
proba = model.predict_proba(X)[:, 1]
pred = (proba >= 0.5).astype(int)
metrics = {"accuracy": round(accuracy_score(y, pred), 4), "auc": round(roc_auc_score(y, proba), 4),
           "f1": round(f1_score(y, pred), 4)}
with open("metrics.json", "w") as f:
    json.dump(metrics, f, indent=2)
    f.write("\n")
print(json.dumps(metrics))
