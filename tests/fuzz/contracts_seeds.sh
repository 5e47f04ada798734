#!/usr/bin/env bash
# contracts_seeds.sh DIR : writes the seed corpus of the `contracts` fuzz
# target into DIR: every mlo.yaml with a checks: section that the CLI tests
# write (their here-documents), and edge cases of the parser and the
# expression language. ctest runs it (fuzz.contracts_seeds) and replays what
# it wrote, so a seed taken from a test that changed is never stale;
# corpus/contracts/ holds the copy that was fuzzed.
set -euo pipefail
out=${1:?usage: contracts_seeds.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
/usr/bin/python3 - "$here/../cli" "$out" <<'PY'
import glob, os, re, sys
cli, out = sys.argv[1], sys.argv[2]
n = 0
for path in sorted(glob.glob(os.path.join(cli, "*.sh"))):
    text = open(path, encoding="utf-8", errors="replace").read()
    for m in re.finditer(r"<<-?'?(\w+)'?\n(.*?)\n\1\n", text, re.S):
        body = m.group(2)
        if "checks:" not in body or len(body) > 4096:
            continue
        n += 1
        name = "%s_%d" % (os.path.basename(path)[:-3], n)
        open(os.path.join(out, name), "w").write(body + "\n")
edge = {
    "expr_deep": "checks:\n  d.csv:\n    expect: ['" + "(" * 300 + "a" + ")" * 300 + " > 1']\n",
    "expr_ops": "checks:\n  d.csv:\n    expect:\n      - a + b * -x / 2 % 3 >= 1 and not (city in ['paris', \"ly'on\"]) or `a b` is not null\n      - {name: n, rule: 'income is null or income not in [1, 2.5e3, nan]'}\n",
    "expr_bad": "checks:\n  d.csv:\n    expect: ['a >= ', '(a', 'a in [', \"city == 'x\", 'a <> 1', '1 / 0 > a']\n",
    "columns_all": "checks:\n  d.csv:\n    columns:\n      id: {type: integer, unique: true, nullable: false}\n      a: {type: number, min: -1, max: 1e308, max_missing: 0.5}\n      city: {in: [paris, lyon], regex: '[a-z]+'}\n      signup: {type: timestamp, min: 0}\n      label: {type: boolean}\n    primary_key: [id, city]\n    extra_columns: false\n    rows: {min: 1, max: 10, max_drop: 0.1, previous: HEAD~1}\n    freshness: {column: signup, max_age: 1d}\n",
    "bad_kinds": "checks:\n  d.csv:\n    columns:\n      a: {type: decimal, min: x, regex: '(['}\n    primary_key: 3\n    rows: {min: -1}\n    freshness: {column: a, max_age: soon}\n    unknown_check: 1\n",
    "missing_column": "checks:\n  d.csv:\n    primary_key: nope\n    expect: ['nope > 1']\n",
    "not_a_map": "checks: [a, b]\n",
}
for k, v in edge.items():
    open(os.path.join(out, k), "w").write(v)
print("%d seeds from the CLI tests, %d edge cases" % (n, len(edge)))
PY
