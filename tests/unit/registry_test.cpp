// Registry: GTO tag names and naming rules, semver, messages, event replay.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "core/format.h"
#include "core/fs.h"
#include "repo/config.h"
#include "registry/model_ref.h"
#include "registry/names.h"
#include "registry/registry.h"
#include "repo/yaml_schema.h"

using namespace mlo;
using namespace mlo::registry;

TEST_CASE("GTO name rules", "[registry_test]") {
  CHECK(is_valid_name("churn"));
  CHECK(is_valid_name("a"));
  CHECK(is_valid_name("team/churn-v2"));
  CHECK(is_valid_name("Churn"));  // GTO: [a-zA-Z0-9]([a-zA-Z0-9-/_]*[a-zA-Z0-9])?
  CHECK(is_valid_name("churn_x"));
  CHECK(is_valid_model_name("Team.A:Churn_X"));
  CHECK_FALSE(is_valid_name("_churn"));
  CHECK_FALSE(is_valid_name("churn_"));
  CHECK_FALSE(is_valid_name("ch.urn"));
  CHECK_FALSE(is_valid_name("-churn"));
  CHECK_FALSE(is_valid_name("churn-"));
  CHECK_FALSE(is_valid_name(""));
  CHECK(is_valid_model_name("models/dir:churn"));
  CHECK_FALSE(is_valid_model_name(":churn"));
  CHECK(is_valid_name("Churn_Model"));  // GTO allows uppercase and _
  CHECK_THROWS_AS(check_name("-bad", "model name"), InputError);
}

TEST_CASE("semantic versions", "[registry_test]") {
  auto v = parse_semver("v1.2.3-rc.1+build.5");
  REQUIRE(v);
  CHECK(v->major == 1);
  CHECK(v->prerelease == "rc.1");
  CHECK(v->str() == "v1.2.3-rc.1+build.5");
  CHECK_FALSE(parse_semver("1.2.3"));
  CHECK_FALSE(parse_semver("v1.2"));
  CHECK_FALSE(parse_semver("v01.2.3"));
  CHECK(compare_semver(*parse_semver("v1.10.0"), *parse_semver("v1.9.0")) > 0);
  CHECK(compare_semver(*parse_semver("v1.0.0-rc.1"), *parse_semver("v1.0.0")) < 0);
  CHECK(compare_semver(*parse_semver("v1.0.0-rc.2"), *parse_semver("v1.0.0-rc.10")) < 0);
  CHECK(bump(*parse_semver("v1.2.3"), "minor").str() == "v1.3.0");
  CHECK(bump(*parse_semver("v1.2.3"), "major").str() == "v2.0.0");
  CHECK(bump(*parse_semver("v1.2.3"), "patch").str() == "v1.2.4");
}

TEST_CASE("GTO tag names parse and format", "[registry_test]") {
  struct Case {
    const char* tag;
    TagKind kind;
    const char* model;
    const char* version;
    const char* stage;
    int counter;
  } cases[] = {
      {"churn@v1.2.3", TagKind::register_, "churn", "v1.2.3", "", 0},
      {"churn@v1.2.3!#4", TagKind::deregister, "churn", "v1.2.3", "", 4},
      {"churn#prod#7", TagKind::assign, "churn", "", "prod", 7},
      {"churn#prod", TagKind::assign, "churn", "", "prod", 0},
      {"churn#prod!#8", TagKind::unassign, "churn", "", "prod", 8},
      {"churn@deprecated#9", TagKind::deprecate, "churn", "", "", 9},
      {"dir=churn@v0.0.1", TagKind::register_, "dir:churn", "v0.0.1", "", 0},
      // GTO's name rule allows upper case and '_' (gto/constants.py).
      {"Churn_Model@v1.0.0", TagKind::register_, "Churn_Model", "v1.0.0", "", 0},
      {"Churn_Model#Prod_EU#3", TagKind::assign, "Churn_Model", "", "Prod_EU", 3},
      {"My.Dir=Churn_Model@v1.0.0!#2", TagKind::deregister, "My.Dir:Churn_Model", "v1.0.0", "", 2},
      {"mlo-approval/team/churn/v1.0.0/production/2", TagKind::approval, "team/churn", "v1.0.0", "production", 2},
  };
  for (const auto& c : cases) {
    INFO(c.tag);
    auto t = parse_tag_name(c.tag);
    REQUIRE(t);
    CHECK(t->kind == c.kind);
    CHECK(t->model == c.model);
    CHECK(t->version == c.version);
    CHECK(t->stage == c.stage);
    CHECK(t->counter == c.counter);
    CHECK(format_tag_name(*t) == c.tag);
  }
  for (const char* bad : {"v1.0.0", "churn@1.0", "_churn@v1.0.0", "churn#Prod_#1", "churn#prod#x", "churn@",
                          "release-2024", "churn@v1.0.0#"})
    CHECK_FALSE(parse_tag_name(bad));
}

