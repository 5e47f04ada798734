#include <catch2/catch.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "pipeline/experiments.h"
#include "pipeline/pipeline.h"
#include "pipeline/plan.h"
#include "pipeline/run_cache.h"
#include "pipeline/run.h"
#include "pipeline/runs.h"
#include "repo/repo.h"
#include "test_util.h"

using namespace mlo;
using json = nlohmann::json;

namespace {
std::string error_of(const std::string& yaml) {
  try {
    parse_pipeline(yaml, "mlo.yaml");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("mlo.yaml: stages, paths relative to wdir, params, resources") {
  Pipeline p = parse_pipeline(R"(
models: {a: 1}
stages:
  prep:
    cmd: python prep.py > out/x.csv
    deps: raw.csv
    outs: [out]
  train:
    cmd: [python, train.py, "--lr", "${params.train.lr}"]
    wdir: src
    deps: [../out, train.py]
    outs: [model.pkl]
    params: [train.lr, {other.yaml: [a.b]}]
    metrics: [m.json]
    runner: cuda
    resources: {cpus: 2, gpus: 1, memory: 4G, time: 1h30m}
    env: {A: "1"}
)",
                              "mlo.yaml");
  REQUIRE(p.stages.size() == 2);
  const StageDef& t = p.get("train");
  CHECK(t.argv.size() == 4);
  CHECK(t.deps == std::vector<std::string>{"out", "src/train.py"});
  CHECK(t.outs == std::vector<std::string>{"src/model.pkl"});
  CHECK(t.params == std::vector<std::string>{"params.yaml:train.lr", "other.yaml:a.b"});
  CHECK(t.resources.gpus == 1);
  CHECK(*t.resources.memory_bytes == 4ULL << 30);
  CHECK(*t.resources.time_limit_s == 5400);
  CHECK(t.env.at("A") == "1");
  CHECK(p.get("prep").deps == std::vector<std::string>{"raw.csv"});
  CHECK(p.upstream()["train"] == std::vector<std::string>{"prep"});
  CHECK(p.order({"train"}) == std::vector<std::string>{"prep", "train"});
  CHECK(p.downstream({"prep"}) == std::vector<std::string>{"prep", "train"});
  CHECK_THROWS_AS(p.get("nope"), InputError);
}

TEST_CASE("mlo.yaml errors name file, line and column") {
  CHECK(error_of("stages:\n  a:\n    cmd: [x\n") .find("mlo.yaml:4:") == 0);
  CHECK(error_of("stages:\n  a:\n    deps: [x]\n").find("mlo.yaml:3:5: stage 'a' has no cmd") == 0);
  CHECK(error_of("stages:\n  a:\n    cmd: x\n    resources: {time: soon}\n").find("mlo.yaml:4:23") == 0);
  CHECK(error_of("stages:\n  a:\n    cmd: x\n    outs: [/etc/passwd]\n").find("absolute path") != std::string::npos);
  CHECK(error_of("stages:\n  a:\n    cmd: x\n    outs: [.git/x]\n").find("inside .git") != std::string::npos);
  CHECK(error_of("stages:\n  a:\n    cmd: x\n    deps: [b]\n    outs: [a]\n  b:\n    cmd: y\n    deps: [a]\n    outs: [b]\n")
            .find("cycle") != std::string::npos);
  CHECK(error_of("stages:\n  a:\n    cmd: x\n    outs: [o]\n  b:\n    cmd: y\n    outs: [o/p]\n").find("overlaps") !=
        std::string::npos);
  CHECK(error_of("stages: []\n").find("mapping") != std::string::npos);
}

TEST_CASE("sizes, durations, YAML values") {
  CHECK(parse_memory("512M") == 512ULL << 20);
  CHECK(parse_memory("1.5GiB") == 3ULL << 29);
  CHECK(parse_memory("100") == 100);
  CHECK_FALSE(parse_memory("lots"));
  CHECK(parse_duration("90s") == 90);
  CHECK(parse_duration("1h30m") == 5400);
  CHECK(parse_duration("45") == 45);
  CHECK_FALSE(parse_duration("0"));
  CHECK_FALSE(parse_duration("soon"));
  CHECK(scalar_to_json("0.1") == json(0.1));
  CHECK(scalar_to_json("3") == json(3));
  CHECK(scalar_to_json("true") == json(true));
  CHECK(scalar_to_json("abc") == json("abc"));
  CHECK(flatten_json(json::parse(R"({"a":{"b":1},"c":2})")) == json::parse(R"({"a.b":1,"c":2})"));
  json doc = json::parse(R"({"s":"0.1","n":0.1,"l":[1,"x"],"e":{}})");
  CHECK(yaml_to_json(load_yaml(json_to_yaml(doc), "t")) == doc);
}

TEST_CASE("params: nested keys, other files, overrides, errors") {
  std::map<std::string, std::string> files = {{"params.yaml", "train:\n  lr: 0.1\n  layers: [1, 2]\n"},
                                              {"o.yaml", "k: v\n"}};
  FileReader read = [&](const std::string& f) -> std::optional<std::string> {
    auto it = files.find(f);
    if (it == files.end()) return std::nullopt;
    return it->second;
  };
  json v = resolve_params({"params.yaml:train.lr", "params.yaml:train.layers", "o.yaml:k"}, read,
                          {{"params.yaml:train.lr", json(0.5)}});
  CHECK(v["params.yaml:train.lr"] == 0.5);
  CHECK(v["params.yaml:train.layers"] == json::array({1, 2}));
  CHECK(v["o.yaml:k"] == "v");
  CHECK_THROWS_AS(resolve_params({"params.yaml:train.nope"}, read), InputError);
  CHECK_THROWS_AS(resolve_params({"missing.yaml:a"}, read), InputError);
  CHECK(display_param("params.yaml:train.lr") == "train.lr");
}

TEST_CASE("run records: store, prefix lookup, query, rebuild the index") {
  test::TempDir tmp;
  test::git_init(tmp / "r");
  init_repo(tmp / "r", {});
  Repo repo = Repo::open(tmp / "r");
  std::vector<json> records;
  for (int i = 0; i < 5; ++i)
    records.push_back({{"version", 1}, {"run_id", "abcd00000000000" + std::to_string(i)}, {"stage", i % 2 ? "train" : "eval"},
                       {"status", "succeeded"}, {"started_at", 100.0 + i}, {"finished_at", 101.0 + i},
                       {"metrics", {{"acc", 0.5 + i * 0.1}}}, {"params", {{"train.lr", 0.1}}}});
  store_run_records(repo, records);
  std::string h = store_run_record(repo, {{"version", 1}, {"run_id", "ffff000000000000"}, {"stage", "train"}, {"status", "failed"}});
  CHECK(run_record_hash(repo, "ffff000000000000") == h);
  CHECK(load_run(repo, "ffff")["status"] == "failed");
  CHECK_THROWS_AS(load_run(repo, "abcd"), InputError);  // ambiguous
  CHECK_THROWS_AS(resolve_run_id(repo, "ab"), UsageError);
  CHECK(list_runs(repo, {}).size() == 6);
  CHECK(list_runs(repo, {}).front()["id"] == "abcd000000000004");  // newest first (the failed one has no start time)
  RunQuery q;
  q.where = {"metrics.acc>0.75"};
  q.sort = "metrics.acc:desc";
  auto rows = list_runs(repo, q);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0]["id"] == "abcd000000000004");
  q = RunQuery{};
  q.stage = "train";
  q.where = {"status=succeeded"};
  CHECK(list_runs(repo, q).size() == 2);
  CHECK_THROWS_AS(list_runs(repo, RunQuery{"", {"nonsense"}, "", 0}), UsageError);
  CHECK(run_record_objects(repo).size() == 6);
  repo.index().exec("DELETE FROM runs");
  CHECK(list_runs(repo, {}).empty());
  rebuild_runs_index(repo);
  CHECK(list_runs(repo, {}).size() == 6);
  CHECK(import_run_records(repo, {h}) == 0);  // already known
  CHECK_THROWS_AS(store_run_record(repo, {{"stage", "x"}}), InputError);
}

