#include <catch2/catch.hpp>

#include "core/error.h"
#include "pipeline/pipeline.h"
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
