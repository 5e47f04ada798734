"""One-hot encode the categorical columns and split into train and test."""
import os

import pandas as pd
from sklearn.model_selection import train_test_split

import mlo_params

p = mlo_params.load()["prepare"]
df = pd.get_dummies(pd.read_csv("data/customers.csv"), columns=["contract", "internet"], dtype=int)
train, test = train_test_split(df, test_size=p["test_size"], random_state=p["seed"], stratify=df["churn"])
os.makedirs("data/prepared", exist_ok=True)
train.to_csv("data/prepared/train.csv", index=False)
test.to_csv("data/prepared/test.csv", index=False)
print(f"train {len(train)} rows, test {len(test)} rows, {df.shape[1] - 1} features")