TEST_CASE("run records: what push/pull move (run_objects, lock_objects, run_refs) and limits") {
  test::TempDir tmp;
  test::git_init(tmp / "r");
  init_repo(tmp / "r", {});
  Repo repo = Repo::open(tmp / "r");
  std::string log = repo.cache().add_bytes("the log\n");
  std::string out = repo.cache().add_bytes("model\n");
  json ok = {{"version", 1}, {"run_id", "abcd000000000001"}, {"stage", "train"}, {"status", "succeeded"}, {"log", log},
             {"outs", {{"model.txt", {{"sha256", out}, {"type", "file"}}}}}};
  json failed = ok;
  failed["run_id"] = "abcd000000000002";
  failed["status"] = "failed";
  CHECK(run_objects(repo, ok) == std::set<std::string>{log, out});
  CHECK(run_objects(repo, failed) == std::set<std::string>{log});  // a failed run's outputs are not shared
  std::string h = store_run_record(repo, ok);
  CHECK(run_refs(repo) == std::map<std::string, std::string>{{"abcd000000000001", h}});
  json entry = {{"record", h}, {"outs", json::array({json{{"path", "model.txt"}, {"sha256", out}}})}};
  json lock_doc = {{"version", 1}, {"stages", {{"train", entry}}}};
  std::string lock = serialize_lock(lock_doc);
  CHECK(lock_objects(repo, lock) == std::set<std::string>{h, out});
  CHECK(lock_objects(repo, "not: [a lock").empty());
  // Importing: duplicates in one batch count once; objects that are not records are skipped.
  json other = ok;
  other["run_id"] = "abcd000000000003";
  std::string h3 = repo.cache().add_bytes(other.dump() + "\n");
  CHECK(import_run_records(repo, {h3, h3, out, log}) == 1);
  CHECK(run_refs(repo).size() == 2);
}

