#!/usr/bin/env bash
# The runs index's value table (run_values) and keyset pages (issue 16):
# `mlo runs ls --sort/--where` on params and metrics of every JSON type give
# the order and rows SQLite's rules give (numbers before text, missing last,
# ties by id), computed here independently in Python; an index written by
# the previous schema is upgraded in place (values filled, lineage edges
# filled); the ui's runs table walked page by page through its next and
# previous links (cursors) shows every run once in that order, across the
# runs that lack the key; hostile cursors are 400; the experiments page; and
# pages answered at once on several connections.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ui.sh"
new_repo idx

# 130 runs: metric m of mixed types (ties among floats and ints, text,
# booleans, an object) and missing in 40; param p an int or missing.
/usr/bin/python3 - >runs.jsonl <<'PY'
import json, random
random.seed(3)
for i in range(130):
    r = {"run_id": f"{i:016x}", "stage": "train" if i % 3 else "eval", "status": "succeeded",
         "started_at": 1.7e9 + i * 10, "finished_at": 1.7e9 + i * 10 + 5, "params": {}, "metrics": {}}
    kind = i % 13
    if kind < 4: r["metrics"]["m"] = random.choice([0.25, 0.5, 0.75, 1.5])
    elif kind < 6: r["metrics"]["m"] = random.choice([0, 1, 2])
    elif kind < 8: r["metrics"]["m"] = random.choice(["abc", "b", "0.9"])
    elif kind == 8: r["metrics"]["m"] = random.choice([True, False])
    elif kind == 9: r["metrics"]["m"] = {"a": 1}
    elif kind == 10: r["metrics"]["m"] = None
    if i % 4: r["params"]["p"] = i % 7
    if 100 <= i < 120: r["experiment"] = f"sweep-{i % 4}"  # four experiments, their runs interleaved
    print(json.dumps(r))
PY
expect_ok runs import runs.jsonl

# SQLite's order, written out: NULL/missing last; numbers (bools as 1/0) by
# value; then text (objects as their JSON text) by bytes; ties by id in the
# direction of the sort; the runs lacking the key by id, same direction.
cat >order.py <<'PY'
import json, sys

def key(v):
    if isinstance(v, bool): return (0, int(v), "")
    if isinstance(v, (int, float)): return (0, v, "")
    if isinstance(v, str): return (1, 0, v.encode())
    return (1, 0, json.dumps(v, separators=(",", ":")).encode())

def expected(runs, group, name, desc, where=None):
    have = [r for r in runs if r[group].get(name) is not None and (where is None or where(r))]
    lack = [r for r in runs if r[group].get(name) is None and (where is None or where(r))]
    have.sort(key=lambda r: (key(r[group][name]), r["run_id"]), reverse=desc)
    lack.sort(key=lambda r: r["run_id"], reverse=desc)
    return [r["run_id"] for r in have + lack]

runs = [json.loads(l) for l in open("runs.jsonl")]
PY
check_order() {  # SORT DESC(True/False) WHERE-PY [ARGS for runs ls...]
  local sort=$1 desc=$2 where=$3; shift 3
  expect_ok --json runs ls -n 0 --sort "$sort" "$@"
  printf '%s' "$OUT" >got.json
  /usr/bin/python3 - "$sort" "$desc" "$where" <<'PY' || fail "runs ls --sort $sort $* differs from SQLite's order"
import json, sys
exec(open("order.py").read())
sort, desc, where = sys.argv[1], sys.argv[2] == "True", sys.argv[3]
group, name = sort.split(":")[0].split(".", 1)
got = [r["id"] for r in json.load(open("got.json"))]
want = expected(runs, group, name, desc, eval(where) if where else None)
assert got == want, next((i, got[i:i+4], want[i:i+4]) for i in range(max(len(got), len(want))) if got[i:i+1] != want[i:i+1])
PY
  pass
}
check_order metrics.m:desc True ""
check_order metrics.m:asc False ""
check_order params.p:desc True ""
# As SQLite compares: text (and an object's JSON text) is greater than any number, true is 1.
check_order metrics.m:desc True "lambda r: r['metrics'].get('m') is not None and key(r['metrics']['m']) > (0, 0.5, '')" --where 'metrics.m>0.5'
check_order metrics.m:asc False "lambda r: r['params'].get('p') == 3 and r['stage'] == 'train'" --where params.p=3 --stage train
check_order metrics.m:desc True "lambda r: isinstance(r['metrics'].get('m'), str) and 'b' in r['metrics']['m']" --where 'metrics.m~b'

