# MODELS models x VERSIONS versions of GTO-format annotated tags with mlo
# metadata (and a production stage tag per model), as a git fast-import
# stream on stdout. Used by tests/bench/registry.sh and tests/bench/ui.sh:
#   /usr/bin/python3 registry_tags.py MODELS VERSIONS | git fast-import --quiet
import json, sys
models, versions = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout
def data(s):
    b = s.encode()
    out.write(f"data {len(b)}\n"); out.write(s); out.write("\n")
out.write("commit refs/heads/main\nmark :1\ncommitter Bench <bench@example.com> 1700000000 +0000\n")
data("init")
t = 1700000001
for m in range(models):
    name = f"model-{m:04d}"
    for v in range(versions):
        ver = f"v1.{v}.0"
        meta = {"mlo": 1, "event": "register", "name": name, "version": ver,
                "artifact": {"path": f"models/{name}.pkl", "sha256": f"{m:032x}{v:032x}", "type": "file", "size": 1000 + v},
                "metrics": {"accuracy": 0.8 + v / 1000}, "time_ms": t * 1000}
        out.write(f"tag {name}@{ver}\nfrom :1\ntagger Bench <bench@example.com> {t} +0000\n")
        data(f"Registering artifact {name} version {ver}\n\nmlo-metadata:\n{json.dumps(meta, indent=2)}\n")
        t += 1
    meta = {"mlo": 1, "event": "promote", "name": name, "version": f"v1.{versions-1}.0", "forced": False, "time_ms": t * 1000}
    out.write(f"tag {name}#production#1\nfrom :1\ntagger Bench <bench@example.com> {t} +0000\n")
    data(f"Assigning stage production to artifact {name} version v1.{versions-1}.0\n\nmlo-metadata:\n{json.dumps(meta, indent=2)}\n")
    t += 1