TEST_CASE("mlo.lock round-trips") {
  json lock = {{"version", 1}, {"stages", {{"a", {{"cmd", "echo"}, {"params", {{"x", "0.1"}}}, {"outs", json::array()}}}}}};
  CHECK(parse_lock(serialize_lock(lock), "mlo.lock") == lock);
  CHECK_THROWS_AS(parse_lock("version: 2\nstages: {}\n", "mlo.lock"), InputError);
}

TEST_CASE("params: a whole section counts each key under it, and takes overrides") {
  FileReader read = [](const std::string& f) -> std::optional<std::string> {
    if (f == "params.yaml") return std::string("train:\n  C: 1.0\n  opt: {lr: 0.1}\n");
    return std::nullopt;
  };
  json v = resolve_params({"params.yaml:train"}, read, {{"params.yaml:train.C", json(0.01)}});
  CHECK(v == json{{"params.yaml:train.C", 0.01}, {"params.yaml:train.opt.lr", 0.1}});
  json added = resolve_params({"params.yaml:train"}, read, {{"params.yaml:train.new", json(3)}});
  CHECK(added["params.yaml:train.new"] == 3);
}

namespace {
StageDef plan_stage() {
  StageDef s;
  s.name = "train";
  s.shell = "python train.py";
  s.deps = {"data.csv"};
  s.outs = {"model.pkl"};
  s.metrics = {"metrics.json"};
  return s;
}
}  // namespace

TEST_CASE("plan: cache key and why a stage is stale, with no process and no file") {
  StageDef s = plan_stage();
  StageFacts facts;
  facts.deps = {{"data.csv", "aa"}};
  facts.params = {{"params.yaml:train.lr", 0.1}};
  StageKey key = stage_key(s, facts);
  CHECK(key.key.size() == 64);
  CHECK(stage_key(s, facts).key == key.key);  // deterministic
  TreeState tree{{{"model.pkl", "mm"}}, {"metrics.json"}};
  CHECK(stale_reason(s, json(), key, tree) == "never ran");
  json prev = {{"key", key.key}, {"cmd", "python train.py"}, {"deps", json::array({{{"path", "data.csv"}, {"sha256", "aa"}}})},
               {"params", {{"train.lr", 0.1}}}, {"outs", json::array({{{"path", "model.pkl"}, {"sha256", "mm"}}})}};
  CHECK(stale_reason(s, prev, key, tree) == "");
  TreeState changed = tree;
  changed.outs["model.pkl"] = "other";
  CHECK(stale_reason(s, prev, key, changed) == "output model.pkl was changed");
  CHECK(stale_reason(s, prev, key, TreeState{{}, {"metrics.json"}}) == "output model.pkl is missing");
  CHECK(stale_reason(s, prev, key, TreeState{tree.outs, {}}) == "metrics file metrics.json is missing");
  StageFacts newer = facts;
  newer.deps["data.csv"] = "bb";
  newer.params["params.yaml:train.lr"] = 0.2;
  CHECK(stale_reason(s, prev, stage_key(s, newer), tree) == "dep data.csv changed, param train.lr changed (0.1 -> 0.2)");
}