# An index from the previous schema (no run_values, no run_edges): the next
# command upgrades it in place and answers the same.
expect_ok --json runs ls --sort metrics.m:desc --where 'metrics.m<2'
before=$OUT
# The experiment rows the import wrote from its runs in memory (the sweeps'
# five runs merged), to compare with those the upgrade rewrites from the index.
dump_experiment_rows() {
  /usr/bin/python3 -c "
import sqlite3; db = sqlite3.connect('.mlo/index.db')
for t, k in (('experiments', 'key'), ('experiment_values', 'experiment, kind, name')):
    for r in db.execute(f'SELECT * FROM {t} ORDER BY {k}'): print(t, repr(r))" >"$1" || fail "reading the experiment rows"
}
dump_experiment_rows rows.imported
/usr/bin/python3 - <<'PY' || fail "downgrading the index"
import sqlite3
db = sqlite3.connect(".mlo/index.db")
db.executescript("DROP TABLE run_values; DROP TABLE run_edges; DROP TABLE runs_backfill; DROP INDEX runs_started_id; DROP INDEX runs_experiment;"
                 "DROP TABLE experiments; DROP TABLE experiment_values;"
                 "UPDATE mlo_schema SET version = 2 WHERE module = 'runs';")
db.commit()
PY
expect_ok --json runs ls --sort metrics.m:desc --where 'metrics.m<2'
expect_eq "$OUT" "$before" "runs ls after the upgrade"
dump_experiment_rows rows.upgraded
[ "$(wc -l <rows.imported)" -gt 114 ] && cmp -s rows.imported rows.upgraded ||
  fail "experiment rows written by the import differ from those rebuilt from the index: $(diff rows.imported rows.upgraded | head -5)"
pass
n=$(/usr/bin/python3 -c "import sqlite3; print(sqlite3.connect('.mlo/index.db').execute('select count(*) from run_values').fetchone()[0])")
expect_eq "$n" "$(/usr/bin/python3 -c "
import json; print(sum(1 for l in open('runs.jsonl') for g in ('params', 'metrics') for v in json.loads(l)[g].values() if v is not None))")" "run_values rows after the upgrade"

# The ui's runs table, page by page along its links, sorted by m (ties,
# text and the runs that lack m), 25 a page: every run once, in order; and
# back again along the previous links.
start_ui
# Shared by the page walks below: GET a page, read a link's address.
cat >web.py <<'PY'
import html, re, sys, urllib.request
base = sys.argv[1]
def get(path):
    with urllib.request.urlopen(base + path) as r:
        return r.read().decode()
def link(page, name):
    m = re.search(r"id='%s' href='([^']*)'" % name, page)
    return html.unescape(m.group(1)) if m else None
PY
/usr/bin/python3 - "${UI_URL%/}" <<'PY' || fail "walking the runs table's pages"
import json
exec(open("order.py").read())
exec(open("web.py").read())
def ids(page): return re.findall(r"name='run' value='([0-9a-f]+)'", page)
want = expected(runs, "metrics", "m", True)
path, pages, seen = "/?sort=metrics.m%3Adesc&n=25", [], []
while path:
    page = get(path)
    pages.append((path, ids(page)))
    seen += ids(page)
    assert f"Page {len(pages)} " in page, f"page number on {path}"
    path = link(page, "next")
    assert path is None or "after=" in path, f"the next link carries no cursor: {path}"
assert seen == want, f"pages give {len(seen)} runs: {seen[:8]}..., want {want[:8]}..."
assert len(pages) == 6, len(pages)
# Back from the last page: each previous page as it was.
path = pages[-1][0]
for i in range(len(pages) - 1, 0, -1):
    path = link(get(path), "prev")
    assert "before=" in path, f"the previous link carries no cursor: {path}"
    page = get(path)
    assert ids(page) == pages[i - 1][1], f"previous of page {i + 1}"
    assert f"Page {i} " in page
assert link(page, "prev") is None, "a previous link on the first page"
print("walked", len(pages), "pages")
PY
pass