TEST_CASE("model references", "[registry_test]") {
  CHECK(parse_model_ref("churn").kind == ModelRef::Kind::name_only);
  CHECK(parse_model_ref("churn@latest").kind == ModelRef::Kind::latest);
  CHECK(parse_model_ref("churn@greatest").kind == ModelRef::Kind::greatest);
  auto v = parse_model_ref("churn@v1.2.0");
  CHECK(v.kind == ModelRef::Kind::version);
  CHECK(v.selector == "v1.2.0");
  CHECK(parse_model_ref("churn@champion").kind == ModelRef::Kind::alias);
  auto s = parse_model_ref("churn#production");
  CHECK(s.kind == ModelRef::Kind::stage);
  CHECK(s.selector == "production");
  CHECK(parse_model_ref("Churn_Model@v1.0.0").name == "Churn_Model");
  CHECK_THROWS_AS(parse_model_ref("-churn@v1.0.0"), InputError);
  CHECK_THROWS_AS(parse_model_ref("ch urn@v1.0.0"), InputError);
  CHECK_THROWS_AS(parse_model_ref("churn#"), InputError);
}

TEST_CASE("tag messages carry metadata after GTO's line", "[registry_test]") {
  nlohmann::json meta = {{"version", "v1.0.0"}, {"forced", true}};
  std::string msg = compose_message("Assigning stage prod to artifact churn version v1.0.0", meta);
  CHECK(msg.rfind("Assigning stage prod to artifact churn version v1.0.0\n", 0) == 0);
  CHECK(extract_meta(msg) == meta);
  CHECK(extract_meta("Registering artifact churn version v1.0.0\n").is_null());
  CHECK(extract_meta("x\nmlo-metadata:\n{broken").is_null());
}

TEST_CASE("metric gates parse", "[registry_test]") {
  auto g = parse_metric_gate("accuracy >= 0.9", "mlo.yaml");
  CHECK(g.metric == "accuracy");
  CHECK(g.op == ">=");
  CHECK(g.value == Approx(0.9));
  CHECK(parse_metric_gate("rmse<3.2", "x").op == "<");
  CHECK_THROWS_AS(parse_metric_gate("accuracy is high", "x"), InputError);
  CHECK_THROWS_AS(parse_metric_gate(">= 3", "x"), InputError);
}

namespace {
Event ev(const std::string& tag, std::int64_t time, nlohmann::json meta = nullptr, const std::string& commit = "c1") {
  auto t = parse_tag_name(tag);
  REQUIRE(t);
  Event e;
  e.tag = tag;
  e.kind = t->kind;
  e.model = t->model;
  e.version = t->version;
  e.stage = t->stage;
  e.counter = t->counter;
  e.time = time;
  e.commit = commit;
  e.meta = meta;
  return e;
}
}  // namespace

TEST_CASE("replay follows GTO's ordering and semantics", "[registry_test]") {
  std::vector<Event> events = {
      ev("m#prod#2", 20, nullptr, "c2"),  // GTO: a stage tag names the version at its commit
      ev("m@v1.0.0", 10, nullptr, "c1"),
      ev("m@v1.1.0", 15, nullptr, "c2"),
      ev("m#prod#1", 12, nullptr, "c1"),
      ev("m#prod!#3", 20, {{"version", "v1.0.0"}}),
      ev("m#champion#4", 21, {{"event", "alias"}, {"version", "v1.0.0"}}),
      ev("m@v1.1.0!#5", 30),
  };
  ModelState s = replay("m", events);
  REQUIRE(s.versions.size() == 2);
  CHECK(s.events.front().tag == "m@v1.0.0");
  CHECK(s.aliases.at("champion") == "v1.0.0");
  // v1.1.0 held prod, then was deregistered: it leaves every stage.
  CHECK(s.holder("prod") == nullptr);
  CHECK_FALSE(s.find("v1.1.0")->active);
  CHECK(s.latest()->version == "v1.0.0");
  CHECK(s.greatest()->version == "v1.0.0");
  CHECK(s.max_counter() == 5);
  auto j = s.summary_json();
  CHECK(j["versions"] == 1);
}