TEST_CASE("plan: an mlo.lock of flat folder manifests (mlo 0.2) still matches an unchanged stage") {
  StageDef s = plan_stage();
  StageFacts facts;
  facts.deps = {{"data.csv", "aa"}};
  CHECK_FALSE(flat_manifest_key(s, facts));  // no folder dep: one key
  facts.deps["feats"] = "tree-hash";
  facts.flat_deps["feats"] = "flat-hash";
  std::optional<StageKey> old_key = flat_manifest_key(s, facts);
  REQUIRE(old_key);
  StageFacts as_before = facts;
  as_before.deps["feats"] = "flat-hash";
  CHECK(old_key->key == stage_key(s, as_before).key);
  CHECK(old_key->key != stage_key(s, facts).key);
  // Its folder output recorded by its flat hash: the same content, not a change.
  json prev = {{"key", old_key->key}, {"outs", json::array({{{"path", "model.pkl"}, {"sha256", "flat-out"}}})}};
  TreeState tree{{{"model.pkl", "tree-out"}}, {"metrics.json"}, {{"model.pkl", "flat-out"}}};
  CHECK(stale_reason(s, prev, *old_key, tree) == "");
  tree.flat_outs["model.pkl"] = "other";
  CHECK(stale_reason(s, prev, *old_key, tree) == "output model.pkl was changed");
}

TEST_CASE("plan: sweep axes and points") {
  auto a = parse_axis("train.lr=0.1,0.01", 0);
  auto b = parse_axis("other.yaml:k=choice(x,y)", 0);
  CHECK(a.ref == "params.yaml:train.lr");
  auto points = sweep_points({a, b}, 0, 0);
  CHECK(points.size() == 4);
  CHECK(sweep_points({a, b}, 3, 7).size() == 3);
  CHECK(sweep_points({a, b}, 3, 7) == sweep_points({a, b}, 3, 7));  // seeded
  CHECK_THROWS_AS(parse_axis("lr=uniform(0,1)", 0), UsageError);
  CHECK_THROWS_AS(parse_axis("noequals", 0), UsageError);
}

TEST_CASE("mlo.lock: written only when its bytes change") {
  test::TempDir tmp;
  Pipeline p;
  p.stages.push_back(plan_stage());
  LockFile lock = LockFile::load(tmp.path());
  CHECK(lock.entry("train").is_null());
  CHECK_FALSE(lock.write(tmp.path(), p));  // nothing set
  json record = {{"run_id", "abcd000000000001"}, {"outs", {{"model.pkl", {{"sha256", "mm"}, {"type", "file"}}}}}};
  lock.set(p.stages[0], "k", {{"data.csv", "aa"}}, json::object(), record);
  CHECK(lock.write(tmp.path(), p));
  LockFile again = LockFile::load(tmp.path());
  CHECK(again.entry("train")["outs"][0]["path"] == "model.pkl");
  again.set(p.stages[0], "k", {{"data.csv", "aa"}}, json::object(), record);
  CHECK_FALSE(again.write(tmp.path(), p));  // the same entry: the same bytes
  // A damaged entry (hand-edited, badly merged) reads as "never ran", not a crash.
  test::write(tmp / "mlo.lock", "version: 1\nstages:\n  train: {key: 1, outs: [3]}\n");
  CHECK(LockFile::load(tmp.path()).entry("train").is_null());
}

