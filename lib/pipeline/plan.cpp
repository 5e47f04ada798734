#include "pipeline/plan.h"

#include <cmath>
#include <random>
#include <regex>
#include <sstream>

#include "core/error.h"
#include "core/hash.h"
#include "environment/environment.h"

namespace mlo {

using json = nlohmann::json;

namespace {
std::string param_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }
}  // namespace

json display_params(const json& flat) {
  json out = json::object();
  for (auto it = flat.begin(); it != flat.end(); ++it) out[display_param(it.key())] = it.value();
  return out;
}

StageKey stage_key(const StageDef& s, const StageFacts& f) {
  json cmd = s.argv.empty() ? json(s.shell) : json(s.argv);
  json doc = {{"v", 1},         {"cmd", cmd},          {"wdir", s.wdir},     {"deps", f.deps},
              {"params", f.params}, {"outs", s.outs},   {"metrics", s.metrics}, {"runner", s.runner},
              {"runner_config", f.runner_config},        {"gpus", s.resources.gpus}, {"env", s.env}};
  if (!f.env_fingerprint.empty()) doc["environment"] = f.env_fingerprint;
  std::string key = sha256_hex(doc.dump());
  return {std::move(doc), std::move(key)};
}

std::optional<StageKey> flat_manifest_key(const StageDef& s, const StageFacts& f) {
  if (f.flat_deps.empty()) return std::nullopt;
  StageFacts old = f;
  for (auto it = f.flat_deps.begin(); it != f.flat_deps.end(); ++it) old.deps[it.key()] = it.value();
  return stage_key(s, old);
}

std::string stale_reason(const StageDef& s, const json& prev, const StageKey& key, const TreeState& tree,
                         const json& prev_env) {
  if (!prev.is_object()) return "never ran";
  if (prev.value("key", "") != key.key) return explain_change(prev, key.doc, prev_env);
  const json& outs = prev.contains("outs") && prev["outs"].is_array() ? prev["outs"] : json::array();
  for (const auto& o : outs) {
    if (!o.is_object()) return "mlo.lock entry is damaged";
    std::string path = o.value("path", "");
    auto it = tree.outs.find(path);
    if (it == tree.outs.end()) return "output " + path + " is missing";
    std::string recorded = o.value("sha256", "");
    auto flat = tree.flat_outs.find(path);
    bool same_flat = flat != tree.flat_outs.end() && flat->second == recorded;
    if (it->second != recorded && !same_flat) return "output " + path + " was changed";
  }
  for (const auto& m : s.metrics)
    if (!tree.metrics_present.count(m)) return "metrics file " + m + " is missing";
  return "";
}

std::string explain_change(const json& prev, const json& key_doc, const json& prev_env) {
  std::vector<std::string> why;
  if (key_doc.contains("environment") && prev_env.is_object()) {
    std::string env = environment::describe(environment::diff(prev_env, key_doc["environment"]));
    if (!env.empty()) why.push_back("environment changed: " + env);
  }
  json pc = prev.value("cmd", json());
  if (pc != key_doc["cmd"]) why.push_back("cmd changed");
  json pd = json::object();
  for (const auto& d : prev.value("deps", json::array())) pd[d.value("path", "")] = d.value("sha256", "");
  for (auto it = key_doc["deps"].begin(); it != key_doc["deps"].end(); ++it) {
    if (!pd.contains(it.key())) why.push_back("new dep " + it.key());
    else if (pd[it.key()] != it.value()) why.push_back("dep " + it.key() + " changed");
  }
  json pp = prev.value("params", json::object());
  for (auto it = key_doc["params"].begin(); it != key_doc["params"].end(); ++it) {
    std::string d = display_param(it.key());
    if (!pp.contains(d)) why.push_back("new param " + d);
    else if (pp[d] != it.value()) why.push_back("param " + d + " changed (" + param_text(pp[d]) + " -> " + param_text(it.value()) + ")");
  }
  if (why.empty() && key_doc.contains("environment") && !prev_env.is_object())
    why.push_back("its environment changed, or the stage definition (its earlier run's record is not here to compare)");
  if (why.empty()) why.push_back("stage definition changed (outs, runner, resources, env, environment or wdir)");
  std::string s;
  for (size_t i = 0; i < why.size() && i < 4; ++i) s += (i ? ", " : "") + why[i];
  if (why.size() > 4) s += ", ...";
  return s;
}

