// The registry's configuration in mlo.yaml: `registry:` (stages and their
// gates) and `models:` (declared models).
#include <cctype>

#include "core/error.h"
#include "core/fs.h"
#include "registry/registry.h"
#include "repo/config.h"
#include "repo/repo.h"
#include "repo/yaml_read.h"
#include "repo/yaml_schema.h"

namespace mlo::registry {

// ---- configuration -------------------------------------------------------

const StageConfig* RegistryConfig::stage(const std::string& name) const {
  for (const auto& s : stages)
    if (s.name == name) return &s;
  return nullptr;
}

std::string RegistryConfig::stage_names() const {
  std::string out;
  for (const auto& s : stages) out += (out.empty() ? "" : ", ") + s.name;
  return out;
}

MetricGate parse_metric_gate(const std::string& text, const std::string& where) {
  static const char* ops[] = {">=", "<=", "==", "!=", ">", "<"};
  for (const char* op : ops) {
    size_t at = text.find(op);
    if (at == std::string::npos) continue;
    auto trim = [](std::string s) {
      while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
      size_t i = 0;
      while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      return s.substr(i);
    };
    MetricGate g;
    g.metric = trim(text.substr(0, at));
    g.op = op;
    g.text = text;
    std::string num = trim(text.substr(at + std::string(op).size()));
    try {
      size_t used = 0;
      g.value = std::stod(num, &used);
      if (used != num.size() || g.metric.empty()) throw std::invalid_argument("x");
    } catch (...) {
      break;
    }
    return g;
  }
  throw InputError(where + ": cannot read the metric gate '" + text + "'",
                   "write METRIC OP NUMBER, e.g. 'accuracy >= 0.9' or 'rmse < 3.2' (OP: >= > <= < == !=)");
}

namespace {
YAML::Node load_mlo_yaml(Repo& repo) {
  fs::path p = repo.root() / "mlo.yaml";
  if (!fs::exists(p)) return YAML::Node();
  YAML::Node root = load_yaml_file(p);
  if (root.IsNull()) return YAML::Node();
  // (root["registry"] on a scalar or a list would throw a raw yaml-cpp error.)
  if (!root.IsMap())
    throw InputError("mlo.yaml: expected a mapping of sections (stages:, registry:, models:, ...)", "fix mlo.yaml");
  check_mlo_yaml(root, "mlo.yaml");  // a typo must not drop a gate
  return root;
}

std::optional<double> opt_number(const YAML::Node& n, const char* key, const std::string& where) {
  if (!n[key]) return std::nullopt;
  try {
    return n[key].as<double>();
  } catch (...) {
    throw InputError(where + "." + key + ": expected a number, got '" + n[key].as<std::string>("?") + "'");
  }
}

bool opt_bool(const YAML::Node& n, const char* key, bool fallback, const std::string& where) {
  if (!n[key]) return fallback;
  try {
    return n[key].as<bool>();
  } catch (...) {
    throw InputError(where + "." + key + ": expected true or false");
  }
}

// fairness: "GATE" | [GATE...] | {checks: GATE|[GATE...], target:, prediction:, data:}
void parse_fairness(const YAML::Node& f, const std::string& w, StageConfig& s) {
  YAML::Node checks = f.IsMap() ? f["checks"] : f;
  auto text = [&](const YAML::Node& x, const std::string& what) {
    if (!x.IsScalar())
      throw InputError(w + ": " + what + " must be a string", "e.g. fairness: [\"demographic_parity_ratio(gender) >= 0.8\"]");
    return x.as<std::string>();
  };
  if (f.IsMap()) {
    if (!checks) throw InputError(w + ": 'checks' is required (a list of \"METRIC(COLUMN) OP NUMBER\")");
    if (f["target"]) s.fairness_columns.target = text(f["target"], "target");
    if (f["prediction"]) s.fairness_columns.prediction = text(f["prediction"], "prediction");
    if (f["data"]) s.fairness_columns.data = text(f["data"], "data");
  }
  if (checks.IsSequence())
    for (const auto& x : checks) s.fairness.push_back(parse_fairness_gate(text(x, "each gate"), w));
  else
    s.fairness.push_back(parse_fairness_gate(text(checks, "a gate"), w));
}

StageConfig parse_stage(const std::string& name, const YAML::Node& n, const std::string& where) {
  check_name(name, "stage");
  StageConfig s;
  s.name = name;
  s.single = !(name == "dev" || name == "archived");
  if (!n || n.IsNull()) return s;
  if (!n.IsMap()) throw InputError(where + ": expected a mapping (single:, gates:)");
  s.single = opt_bool(n, "single", s.single, where);
  YAML::Node g = n["gates"];
  if (!g || g.IsNull()) return s;
  std::string gw = where + ".gates";
  if (!g.IsMap()) throw InputError(gw + ": expected a mapping (metrics:, beat:, approvals:, on_remote:, check:, fairness:, data_valid:)");
  if (auto m = g["metrics"]) {
    if (m.IsScalar()) s.metrics.push_back(parse_metric_gate(m.as<std::string>(), gw + ".metrics"));
    else
      for (const auto& x : m) s.metrics.push_back(parse_metric_gate(x.as<std::string>(), gw + ".metrics"));
  }
  if (auto b = g["beat"]) {
    auto one = [&](const YAML::Node& x, const std::string& w) {
      BeatGate bg;
      if (x.IsScalar()) {
        bg.metric = x.as<std::string>();
      } else {
        if (!x["metric"]) throw InputError(w + ": 'metric' is required");
        bg.metric = x["metric"].as<std::string>();
        bg.greater_is_better = opt_bool(x, "greater_is_better", true, w);
        bg.threshold = opt_number(x, "threshold", w);
        bg.min_absolute_change = opt_number(x, "min_absolute_change", w);
        bg.min_relative_change = opt_number(x, "min_relative_change", w);
        if (bg.min_absolute_change && *bg.min_absolute_change < 0)
          throw InputError(w + ".min_absolute_change: must be a positive number");
        if (bg.min_relative_change && (*bg.min_relative_change < 0 || *bg.min_relative_change > 1))
          throw InputError(w + ".min_relative_change: must be between 0 and 1 (as in MLflow's MetricThreshold)");
      }
      s.beat.push_back(bg);
    };
    if (b.IsSequence())
      for (size_t i = 0; i < b.size(); ++i) one(b[i], gw + ".beat[" + std::to_string(i) + "]");
    else
      one(b, gw + ".beat");
  }
  if (auto a = g["approvals"]) {
    try {
      s.approvals = a.as<int>();
    } catch (...) {
      throw InputError(gw + ".approvals: expected a number of distinct approvers");
    }
  }
  s.author_may_approve = opt_bool(g, "author_may_approve", false, gw);
  s.on_remote = opt_bool(g, "on_remote", false, gw);
  s.data_valid = opt_bool(g, "data_valid", false, gw);
  if (auto c = g["check"]) s.check = c.as<std::string>();
  if (auto f = g["fairness"]) parse_fairness(f, gw + ".fairness", s);
  return s;
}

RegistryConfig read_registry_config(Repo& repo) {
  RegistryConfig cfg;
  YAML::Node root = load_mlo_yaml(repo);
  YAML::Node reg = root ? root["registry"] : YAML::Node();
  YAML::Node stages = reg ? reg["stages"] : YAML::Node();
  if (stages && !stages.IsNull()) {
    if (!stages.IsMap()) throw InputError("mlo.yaml: registry.stages: expected a mapping of stage names");
    for (const auto& kv : stages) {
      std::string name = kv.first.as<std::string>();
      cfg.stages.push_back(parse_stage(name, kv.second, "mlo.yaml: registry.stages." + name));
    }
  } else {
    for (const char* n : {"dev", "staging", "production"}) cfg.stages.push_back(parse_stage(n, YAML::Node(), ""));
  }
  if (!cfg.stage("archived")) cfg.stages.push_back(parse_stage("archived", YAML::Node(), ""));
  if (reg && reg["git_remote"]) cfg.git_remote = reg["git_remote"].as<std::string>();
  return cfg;
}

std::map<std::string, ModelDecl> read_model_decls(Repo& repo) {
  std::map<std::string, ModelDecl> out;
  YAML::Node root = load_mlo_yaml(repo);
  YAML::Node models = root ? root["models"] : YAML::Node();
  if (!models || models.IsNull()) return out;
  if (!models.IsMap()) throw InputError("mlo.yaml: models: expected a mapping NAME: {path:, type:, description:}");
  for (const auto& kv : models) {
    ModelDecl d;
    d.name = kv.first.as<std::string>();
    std::string where = "mlo.yaml: models." + d.name;
    check_name(d.name, "model name");
    const YAML::Node& n = kv.second;
    if (n.IsScalar()) {
      d.path = n.as<std::string>();
    } else if (n.IsMap()) {
      if (n["path"]) d.path = n["path"].as<std::string>();
      if (n["type"]) d.type = n["type"].as<std::string>();
      if (n["description"]) d.description = n["description"].as<std::string>();
      if (n["runner"]) d.runner = n["runner"].as<std::string>();
      else if (n["inference"] && n["inference"]["runner"]) d.runner = n["inference"]["runner"].as<std::string>();
    } else {
      throw InputError(where + ": expected a path or a mapping with path:");
    }
    if (d.path.empty()) throw InputError(where + ": 'path' is required");
    out[d.name] = d;
  }
  return out;
}

}  // namespace

RegistryConfig load_registry_config(Repo& repo) {
  return read_yaml_checked("mlo.yaml", [&] { return read_registry_config(repo); });
}

std::map<std::string, ModelDecl> load_model_decls(Repo& repo) {
  return read_yaml_checked("mlo.yaml", [&] { return read_model_decls(repo); });
}

}  // namespace mlo::registry