# get PATH : sets STATUS and BODY.
get() {
  BODY=$(curl -s -o - -w '\n%{http_code}' "${UI_URL%/}$1") || fail "curl $1 failed"
  STATUS=${BODY##*$'\n'}; BODY=${BODY%$'\n'*}
}
# check_cursor PATH [1] : a hostile cursor answers 400 with a message, never
# 500; with 1, 200 (a cursor that is only a place in the order).
check_cursor() {
  get "$1"
  if [ "${2:-}" = 1 ]; then
    [ "$STATUS" = 200 ] || fail "${1:0:80} answered $STATUS"
  else
    [ "$STATUS" = 400 ] || fail "${1:0:80} answered $STATUS"
    [[ "$BODY" == *"bad page cursor"* ]] || fail "no message for ${1:0:80}"
  fi
  pass
}
# Hostile cursors: bounded and validated, 400 with a message, never 500.
long=$(printf 'x%.0s' $(seq 1 1200))
for c in "$long" "r0000000000000001:nan" "r0000000000000001:1e999" "i0000000000000001:99999999999999999999" \
         "q0000000000000001:1" "t..%2F..%2Fx:1" "n0000000000000001:5" "t00000000:%27%20OR%201%3D1--" "x"; do
  # a text key is any text: just a place in the order
  check_cursor "/?sort=metrics.m:desc&after=$c" "$([[ "$c" == "t00000000:"* ]] && echo 1)"
done
# A "kID:" cursor (a text key too long to carry) names a run in the index.
check_cursor "/?sort=metrics.m:desc&after=kffffffffffff0001:"
check_cursor "/?sort=metrics.m:desc&after=k0000000000000001:x"
check_cursor "/?sort=metrics.m:desc&after=k0000000000000001:" 1
get "/?before=n0000000000000001:"
status=$STATUS; expect_eq "$status" 200 "a null-segment cursor on a sort that has none"

# The experiments view: a page reads only its experiments' runs, and shows
# what `mlo exp show` shows (imported runs are experiments of their own, and
# four share experiment ids with their runs interleaved in time).
expect_ok --json exp show
printf '%s' "$OUT" >exps.json
/usr/bin/python3 - "${UI_URL%/}" <<'PY' || fail "the experiments pages differ from mlo exp show"
import json, re, sys, urllib.request
want = [e["id"] for e in json.load(open("exps.json"))]
got = []
for page in (1, 2, 3):
    with urllib.request.urlopen(f"{sys.argv[1]}/experiments?n=40&page={page}") as r:
        got += re.findall(r"name='run' value='[^']*'></td><td><code>([^<]*)</code></td>", r.read().decode())
assert len(want) == 114 and got == want[:120], (len(want), len(got), next((i, got[i], want[i]) for i in range(len(got)) if got[i] != want[i]))
PY
pass
# Sorted by a value, the pages come from the index's per-experiment values
# (filled by the upgrade above, then kept as runs are added): the rows and
# order of `mlo exp show --sort` (which groups every run), across value types,
# ties, a later run's null hiding an earlier value, and the rows lacking it.
# Walked along the next links (keyset cursors), back along the previous
# links (each page as it was), and by the old page=N links (offsets).
check_sorted_experiments() {  # SORT ASC(0/1) WHAT
  local flags=()
  [ -n "$1" ] && flags+=(--sort "$1")
  [ "$2" = 1 ] && flags+=(--asc)
  expect_ok --json exp show "${flags[@]}"
  printf '%s' "$OUT" >exps.json
  /usr/bin/python3 - "${UI_URL%/}" "$1" "$2" <<'PY' || fail "experiments sorted by '$1' (asc=$2, $3) differ from mlo exp show"
import json, urllib.parse
exec(open("web.py").read())
sort, asc = sys.argv[2:4]
want = [e["id"] for e in json.load(open("exps.json"))]
def ids(body): return re.findall(r"name='run' value='[^']*'></td><td><code>([^<]*)</code></td>", body)
def diff(got): return (len(want), len(got), next(((i, got[i:i+3], want[i:i+3]) for i in range(len(got)) if got[i:i+1] != want[i:i+1]), None))
order = (f"sort={urllib.parse.quote(sort)}&asc={asc}&" if sort else "")
path, pages = f"/experiments?{order}n=17", []
while path:
    body = get(path)
    pages.append((path, ids(body)))
    assert f"Page {len(pages)} " in body, f"page number on {path}"
    path = link(body, "next")
    assert path is None or ("after=" in path and "n=17" in path), f"the next link: {path}"
    long_cursors = globals().get("long_cursors", 0) + (path is not None and "after=k" in path)
got = [i for _, p in pages for i in p]
open("long_cursors.txt", "w").write(str(globals().get("long_cursors", 0)))
assert got == want, diff(got)
path = pages[-1][0]
for i in range(len(pages) - 1, 0, -1):
    path = link(get(path), "prev")
    assert path and "before=" in path, f"the previous link of page {i + 1}: {path}"
    body = get(path)
    assert ids(body) == pages[i - 1][1], f"previous of page {i + 1}: {ids(body)[:3]} {pages[i - 1][1][:3]}"
    assert f"Page {i} " in body
assert link(body, "prev") is None, "a previous link on the first page"
got = []
for page in range(1, len(pages) + 1):
    got += ids(get(f"/experiments?{order}n=17&page={page}"))
assert got == want, ("page=N", diff(got))
print(f"{len(want)} experiments in {len(pages)} pages")
PY
  pass
}
check_sorted_experiments metrics.m 0 "the upgraded index"
check_sorted_experiments metrics.m 1 "the upgraded index"
check_sorted_experiments p 1 "a bare param name"
check_sorted_experiments p 0 "a bare param name"
check_sorted_experiments "" 0 "newest first"
# Runs added to two experiments: sweep-1's newest run sets m (its value
# changes), sweep-2's sets m to null (it moves to the rows lacking m).
# And 20 runs whose m is a text too long for a cursor to carry: their rows'
# links name the experiment instead.
/usr/bin/python3 - >more.jsonl <<'PY'
import json
for i, (exp, m) in enumerate([("sweep-1", 0.6), ("sweep-2", None)]):
    print(json.dumps({"run_id": f"{200 + i:016x}", "stage": "eval", "status": "failed", "experiment": exp,
                      "started_at": 1.7e9 + 5000 + i, "finished_at": 1.7e9 + 5001 + i, "params": {"p": 9}, "metrics": {"m": m}}))
for i in range(20):
    print(json.dumps({"run_id": f"{300 + i:016x}", "stage": "eval", "status": "succeeded", "started_at": 1.7e9 + 6000 + i,
                      "finished_at": 1.7e9 + 6001 + i, "params": {}, "metrics": {"m": "z" * 1500 + str(i % 7)}}))
PY
expect_ok runs import more.jsonl
# The runs table sorted by m, past those long texts: their rows' links name
# the run (kID:), and the pages show every run once, in order, both ways.
/usr/bin/python3 - "${UI_URL%/}" <<'PY' || fail "walking the runs table past text keys too long for a cursor"
exec(open("order.py").read())
exec(open("web.py").read())
runs += [json.loads(l) for l in open("more.jsonl")]
def ids(page): return re.findall(r"name='run' value='([0-9a-f]+)'", page)
long_links = 0
for sort, desc in (("desc", True), ("asc", False)):
    want = expected(runs, "metrics", "m", desc)
    path, pages, seen = f"/?sort=metrics.m%3A{sort}&n=7", [], []
    while path:
        page = get(path)
        pages.append((path, ids(page)))
        seen += ids(page)
        path = link(page, "next")
        long_links += path is not None and "after=k" in path
    assert seen == want, (sort, len(seen), len(want), next(((i, seen[i:i+3], want[i:i+3]) for i in range(len(seen)) if seen[i:i+1] != want[i:i+1]), None))
    path = pages[-1][0]
    for i in range(len(pages) - 1, 0, -1):
        path = link(get(path), "prev")
        long_links += "before=k" in path
        assert ids(get(path)) == pages[i - 1][1], f"previous of page {i + 1} ({sort})"
assert long_links > 0, "no link named a run (kID:)"
print(long_links, "links named a run")
PY
pass
check_sorted_experiments metrics.m 0 "after runs were added"
check_sorted_experiments params.p 0 "after runs were added"
check_sorted_experiments metrics.m 1 "after runs were added"
[ "$(cat long_cursors.txt)" -gt 0 ] || fail "no next link named an experiment (kKEY:)"; pass
expect_ok --json exp show --sort metrics.m
expect_json "[e['metrics']['m'] for e in d if e['id'] == 'sweep-1'] == [0.6] and [e['metrics']['m'] for e in d if e['id'] == 'sweep-2'] == [None]"
get "/experiments?sort=metrics.m"
expect_eq "$STATUS" 200 "/experiments"
[[ "$BODY" == *"data-field='metrics.m'"* && "$BODY" == *"id='next'"* ]] || fail "experiments page: $BODY"; pass
get "/experiments?sort=metrics.nope"
expect_eq "$STATUS" 400 "an unknown sort key"
# Hostile experiment cursors: bounded and validated, 400 with a message.
long=$(printf 'x%.0s' $(seq 1 1200))
for c in "$long" "x" "q0000000000000001:1:1" "n0000000000000001:1:abc" "n0000000000000001:inf:1" "n0000000000000001:1:nan" \
         "n..%2F..%2Fx:1:1" "m0000000000000001:1:5" "t00000000:1:%27%20OR%201%3D1--" "k:" "kBAD:" "knosuchexperiment:" \
         "k0000000000000001"; do
  for sort in "sort=metrics.m&" ""; do
    check_cursor "/experiments?${sort}after=$c" "$([[ "$c" == "t00000000:"* && -n "$sort" ]] && echo 1)"
  done
done
get "/experiments?after=n0000000000000001:1:1"
[[ "$BODY" == *"segment &#39;n&#39; is not in this order"* || "$BODY" == *"segment 'n' is not in this order"* ]] || fail "a value cursor on the newest-first table: ${BODY:0:300}"; pass

# Several connections at once: every page answers (one repo handle each).
pids=()
for p in / /experiments /models /audit /lineage /plots /monitors "/?sort=params.p:asc" /deployments /runs; do
  curl -s -o /dev/null -w '%{http_code}\n' "${UI_URL%/}$p" >>codes.txt &
  pids+=($!)
done
wait "${pids[@]}"
expect_eq "$(sort -u codes.txt | tr -d '\n')" "200" "status of 10 pages asked at once"
done_testing