SweepAxis parse_axis(const std::string& spec, int random) {
  auto eq = spec.find('=');
  if (eq == std::string::npos || eq == 0)
    throw UsageError("bad --grid '" + spec + "'", "write KEY=V1,V2,... or KEY=uniform(LO,HI) / loguniform / randint / choice(A,B)");
  SweepAxis a;
  a.display = spec.substr(0, eq);
  a.ref = normalize_param_ref(a.display);
  std::string rhs = spec.substr(eq + 1);
  static const std::regex fn(R"(^(uniform|loguniform|randint|choice)\((.*)\)$)");
  std::smatch m;
  auto split = [](const std::string& s) {
    std::vector<std::string> parts;
    std::stringstream ss(s);
    std::string p;
    while (std::getline(ss, p, ',')) {
      p.erase(0, p.find_first_not_of(' '));
      while (!p.empty() && p.back() == ' ') p.pop_back();
      parts.push_back(p);
    }
    return parts;
  };
  if (std::regex_match(rhs, m, fn)) {
    std::string f = m[1];
    auto args = split(m[2]);
    if (f == "choice") {
      for (auto& v : args) a.values.push_back(scalar_to_json(v));
      if (a.values.empty()) throw UsageError("--grid " + spec + ": choice() needs values");
    } else {
      if (args.size() != 2) throw UsageError("--grid " + spec + ": " + f + "() takes two numbers: LO,HI");
      char *e1 = nullptr, *e2 = nullptr;
      a.lo = std::strtod(args[0].c_str(), &e1);
      a.hi = std::strtod(args[1].c_str(), &e2);
      if (*e1 || *e2 || args[0].empty() || args[1].empty() || !(a.lo <= a.hi) || (f == "loguniform" && a.lo <= 0))
        throw UsageError("--grid " + spec + ": bad range", "LO and HI are numbers with LO <= HI (and > 0 for loguniform)");
      a.dist = f;
      if (!random) throw UsageError("--grid " + spec + ": " + f + "() needs --random N", "sample N points with --random N");
    }
  } else {
    for (auto& v : split(rhs)) a.values.push_back(scalar_to_json(v));
    if (a.values.empty() || rhs.empty()) throw UsageError("--grid " + spec + ": no values");
  }
  return a;
}

std::vector<json> sweep_points(const std::vector<SweepAxis>& axes, int random, unsigned seed) {
  std::vector<json> points;
  if (random > 0) {
    std::mt19937_64 rng(seed ? seed : static_cast<unsigned>(std::random_device{}()));
    for (int i = 0; i < random; ++i) {
      json p = json::object();
      for (const auto& a : axes) {
        if (a.dist.empty()) {
          p[a.ref] = a.values[std::uniform_int_distribution<size_t>(0, a.values.size() - 1)(rng)];
        } else if (a.dist == "uniform") {
          p[a.ref] = std::uniform_real_distribution<double>(a.lo, a.hi)(rng);
        } else if (a.dist == "loguniform") {
          p[a.ref] = std::exp(std::uniform_real_distribution<double>(std::log(a.lo), std::log(a.hi))(rng));
        } else {
          p[a.ref] = std::uniform_int_distribution<long long>(static_cast<long long>(std::ceil(a.lo)),
                                                              static_cast<long long>(std::floor(a.hi)))(rng);
        }
      }
      points.push_back(p);
    }
    return points;
  }
  points.push_back(json::object());
  for (const auto& a : axes) {
    std::vector<json> next;
    for (const auto& p : points)
      for (const auto& v : a.values) {
        json q = p;
        q[a.ref] = v;
        next.push_back(q);
      }
    points = std::move(next);
  }
  return points;
}

}  // namespace mlo
