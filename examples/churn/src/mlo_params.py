"""Params for a stage: mlo writes the stage's resolved params (with any
`mlo run --set` overrides) to the JSON file named by MLO_PARAMS_FILE."""
import json
import os


def load():
    path = os.environ.get("MLO_PARAMS_FILE")
    if path:
        with open(path) as f:
            return json.load(f)
    import yaml  # running outside mlo: read params.yaml directly
    with open("params.yaml") as f:
        return yaml.safe_load(f)


def log_metric(key, value, step):
    """Step-wise metrics: one JSON line per point into MLO_METRICS_FILE."""
    path = os.environ.get("MLO_METRICS_FILE")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"key": key, "value": float(value), "step": int(step)}) + "\n")