TEST_CASE("run records naming paths outside the repository are refused, never used") {
  test::TempDir tmp;
  test::git_init(tmp / "r");
  init_repo(tmp / "r", {});
  Repo repo = Repo::open(tmp / "r");
  std::string out = repo.cache().add_bytes("model\n");
  json good = {{"version", 1}, {"run_id", "abcd000000000001"}, {"stage", "train"}, {"status", "succeeded"},
               {"cache_key", "k1"}, {"started_at", 1.0}, {"metric_files", json::object()},
               {"outs", {{"model.txt", {{"sha256", out}, {"type", "file"}}}}}};
  for (const std::string& bad : std::vector<std::string>{"../../x", "/etc/x", "a/../../x", "a//b", std::string("a\0b", 3)}) {
    json r = good;
    r["outs"] = {{bad, {{"sha256", out}, {"type", "file"}}}};
    CHECK_THROWS_AS(store_run_record(repo, r), InputError);
    json m = good;
    m["metric_files"] = {{bad, {{"sha256", out}}}};
    CHECK_THROWS_AS(store_run_record(repo, m), InputError);
  }
  // Imported from a remote: the hostile one is skipped, the good one kept.
  json hostile = good;
  hostile["run_id"] = "abcd000000000002";
  hostile["outs"] = {{"../outside.txt", {{"sha256", out}, {"type", "file"}}}};
  std::string h_bad = repo.cache().add_bytes(hostile.dump() + "\n");
  std::string h_good = repo.cache().add_bytes(good.dump() + "\n");
  CHECK(import_run_records(repo, {h_bad, h_good}) == 1);
  CHECK_FALSE(run_record_hash(repo, "abcd000000000002"));
  CHECK(find_run_by_key(repo, "k1"));
}

TEST_CASE("run cache: restore writes beneath the root only, replacing a symlink at an output") {
  test::TempDir tmp;
  test::git_init(tmp / "r");
  init_repo(tmp / "r", {});
  Repo repo = Repo::open(tmp / "r");
  std::string out = repo.cache().add_bytes("model\n");
  std::string metrics = repo.cache().add_bytes("{\"acc\": 1}\n");
  test::write(tmp / "outside.txt", "keep\n");
  fs::create_symlink(tmp / "outside.txt", tmp / "r" / "model.txt");
  fs::create_directories(tmp / "r" / ".mlo" / "tmp");
  RunCache cache(repo, tmp / "r" / ".mlo" / "tmp");
  json record = {{"run_id", "abcd000000000001"},
                 {"outs", {{"model.txt", {{"sha256", out}, {"type", "file"}}}}},
                 {"metric_files", {{"m/metrics.json", {{"sha256", metrics}}}}}};
  cache.restore(tmp / "r", record);
  CHECK(read_file(tmp / "outside.txt") == "keep\n");
  CHECK_FALSE(fs::is_symlink(tmp / "r" / "model.txt"));
  CHECK(read_file(tmp / "r" / "model.txt") == "model\n");
  CHECK(read_file(tmp / "r" / "m" / "metrics.json") == "{\"acc\": 1}\n");
  // A symlinked folder on the way is refused, not followed.
  fs::create_directories(tmp / "elsewhere");
  fs::create_directory_symlink(tmp / "elsewhere", tmp / "r" / "d");
  json through = {{"run_id", "abcd000000000002"}, {"outs", {{"d/model.txt", {{"sha256", out}, {"type", "file"}}}}}};
  CHECK_THROWS_AS(cache.restore(tmp / "r", through), InputError);
  CHECK_FALSE(fs::exists(tmp / "elsewhere" / "model.txt"));
  json outside = {{"run_id", "abcd000000000003"}, {"outs", {{"../x.txt", {{"sha256", out}, {"type", "file"}}}}}};
  CHECK_THROWS_AS(cache.restore(tmp / "r", outside), InputError);
  CHECK_FALSE(fs::exists(tmp / "x.txt"));
}