TEST_CASE("events replay in recorded order, not by clock", "[registry_test]") {
  // The promote (#1) was tagged at t=200, the demote (#2) at t=100 (clock stepped back),
  // and v2's register follows counter 2 though its clock says t=50.
  ModelState s = replay("m", {ev("m#dev!#2", 100, {{"version", "v1.0.0"}}), ev("m#dev#1", 200, {{"version", "v1.0.0"}}),
                              ev("m@v1.0.0", 300, {{"seq", 0}, {"seq_n", 1}}),
                              ev("m@v2.0.0", 50, {{"seq", 2}, {"seq_n", 1}})});
  CHECK(s.holder("dev") == nullptr);
  REQUIRE(s.latest());
  CHECK(s.latest()->version == "v2.0.0");
  CHECK(s.max_seq_n(2) == 1);
  CHECK(s.events.front().tag == "m@v1.0.0");
  CHECK(s.events.back().tag == "m@v2.0.0");
}

TEST_CASE("mlo.yaml keys are checked against the built-in schema", "[registry_test]") {
  CHECK(edit_distance("stagse", "stages") == 1);  // an adjacent swap (core/format.h)
  CHECK(closest_match("beats", {"metrics", "beat", "approvals"}) == "beat");
  CHECK(closest_match("metric", {"metrics", "beat"}) == "metrics");
  CHECK(closest_match("zzz", {"metrics", "beat"}).empty());
  auto err = [](const std::string& yaml) {
    try {
      check_mlo_yaml(load_yaml(yaml, "mlo.yaml"), "mlo.yaml");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(err("registry:\n  stagse: {}\n") == "mlo.yaml:2:3: unknown key 'stagse' in registry (did you mean 'stages'?)");
  CHECK(err("registry:\n  stages:\n    prod:\n      gates: {beats: [acc]}\n").find("did you mean 'beat'?") !=
        std::string::npos);
  CHECK(err("registry:\n  stages:\n    prod:\n      gates:\n        beat: {metric: a, treshold: 1}\n")
            .find("unknown key 'treshold'") != std::string::npos);
  CHECK(err("registry:\n  stages:\n    dev:\n    prod:\n      single: true\n      gates:\n        metrics: a > 1\n"
            "        beat: [acc, {metric: f1, min_relative_change: 0.1}]\nmodels:\n  m: m.pkl\n  n: {path: n.pkl}\n")
            .empty());
  CHECK(err("stages:\n  a: {cmd: x, desc: y}\n").empty());
  // value kinds: FILE:LINE:COL, the key's path, what was expected, what was found
  CHECK(err("registry:\n  stages:\n    prod:\n      gates: {approvals: two}\n") ==
        "mlo.yaml:4:26: 'registry.stages.prod.gates.approvals' must be an integer, not 'two'");
  CHECK(err("registry:\n  stages:\n    prod:\n      gates: {approvals: 1.5}\n").find("must be an integer") !=
        std::string::npos);
  CHECK(err("stages:\n  a: {cmd: x, outs: {f: 1}}\n").find("'stages.a.outs' must be a string or a list, not a mapping") !=
        std::string::npos);
  CHECK(err("stages:\n  a: [x]\n").find("'stages.a' must be a mapping, not a list") != std::string::npos);
  CHECK(err("deployments:\n  prod: {model: m, thresholds: {max_p99_ms: fast}}\n")
            .find("must be a number, not 'fast'") != std::string::npos);
  // a string takes any scalar (YAML writes 1.0 unquoted); numbers and booleans as YAML reads them
  CHECK(err("deployments:\n  prod: {model: 1.0, port: 8080, weight: 10, thresholds: {max_error_rate: 0.5}}\n").empty());
  CHECK(err("registry:\n  stages:\n    prod: {single: yes, gates: {author_may_approve: false}}\n").empty());
}

TEST_CASE("the built-in schemas are the ones in schemas/", "[registry_test]") {
  const char* src = std::getenv("MLO_TEST_SOURCE_DIR");
  REQUIRE(src);
  for (const char* name : {"mlo.schema.json", "mlo-monitors.schema.json", "config.schema.json"}) {
    INFO(name);
    auto text = read_file_if_exists(std::filesystem::path(src) / "schemas" / name);
    REQUIRE(text);
    CHECK(nlohmann::json::parse(*text) == builtin_schema(name));
  }
}
