"""Synthetic telecom customers with a churn label that depends on tenure,
monthly charges, contract type and support calls (plus noise)."""
import os

import numpy as np
import pandas as pd

import mlo_params

p = mlo_params.load()["data"]
rng = np.random.default_rng(p["seed"])
n = p["rows"]
tenure = rng.integers(1, 72, n)
monthly = rng.normal(65, 20, n).clip(15, 130)
contract = rng.choice(["month", "year", "two-year"], n, p=[0.55, 0.25, 0.2])
calls = rng.poisson(1.5, n)
internet = rng.choice(["dsl", "fiber", "none"], n, p=[0.35, 0.45, 0.2])
logit = (-1.2 - 0.045 * tenure + 0.025 * (monthly - 65) + 0.45 * calls
         + np.where(contract == "month", 1.3, np.where(contract == "year", -0.3, -1.2))
         + np.where(internet == "fiber", 0.5, 0.0) + rng.normal(0, 0.6, n))
churn = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
os.makedirs("data", exist_ok=True)
pd.DataFrame({"tenure": tenure, "monthly_charges": monthly.round(2), "contract": contract,
              "support_calls": calls, "internet": internet, "churn": churn}).to_csv("data/customers.csv", index=False)
print(f"generated {n} customers, churn rate {churn.mean():.3f}")