TEST_CASE("exp apply: set_yaml_param edits the value's line, keeps comments and order, else re-emits") {
  const std::string text = "# top\ntrain:\n  lr: 0.1   # learning rate\n  depth: 3\neval:\n  lr: 9\n";
  // The nested key, not the same name under another section.
  CHECK(set_yaml_param(text, "train.lr", 0.01, "params.yaml") ==
        "# top\ntrain:\n  lr: 0.01   # learning rate\n  depth: 3\neval:\n  lr: 9\n");
  CHECK(set_yaml_param(text, "eval.lr", 1, "params.yaml") ==
        "# top\ntrain:\n  lr: 0.1   # learning rate\n  depth: 3\neval:\n  lr: 1\n");
  // A string that would read back as a number is quoted; a plain one is not.
  CHECK(set_yaml_param("a: x\n", "a", "0.5", "p.yaml") == "a: \"0.5\"\n");
  CHECK(set_yaml_param("a: x\n", "a", "adam", "p.yaml") == "a: adam\n");
  // Flow style and missing keys: re-emitted, order kept, value read back right.
  std::string flow = set_yaml_param("train: {depth: 3, lr: 0.5}\n", "train.lr", 0.2, "p.yaml");
  YAML::Node n = YAML::Load(flow);
  CHECK(n["train"]["lr"].as<double>() == 0.2);
  CHECK(n["train"].begin()->first.as<std::string>() == "depth");
  std::string added = set_yaml_param("train:\n  depth: 3\n", "train.opt.name", "sgd", "p.yaml");
  CHECK(YAML::Load(added)["train"]["opt"]["name"].as<std::string>() == "sgd");
  CHECK(YAML::Load(added)["train"]["depth"].as<int>() == 3);
  CHECK_THROWS_AS(set_yaml_param("train: 5\n", "train.lr", 1, "p.yaml"), InputError);
}

TEST_CASE("exp apply: a params file that is not a mapping is an input error, never a crash") {
  CHECK_THROWS_AS(set_yaml_param("- a\n- b\n", "train.lr", 1, "p.yaml"), InputError);
  CHECK_THROWS_AS(set_yaml_param("just text\n", "lr", 1, "p.yaml"), InputError);
  CHECK_THROWS_AS(set_yaml_param("a: [1\n", "a", 1, "p.yaml"), InputError);
  std::string long_line = "lr: 0.1  # " + std::string(100000, 'x') + "\n";
  CHECK(YAML::Load(set_yaml_param(long_line, "lr", 0.2, "p.yaml"))["lr"].as<double>() == 0.2);
}

TEST_CASE("experiments: runs grouped by experiment id; a hostile id is not used; sweep points' params indexed") {
  test::TempDir tmp;
  test::git_init(tmp / "r");
  init_repo(tmp / "r", {});
  Repo repo = Repo::open(tmp / "r");
  auto rec = [](const std::string& id, const std::string& stage, double t, const json& extra) {
    json r = {{"version", 1}, {"run_id", id}, {"stage", stage}, {"status", "succeeded"}, {"started_at", t}};
    r.update(extra);
    return r;
  };
  store_run_records(repo, {rec("a000000000000001", "train", 1, {{"experiment", "a000000000000000"}, {"params", {{"lr", 1}}}}),
                           rec("a000000000000002", "eval", 2, {{"experiment", "a000000000000000"}, {"metrics", {{"auc", 0.5}}}}),
                           rec("b000000000000001", "eval", 3, {{"experiment", "bad id\x1b[31m"}, {"sweep", "s1"},
                                                               {"point", {{"lr", 2}}}, {"params", {{"k", 3}}}})});
  auto exps = list_experiments(repo, {});
  REQUIRE(exps.size() == 2);
  CHECK(exps[0].id == "b000000000000001");  // its own experiment, newest first
  CHECK(exps[0].params == json{{"k", 3}, {"lr", 2}});
  CHECK(exps[1].id == "a000000000000000");
  CHECK(exps[1].stages == std::vector<std::string>{"train", "eval"});
  CHECK(exps[1].params == json{{"lr", 1}});
  CHECK(exps[1].metrics == json{{"auc", 0.5}});
  ExperimentQuery q;
  q.sort = "lr";
  q.ascending = true;
  CHECK(list_experiments(repo, q).front().id == "a000000000000000");
  q.sort = "params.lr";
  q.ascending = false;
  CHECK(list_experiments(repo, q).front().id == "b000000000000001");
  q.sort = "nope";
  CHECK_THROWS_AS(list_experiments(repo, q), UsageError);
}

