"""Shared by the sklearn runner's tests: a small served classifier.

    proc, port = start(RUNNER, {"workers": 2}, stderr=f)

fits LogisticRegression on [[0,0],[1,1],[2,2],[3,3]] -> [0,0,1,1], saves it as
model "m" version "v1" in the current directory and starts RUNNER on it
(port 0 plus `serve`); returns the process and its port once it is ready."""
import atexit
import json
import os
import subprocess

import joblib
from sklearn.linear_model import LogisticRegression


def start(runner, serve=None, stderr=None):
    joblib.dump(LogisticRegression().fit([[0, 0], [1, 1], [2, 2], [3, 3]], [0, 0, 1, 1]), "m.pkl")
    json.dump({"version": 1, "mode": "serve", "model": {"name": "m", "version": "v1", "artifact": os.path.abspath("m.pkl")},
               "serve": dict({"port": 0}, **(serve or {}))}, open("spec.json", "w"))
    proc = subprocess.Popen([runner, "--spec", "spec.json"], stdout=subprocess.PIPE, stderr=stderr, text=True)
    atexit.register(proc.kill)  # a failed check must not leave the runner serving
    line = proc.stdout.readline()
    assert line.startswith("mlo-inference-runner ready port="), line
    return proc, int(line.split("=")[1])