namespace {
// Every field parse_stage fills, as text.
std::string describe(const Pipeline& p) {
  std::string out;
  auto list = [](const std::vector<std::string>& v) {
    std::string s = "[";
    for (const auto& x : v) s += x + ",";
    return s + "]";
  };
  for (const auto& s : p.stages) {
    out += s.name + " @" + s.where + " argv" + list(s.argv) + " sh{" + s.shell + "} wdir=" + s.wdir + " deps" +
           list(s.deps) + " outs" + list(s.outs) + " metrics" + list(s.metrics) + " params" + list(s.params) +
           " runner=" + s.runner + " validate=" + std::to_string(s.validate) + " env" + list(s.environment) +
           " image=" + s.image + " pin=" + std::to_string(s.pin_digest) +
           " cpus=" + std::to_string(s.resources.cpus.value_or(-1)) + " gpus=" + std::to_string(s.resources.gpus) +
           " mem=" + std::to_string(s.resources.memory_bytes.value_or(0)) +
           " time=" + std::to_string(s.resources.time_limit_s.value_or(-1));
    for (const auto& [k, v] : s.env) out += " " + k + "=" + v;
    out += "\n";
  }
  return out;
}
}  // namespace

TEST_CASE("mlo.yaml read whole before is read again without yaml-cpp, to the same stages and locations") {
  test::TempDir tmp;
  std::filesystem::create_directories(tmp / ".mlo" / "tmp");
  const std::filesystem::path memo = tmp / ".mlo" / "tmp" / "schema-checks";
  test::write(tmp / "mlo.yaml", R"(# a pipeline
stages:
  prepare:
    cmd: python prep.py --rows 100
    deps: [data/raw.csv, prep.py]
    outs: [data/clean.csv]
  train:   # the model
      wdir: src
      cmd:
        - python
        - train.py
      deps:
        - ../data/clean.csv
      params:
        - train.lr
        - 'cfg.yaml:model.depth'
      outs:
        - ../model.bin
      metrics: [../metrics.json]
      resources:
        cpus: 2
        memory: 1G
        time: 1h
      env:
        SEED: "42"
        MODE: fast
  report:
    cmd: "cat metrics.json > report.txt"
    deps:
    - metrics.json
    outs: [report.txt]
    validate: false
)");
  REQUIRE(read_block_yaml_node(read_file_if_exists(tmp / "mlo.yaml").value()).has_value());  // in the subset
  Pipeline first = load_pipeline(tmp.path());  // yaml-cpp; schema and whole read remembered
  CHECK(read_file_if_exists(memo).value_or("").size() == 2 * 65);
  Pipeline second = load_pipeline(tmp.path());  // the block reader
  CHECK(read_file_if_exists(memo).value_or("").size() == 2 * 65);
  CHECK(describe(second) == describe(first));
  REQUIRE(first.stages.size() == 3);
  CHECK(first.stages[0].where == "mlo.yaml:4:5");
  CHECK(first.stages[1].where == "mlo.yaml:8:7");
  CHECK(first.stages[2].where == "mlo.yaml:28:5");
  CHECK(second.stages[1].deps == std::vector<std::string>{"data/clean.csv"});

  // A text that fails after its schema check (a cycle) keeps failing with its
  // location and is never remembered as read whole.
  test::write(tmp / "mlo.yaml", "stages:\n  a:\n    cmd: x\n    deps: [b]\n    outs: [a]\n"
                                "  b:\n    cmd: y\n    deps: [a]\n    outs: [b]\n");
  for (int i = 0; i < 2; ++i) CHECK_THROWS_WITH(load_pipeline(tmp.path()), Catch::Contains("cycle"));
  CHECK(read_file_if_exists(memo).value_or("").size() == 3 * 65);  // the schema pass only
  test::write(tmp / "mlo.yaml", "stages:\n  a:\n    cmd: x\n    outs: [../out]\n");
  for (int i = 0; i < 2; ++i) CHECK_THROWS_WITH(load_pipeline(tmp.path()), Catch::Contains("mlo.yaml:4:"));
}
