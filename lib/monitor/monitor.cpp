#include "monitor/request_log.h"
#include "monitor/monitor.h"
#include "monitor/segments.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <limits>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/format.h"
#include "core/fs.h"
#include "core/hash.h"
#include "data/pointer.h"
#include "index/database.h"
#include "repo/config.h"
#include "registry/model_ref.h"
#include "registry/runs.h"
#include "repo/repo.h"
#include "repo/yaml_read.h"
#include "repo/yaml_schema.h"

namespace mlo {
namespace monitor {

namespace fs = std::filesystem;

namespace {

std::string at(const YAML::Node& n, const std::string& file) {
  return file + ":" + std::to_string(n.Mark().line + 1);
}

std::vector<std::string> str_list(const YAML::Node& n, const std::string& file, const std::string& key) {
  std::vector<std::string> out;
  if (!n) return out;
  if (n.IsScalar()) {
    out.push_back(n.as<std::string>());
    return out;
  }
  if (!n.IsSequence()) throw InputError(at(n, file) + ": '" + key + "' must be a string or a list of strings");
  for (const auto& e : n) {
    if (!e.IsScalar()) throw InputError(at(e, file) + ": each entry of '" + key + "' must be a string");
    out.push_back(e.as<std::string>());
  }
  return out;
}

double num(const YAML::Node& n, const std::string& file, const std::string& key) {
  try {
    return n.as<double>();
  } catch (const YAML::Exception&) {
    throw InputError(at(n, file) + ": '" + key + "' must be a number", "write e.g. " + key + ": 0.1");
  }
}

MethodChoice choice(const YAML::Node& n, const std::string& file) {
  MethodChoice c;
  if (n.IsScalar()) {
    c.method = n.as<std::string>();
    find_method(*c.method);
    return c;
  }
  if (n["method"]) {
    if (!n["method"].IsScalar())
      throw InputError(at(n["method"], file) + ":" + std::to_string(n["method"].Mark().column + 1) + ": 'method' must be the name of a drift test, not a " +
                           (n["method"].IsSequence() ? "list" : "mapping"),
                       "write e.g. method: psi (man mlo-monitor lists the tests)");
    c.method = n["method"].as<std::string>();
    find_method(*c.method);
  }
  if (n["threshold"]) c.threshold = num(n["threshold"], file, "threshold");
  return c;
}

}  // namespace

double parse_duration(const std::string& t) {
  if (t.empty()) throw UsageError("empty duration", "write e.g. 1d, 12h, 30m");
  char unit = t.back();
  double mult = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : unit == 'd' ? 86400 : unit == 'w' ? 604800 : 0;
  std::string digits = mult ? t.substr(0, t.size() - 1) : t;
  if (!mult) mult = 1;
  double v;
  if (!parse_number(digits, v) || v <= 0 || !std::isfinite(v))
    throw UsageError("bad duration '" + t + "'", "write a positive number and a unit: 45s, 30m, 12h, 1d, 2w");
  return v * mult;
}

double parse_time(const std::string& t) {
  auto v = parse_timestamp(t);
  if (!v) throw UsageError("bad time '" + t + "'", "write ISO 8601 (2024-05-01 or 2024-05-01T12:00:00Z) or epoch seconds");
  return *v;
}

namespace {

std::map<std::string, MonitorSpec> read_monitors(const fs::path& path, const std::string& file) {
  std::map<std::string, MonitorSpec> out;
  YAML::Node root = load_yaml_file(path);
  if (root && root.IsMap()) check_mlo_yaml(root, file);  // a typo must not drop a check
  if (!root || !root.IsMap() || !root["monitors"]) return out;
  YAML::Node mons = root["monitors"];
  if (!mons.IsMap()) throw InputError(at(mons, file) + ": 'monitors' must map monitor names to settings");
  for (auto it = mons.begin(); it != mons.end(); ++it) {
    MonitorSpec s;
    s.name = it->first.as<std::string>();
    const YAML::Node m = it->second;
    if (!m.IsMap()) throw InputError(at(m, file) + ": monitor '" + s.name + "' must be a map");
    static const std::set<std::string> known = {"reference", "current", "columns", "drift", "quality",
                                                "performance", "on_drift", "format", "description",
                                                "model", "training_data", "segments"};
    for (auto k = m.begin(); k != m.end(); ++k)
      if (!known.count(k->first.as<std::string>()))
        throw InputError(at(k->first, file) + ": unknown key '" + k->first.as<std::string>() + "' in monitor '" + s.name + "'",
                         "known keys: reference, current, model, training_data, columns, drift, quality, performance, "
                         "segments, on_drift, format");
    s.reference = str_list(m["reference"], file, "reference");
    s.current = str_list(m["current"], file, "current");
    s.segments = str_list(m["segments"], file, "segments");
    if (m["model"]) s.model = m["model"].as<std::string>();
    if (m["training_data"]) s.training_data = m["training_data"].as<std::string>();
    if (s.reference.size() == 1 && s.reference[0] == "auto" && s.model.empty())
      throw InputError(at(m["reference"], file) + ": monitor '" + s.name + "' has reference: auto but no model:",
                       "add model: NAME#STAGE (the model whose training data is the reference)");
    if (s.reference.empty())
      throw InputError(at(m, file) + ": monitor '" + s.name + "' has no 'reference'", "add reference: PATH");
    if (auto f = m["format"]) {
      std::string v = f.as<std::string>();
      if (v == "csv") s.format = Format::csv;
      else if (v == "tsv") s.format = Format::tsv;
      else if (v == "jsonl") s.format = Format::jsonl;
      else throw InputError(at(f, file) + ": format must be csv, tsv or jsonl");
    }
    if (auto c = m["columns"]) {
      s.roles.features = str_list(c["features"], file, "features");
      s.roles.numerical = str_list(c["numerical"], file, "numerical");
      s.roles.categorical = str_list(c["categorical"], file, "categorical");
      s.roles.ignored = str_list(c["ignored"], file, "ignored");
      if (c["target"]) s.roles.target = c["target"].as<std::string>();
      if (c["prediction"]) s.roles.prediction = c["prediction"].as<std::string>();
      if (c["timestamp"]) s.roles.timestamp = c["timestamp"].as<std::string>();
      if (c["task"]) {
        s.roles.task = c["task"].as<std::string>();
        if (s.roles.task != "classification" && s.roles.task != "regression")
          throw InputError(at(c["task"], file) + ": task must be classification or regression");
      }
    }
    if (auto d = m["drift"]) {
      if (d["method"]) s.drift.all.method = d["method"].as<std::string>(), find_method(*s.drift.all.method);
      if (d["threshold"]) s.drift.all.threshold = num(d["threshold"], file, "threshold");
      if (d["drift_share"]) s.drift.drift_share = num(d["drift_share"], file, "drift_share");
      if (d["numerical"]) s.drift.per_type[ColumnType::numerical] = choice(d["numerical"], file);
      if (d["categorical"]) s.drift.per_type[ColumnType::categorical] = choice(d["categorical"], file);
      if (auto pc = d["columns"])
        for (auto e = pc.begin(); e != pc.end(); ++e) s.drift.per_column[e->first.as<std::string>()] = choice(e->second, file);
    }
    if (auto q = m["quality"]) {
      if (q["missing_share_increase"]) s.quality.missing_share_increase = num(q["missing_share_increase"], file, "missing_share_increase");
      if (q["new_category_share"]) s.quality.new_category_share = num(q["new_category_share"], file, "new_category_share");
      if (q["out_of_range_share"]) s.quality.out_of_range_share = num(q["out_of_range_share"], file, "out_of_range_share");
      if (q["duplicate_share"]) s.quality.duplicate_share = num(q["duplicate_share"], file, "duplicate_share");
    }
    if (auto p = m["performance"])
      if (p["degradation"]) s.performance.degradation = num(p["degradation"], file, "degradation");
    if (auto a = m["on_drift"]) {
      s.on_drift.run = str_list(a["run"], file, "run");
      if (a["register"]) s.on_drift.register_model = a["register"].as<std::string>();
      if (a["propose"]) s.on_drift.propose_stage = a["propose"].as<std::string>();
      if (!s.on_drift.propose_stage.empty() && s.on_drift.register_model.empty())
        throw InputError(at(a, file) + ": on_drift of monitor '" + s.name + "' proposes for a stage but registers no model",
                         "add register: MODEL (the model whose new version is proposed)");
    }
    out.emplace(s.name, std::move(s));
  }
  return out;
}

}  // namespace

std::map<std::string, MonitorSpec> load_monitors(const fs::path& path) {
  if (!fs::exists(path)) return {};
  const std::string file = path.filename().string();
  return read_yaml_checked(file, [&] { return read_monitors(path, file); });
}

namespace {

ProfileOptions profile_options(const MonitorSpec& spec) {
  ProfileOptions o;
  o.read.format = spec.format;
  for (auto& c : spec.roles.numerical) o.declared[c] = ColumnType::numerical;
  for (auto& c : spec.roles.categorical) o.declared[c] = ColumnType::categorical;
  o.exact_limit = spec.exact_limit;
  o.target = spec.roles.target;
  o.prediction = spec.roles.prediction;
  o.task = spec.roles.task;
  return o;
}

std::string profile_key(const std::vector<Source>& src, const ProfileOptions& o) {
  nlohmann::json k;
  k["v"] = 2;  // 2: profiles count -inf apart (out-of-range shares)
  for (auto& s : src) k["sources"].push_back(s.identity);
  for (auto& [c, t] : o.declared) k["declared"][c] = to_string(t);
  k["exact_limit"] = o.exact_limit;
  k["missing"] = o.read.missing;
  k["format"] = o.read.format ? to_string(*o.read.format) : "";
  k["target"] = o.target;
  k["prediction"] = o.prediction;
  k["task"] = o.task;
  return sha256_hex(k.dump());
}

// Reference profile: from the store when an identical one was computed before.
DatasetProfile reference_profile(const MonitorSpec& spec, Repo* repo, const std::vector<Source>& src,
                                 const ProfileOptions& o, bool& cached) {
  cached = false;
  fs::path ref_file;
  if (repo && spec.use_profile_cache) {
    ref_file = repo->cache_dir() / "monitor" / "profiles" / profile_key(src, o);
    if (auto h = read_file_if_exists(ref_file)) {
      std::string hash = h->substr(0, 64);
      if (is_sha256_hex(hash) && repo->cache().has(hash)) {
        cached = true;
        return parse_profile(repo->cache().read(hash), "monitor profile " + hash.substr(0, 12));
      }
    }
  }
  DatasetProfile p = build_profile(src, o);
  if (!ref_file.empty()) {
    std::string hash = repo->cache().add_bytes(serialize_profile(p));
    fs::create_directories(ref_file.parent_path());
    write_file_atomic(ref_file, hash + "\n");
  }
  return p;
}

nlohmann::json test(const std::string& name, const std::string& group, const std::string& status,
                    const std::string& description, nlohmann::json params = nlohmann::json::object()) {
  return {{"name", name}, {"group", group}, {"status", status}, {"description", description}, {"parameters", params}};
}

std::string fmt(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

nlohmann::json drift_json(const ColumnDrift& d) {
  nlohmann::json j = {{"column_name", d.column}, {"column_type", to_string(d.type)}, {"stattest_name", d.method},
                      {"stattest_threshold", d.threshold}, {"drift_detected", d.drifted},
                      {"reference_values", d.reference_n}, {"current_values", d.current_n},
                      {"approximate", d.approximate}};
  j["drift_score"] = std::isfinite(d.score) ? nlohmann::json(d.score) : nlohmann::json(nullptr);
  if (d.statistic && std::isfinite(*d.statistic)) j["statistic"] = *d.statistic;
  if (!d.error.empty()) j["error"] = d.error;
  j["chart"] = d.chart;
  return j;
}

bool higher_is_better(const std::string& m) {
  return m == "accuracy" || m == "precision" || m == "recall" || m == "f1" || m == "roc_auc" || m == "r2";
}

}  // namespace

namespace {
struct HeaderOnly {};
// The column names of a source (reads its first record only).
std::vector<std::string> header_of(const Source& src, const ReadOptions& opt) {
  std::vector<std::string> names;
  RowVisitor v;
  v.header = [&](const std::vector<std::string>& n) {
    names = n;
    throw HeaderOnly{};
  };
  v.row = [](const std::vector<Cell>&, std::string_view) {};
  v.malformed = [](const Malformed&) {};
  try {
    read_table(src, opt, v);
  } catch (const HeaderOnly&) {
  }
  return names;
}
}  // namespace

namespace {
// --training-data as a dep path: "data/prep/", "data/prep.mlo" (the pointer) and
// "data/prep" name the same folder.
std::string training_data_path(const std::string& given) {
  std::string p = fs::path(given).lexically_normal().generic_string();
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  if (p.size() > 4 && p.ends_with(kPointerSuffix)) p.resize(p.size() - std::string_view(kPointerSuffix).size());
  return p;
}
}  // namespace

std::vector<Source> auto_reference(Repo& repo, const MonitorSpec& spec, nlohmann::json& lineage) {
  if (spec.model.empty())
    throw UsageError("--reference auto needs the model whose training data is the reference",
                     "add --model NAME#STAGE (or NAME@VERSION), or model: in the monitor");
  registry::ResolvedModel m = registry::resolve_model(repo, spec.model);
  std::string who = m.name + "@" + m.version;
  lineage = {{"model", spec.model}, {"version", who}};
  if (m.run_id.empty())
    throw InputError("model " + who + " has no run recorded: its training data is unknown",
                     "register versions from a pipeline run ('mlo register NAME --run ID' or a stage output), "
                     "or give --reference PATH");
  lineage["run"] = m.run_id;
  auto info = registry::make_run_lookup(repo)->find(m.run_id);
  if (!info)
    throw InputError("run " + m.run_id + " of model " + who + " is not known in this repository",
                     "run 'mlo pull' to fetch run records, or give --reference PATH");
  lineage["stage"] = info->stage;
  std::vector<registry::RunArtifact> tabular;
  std::string deps;
  for (const auto& d : info->deps) {
    deps += (deps.empty() ? "" : ", ") + d.path;
    if (!spec.training_data.empty()) {
      std::string want = training_data_path(spec.training_data);
      if (fs::path(d.path).lexically_normal().string() == want) tabular.push_back(d);
    } else if (d.type == "dir" || is_tabular_name(d.path)) {
      tabular.push_back(d);
    }
  }
  if (!spec.training_data.empty() && tabular.empty())
    throw InputError("run " + m.run_id + " (stage " + info->stage + ") of model " + who + " has no dependency '" +
                         spec.training_data + "'",
                     deps.empty() ? "the run recorded no dependencies" : "its dependencies: " + deps);
  if (tabular.empty())
    throw InputError("run " + m.run_id + " (stage " + info->stage + ") of model " + who +
                         " has no tabular data dependency (CSV, TSV, JSON Lines, or a directory of them)",
                     deps.empty() ? "the run recorded no dependencies; give --reference PATH"
                                  : "its dependencies: " + deps + "; give --reference PATH");
  ProfileOptions po;
  po.read.format = spec.format;
  // Directories count only when they hold tabular files; several candidates:
  // keep those whose header has every column the monitor's roles name.
  std::vector<std::pair<registry::RunArtifact, std::vector<Source>>> found;
  std::optional<InputError> not_cached;
  for (const auto& d : tabular) {
    try {
      found.emplace_back(d, artifact_sources(repo, d.path, d.sha256, d.type == "dir", d.size, spec.format));
    } catch (const InputError& e) {
      if (d.type == "dir" && std::string(e.what()).find("no CSV") != std::string::npos) continue;
      if (!not_cached) not_cached = InputError(std::string("training data of model ") + who + " (run " + m.run_id +
                                                   "): " + e.what(),
                                               e.hint());
    }
  }
  if (found.empty() && not_cached) throw *not_cached;
  if (found.empty())
    throw InputError("run " + m.run_id + " of model " + who + " has no tabular data dependency",
                     "its dependencies: " + deps + "; give --reference PATH");
  if (found.size() > 1) {
    std::vector<std::string> need;
    for (const auto* v : {&spec.roles.features, &spec.roles.numerical, &spec.roles.categorical})
      need.insert(need.end(), v->begin(), v->end());
    if (!spec.roles.target.empty()) need.push_back(spec.roles.target);
    if (!need.empty()) {
      std::erase_if(found, [&](const auto& f) {
        auto h = header_of(f.second.front(), po.read);
        for (auto& c : need)
          if (std::find(h.begin(), h.end(), c) == h.end()) return true;
        return false;
      });
    }
  }
  if (found.size() != 1) {
    std::string names;
    for (auto& d : tabular) names += (names.empty() ? "" : ", ") + d.path;
    throw InputError("run " + m.run_id + " of model " + who + " read several data sets (" + names +
                         "): cannot tell which one it trained on",
                     "name it with training_data: PATH in the monitor (or --training-data PATH)");
  }
  lineage["dataset"] = found[0].first.path;
  lineage["sha256"] = found[0].first.sha256;
  return found[0].second;
}

namespace {

// ---- run_monitor's steps: resolve -> profile -> compare schemas -> drift,
// quality and performance tests -> verdict (recording and actions are the
// caller's: record_result, record_action).

struct Inputs {
  std::vector<Source> reference, current;
  nlohmann::json lineage;  // set for --reference auto
  std::vector<std::string> feature_names;  // positional request-log inputs, from the model's signature
  std::string served_by;                   // NAME@VERSION that answered a request log, when it is one
};

// The model version a request log was answered by: its first record's model and version.
std::string request_log_model(const std::vector<Source>& current) {
  for (const auto& src : current) {
    if (src.format != Format::jsonl) continue;
    std::ifstream f(src.path);
    std::string line;
    while (std::getline(f, line) && line.find_first_not_of(" \t\r") == std::string::npos) {
    }
    auto j = nlohmann::ordered_json::parse(line, nullptr, false);
    if (j.is_object() && is_request_log_record(j) && j.contains("model") && j["model"].is_string() &&
        j.contains("version") && j["version"].is_string())
      return j["model"].get<std::string>() + "@" + j["version"].get<std::string>();
  }
  return "";
}

// Names for positional inputs in request logs ({"instances": [[...]]}, an
// [n, k] tensor): the signature recorded at register of the monitored model
// (--model), else of the version that answered the requests.
std::vector<std::string> signature_names(Repo& repo, const MonitorSpec& spec, const std::string& served_by) {
  std::string ref = !spec.model.empty() ? spec.model : served_by;
  if (ref.empty()) return {};
  try {
    return registry::resolve_model(repo, ref).input_names;
  } catch (const InputError&) {  // not registered here: the inputs keep positional names
    return {};
  }
}

Inputs resolve_sources(const MonitorSpec& spec, Repo* repo) {
  if (spec.reference.empty()) throw UsageError("no reference data", "give --reference PATH or a monitor with reference:");
  if (spec.current.empty()) throw UsageError("no current data", "give --current PATH or a monitor with current:");
  Inputs in;
  if (spec.reference.size() == 1 && spec.reference[0] == "auto") {
    if (!repo) throw InputError("--reference auto needs an mlo repository (the model registry)", "run inside the repository");
    in.reference = auto_reference(*repo, spec, in.lineage);
  } else {
    in.reference = resolve_inputs(spec.reference, repo, spec.format);
  }
  in.current = resolve_inputs(spec.current, repo, spec.format);
  in.served_by = request_log_model(in.current);
  if (repo) in.feature_names = signature_names(*repo, spec, in.served_by);
  return in;
}

struct Profiles {
  DatasetProfile ref, cur;
  bool ref_cached = false;
  double seconds = 0;
};

// Reference (possibly from the profile cache) and current are read in parallel.
Profiles profile_both(const MonitorSpec& spec, Repo* repo, const Inputs& in) {
  ProfileOptions ro = profile_options(spec);
  ProfileOptions co = ro;
  co.read.feature_names = in.feature_names;
  ro.duplicates = false;  // only the current batch's are reported: the hashes would cost memory for nothing
  co.timestamp_column = spec.roles.timestamp;
  co.since = spec.since;
  co.until = spec.until;
  if ((spec.since || spec.until) && spec.roles.timestamp.empty())
    throw UsageError("--since/--until/--window need a timestamp column", "name it with --timestamp COL or columns.timestamp");
  Profiles p;
  std::exception_ptr ref_error;
  auto t0 = std::chrono::steady_clock::now();
  std::thread ref_thread([&] {
    try {
      p.ref = reference_profile(spec, repo, in.reference, ro, p.ref_cached);
    } catch (...) {
      ref_error = std::current_exception();
    }
  });
  try {
    p.cur = build_profile(in.current, co);
  } catch (...) {
    ref_thread.join();
    throw;
  }
  ref_thread.join();
  if (ref_error) std::rethrow_exception(ref_error);
  p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return p;
}

// Every column the spec names (roles, per-column methods) must be in the
// reference or the current data: a typo would silently drop its check.
void check_named_columns(const MonitorSpec& spec, const DatasetProfile& ref, const DatasetProfile& cur) {
  std::vector<std::pair<std::string, std::string>> named;  // option, column
  for (auto [opt, col] : {std::pair<const char*, const std::string*>{"--target", &spec.roles.target},
                          {"--prediction", &spec.roles.prediction}, {"--timestamp", &spec.roles.timestamp}})
    if (!col->empty()) named.emplace_back(opt, *col);
  for (auto [opt, cols] : {std::pair<const char*, const std::vector<std::string>*>{"--features", &spec.roles.features},
                           {"--numerical", &spec.roles.numerical}, {"--categorical", &spec.roles.categorical},
                           {"--ignore", &spec.roles.ignored}})
    for (const auto& c : *cols) named.emplace_back(opt, c);
  for (const auto& [c, _] : spec.drift.per_column) named.emplace_back("--column-method", c);
  std::vector<std::string> known;
  for (const auto* prof : {&ref, &cur})
    for (const auto& c : prof->columns)
      if (std::find(known.begin(), known.end(), c.name) == known.end()) known.push_back(c.name);
  for (const auto& [opt, col] : named) {
    if (std::find(known.begin(), known.end(), col) != known.end()) continue;
    std::string near = closest_match(col, known), list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    throw InputError(std::string(opt) + " (or the monitor's columns:) names column '" + col +
                         "', which is in neither the reference nor the current data",
                     (near.empty() ? std::string() : "did you mean '" + near + "'? ") + "the columns are: " + list);
  }
}

bool declared_type(const MonitorSpec& spec, const std::string& column) {
  const auto& r = spec.roles;
  return std::count(r.numerical.begin(), r.numerical.end(), column) ||
         std::count(r.categorical.begin(), r.categorical.end(), column);
}

// Evidently's column types: a numerical column it treats as categorical
// (integers with at most 5 distinct reference values, a target with at most
// 5, ...) becomes categorical on both sides, so drift methods, their defaults
// and the quality checks (new categories instead of out-of-range) follow it.
// Declared types win.
void apply_evidently_types(const MonitorSpec& spec, Profiles& p) {
  for (auto& r : p.ref.columns) {
    if (r.type != ColumnType::numerical || declared_type(spec, r.name)) continue;
    ColumnRole role = r.name == spec.roles.target       ? ColumnRole::target
                      : r.name == spec.roles.prediction ? ColumnRole::prediction
                                                        : ColumnRole::feature;
    ColumnProfile* c = nullptr;
    for (auto& cc : p.cur.columns)
      if (cc.name == r.name) c = &cc;
    if (c && c->type != ColumnType::numerical) continue;  // a type change, reported as such
    if (evidently_column_type(r, c, role, spec.roles.task) != ColumnType::categorical) continue;
    coerce_column(r, ColumnType::categorical);
    if (c) coerce_column(*c, ColumnType::categorical);
  }
}

// Which columns play which part, and how the current schema differs.
struct Plan {
  std::vector<std::string> features;
  std::set<std::string> ignored;
  std::vector<std::string> missing_in_cur, added_in_cur;
  std::map<std::string, std::string> type_changed;
};

std::vector<std::string> tested_features(const MonitorSpec& spec, const DatasetProfile& ref, const std::set<std::string>& ignored) {
  if (!spec.roles.features.empty()) return spec.roles.features;
  std::set<std::string> special = {spec.roles.target, spec.roles.prediction, spec.roles.timestamp};
  std::vector<std::string> features;
  for (auto& c : ref.columns)
    if (!special.count(c.name) && !ignored.count(c.name)) features.push_back(c.name);
  return features;
}

// Type agreement: the reference's type wins (the current column is coerced);
// a change is a quality failure.
std::map<std::string, std::string> reconcile_types(const MonitorSpec& spec, const DatasetProfile& ref, DatasetProfile& cur) {
  std::map<std::string, std::string> changed;
  for (auto& c : cur.columns) {
    const ColumnProfile* r = ref.find(c.name);
    if (!r || r->type == c.type) continue;
    bool declared = declared_type(spec, c.name);
    if (!(c.rows == c.missing) && !declared) changed[c.name] = to_string(r->type) + " -> " + to_string(c.type);
    coerce_column(c, r->type);
  }
  return changed;
}

Plan plan_columns(const MonitorSpec& spec, const DatasetProfile& ref, DatasetProfile& cur) {
  Plan p;
  p.ignored = std::set<std::string>(spec.roles.ignored.begin(), spec.roles.ignored.end());
  p.features = tested_features(spec, ref, p.ignored);
  // A declared target absent from the current data is the usual case for live
  // traffic (labels arrive later): performance is then unknown, not a schema break.
  for (auto& c : ref.columns)
    if (!cur.find(c.name) && !p.ignored.count(c.name) && c.name != spec.roles.target) p.missing_in_cur.push_back(c.name);
  // Current data from request logs carries serving fields (route, latency...)
  // that training data never has: not a schema change.
  const bool from_request_log = cur.find("route") && cur.find("latency_ms") && cur.find("model");
  for (auto& c : cur.columns)
    if (!ref.find(c.name) && !p.ignored.count(c.name) && !(from_request_log && is_request_log_field(c.name)))
      p.added_in_cur.push_back(c.name);
  p.type_changed = reconcile_types(spec, ref, cur);
  return p;
}

// What the checks produce: Evidently-style metrics and tests.
struct Checks {
  nlohmann::json metrics = nlohmann::json::array(), tests = nlohmann::json::array();
  std::vector<ColumnDrift> drifts;
  bool dataset_drift = false, perf_known = false;
};

double share_of(std::uint64_t a, std::uint64_t b) { return b ? static_cast<double>(a) / static_cast<double>(b) : 0.0; }

struct RoleDrift {
  std::string role;  // "target" or "prediction"
  ColumnDrift drift;
};

std::vector<RoleDrift> role_drifts(const MonitorSpec& spec, const Profiles& p) {
  std::vector<RoleDrift> out;
  for (auto [role, col] : {std::pair<std::string, std::string>{"target", spec.roles.target},
                           std::pair<std::string, std::string>{"prediction", spec.roles.prediction}}) {
    if (col.empty()) continue;
    const ColumnProfile* r = p.ref.find(col);
    const ColumnProfile* c = p.cur.find(col);
    if (r && c) out.push_back({role, column_drift(*r, *c, spec.drift)});
  }
  return out;
}

// Evidently counts target and prediction in the drift share when no column
// list is given (_get_all_columns_for_drift); with columns.features, only those.
void column_drift_tests(const MonitorSpec& spec, const Profiles& p, const Plan& plan, const std::vector<RoleDrift>& roles,
                        Checks& out) {
  int tested = 0, drifted = 0;
  if (spec.roles.features.empty())
    for (auto& rd : roles)
      if (rd.drift.error.empty()) {
        ++tested;
        if (rd.drift.drifted) ++drifted;
      }
  for (auto& name : plan.features) {
    const ColumnProfile* r = p.ref.find(name);
    const ColumnProfile* c = p.cur.find(name);
    if (!r) throw InputError("column '" + name + "' is not in the reference data", "check columns.features");
    if (!c) continue;  // reported as a removed column
    ColumnDrift d = column_drift(*r, *c, spec.drift);
    if (d.error.empty()) {
      ++tested;
      if (d.drifted) ++drifted;
    }
    out.drifts.push_back(std::move(d));
  }
  double share = tested ? static_cast<double>(drifted) / tested : 0;
  out.dataset_drift = tested > 0 && share >= spec.drift.drift_share;
  out.metrics.push_back({{"metric", "DatasetDriftMetric"},
                         {"result",
                          {{"drift_share", spec.drift.drift_share}, {"number_of_columns", tested},
                           {"number_of_drifted_columns", drifted}, {"share_of_drifted_columns", share},
                           {"dataset_drift", out.dataset_drift}}}});
  for (auto& d : out.drifts) {
    out.metrics.push_back({{"metric", "ColumnDriftMetric"}, {"result", drift_json(d)}});
    std::string status = !d.error.empty() ? "ERROR" : d.drifted ? "FAIL" : "SUCCESS";
    std::string desc = !d.error.empty() ? d.error
                                         : "Drift score " + fmt(d.score) + " (" + d.method + ", drift when " +
                                               find_method(d.method).drift_when + " " + fmt(d.threshold) + ")";
    out.tests.push_back(test("TestColumnDrift", "drift", status, desc,
                             {{"column_name", d.column}, {"stattest", d.method}, {"threshold", d.threshold},
                              {"score", std::isfinite(d.score) ? nlohmann::json(d.score) : nlohmann::json(nullptr)}}));
  }
  out.tests.push_back(test("TestShareOfDriftedColumns", "drift", out.dataset_drift ? "FAIL" : "SUCCESS",
                           fmt(drifted) + " of " + fmt(tested) + " columns drifted (share " + fmt(share) +
                               ", dataset drift at >= " + fmt(spec.drift.drift_share) + ")",
                           {{"share", share}, {"drift_share", spec.drift.drift_share}}));
}

void role_drift_tests(const std::vector<RoleDrift>& roles, Checks& out) {
  for (auto& [role, d] : roles) {
    out.metrics.push_back({{"metric", role == "target" ? "TargetDriftMetric" : "PredictionDriftMetric"},
                           {"result", drift_json(d)}});
    out.tests.push_back(test(role == "target" ? "TestTargetDrift" : "TestPredictionDrift", "drift",
                             !d.error.empty() ? "ERROR" : d.drifted ? "FAIL" : "SUCCESS",
                             d.error.empty() ? role + " drift score " + fmt(d.score) + " (" + d.method + ")" : d.error,
                             {{"column_name", d.column}, {"stattest", d.method}}));
  }
}

void new_category_test(const MonitorSpec& spec, const ColumnProfile& r, const ColumnProfile& c, nlohmann::json& q,
                       Checks& out) {
  std::set<std::string> known;
  for (auto& [v, _] : r.categories) known.insert(v);
  std::uint64_t nnew = 0, total = 0;
  std::vector<std::string> names;
  for (auto& [v, n] : c.categories) {
    total += n;
    if (!known.count(v)) {
      nnew += n;
      if (names.size() < 10) names.push_back(v);
    }
  }
  double s = share_of(nnew, total);
  q["new_categories"] = names;
  q["new_category_share"] = s;
  out.tests.push_back(test("TestNewCategories", "quality", s > spec.quality.new_category_share ? "FAIL" : "SUCCESS",
                           c.name + ": " + fmt(s * 100) + "% of values in categories the reference lacks" +
                               (names.empty() ? "" : " (e.g. '" + names[0] + "')"),
                           {{"column_name", c.name}, {"share", s}, {"new_categories", names}}));
}

// JSON has no infinity: the bounds of a range are numbers or "-inf"/"inf".
nlohmann::json bound(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(v < 0 ? "-inf" : "inf"); }

// Evidently's ColumnValueRangeMetric: the range is the reference's min and
// max with +-inf included (pandas' min/max), and the share is over every
// current value that is not missing, +-inf included: an infinity is out of
// range unless the reference has the same one.
void out_of_range_test(const MonitorSpec& spec, const ColumnProfile& r, const ColumnProfile& c, nlohmann::json& q,
                       Checks& out) {
  const double inf = std::numeric_limits<double>::infinity();
  const std::uint64_t r_pos = r.infinite - r.infinite_negative, c_pos = c.infinite - c.infinite_negative;
  double lo = r.infinite_negative ? -inf : r.sample.n ? r.min : inf;
  double hi = r_pos ? inf : r.sample.n ? r.max : -inf;
  std::uint64_t n_out = (lo > -inf ? c.infinite_negative : 0) + (hi < inf ? c_pos : 0);
  for (std::size_t i = 0; i < c.sample.values.size(); ++i)
    if (c.sample.values[i] < lo || c.sample.values[i] > hi) n_out += c.sample.counts[i];
  double s = share_of(n_out, c.sample.n + c.infinite);
  q["out_of_range_share"] = s;
  q["reference_range"] = {bound(lo), bound(hi)};
  out.tests.push_back(test("TestShareOfOutRangeValues", "quality", s > spec.quality.out_of_range_share ? "FAIL" : "SUCCESS",
                           c.name + ": " + fmt(s * 100) + "% of values outside the reference range [" + fmt(lo) +
                               ", " + fmt(hi) + "]",
                           {{"column_name", c.name}, {"share", s}, {"min", bound(lo)}, {"max", bound(hi)}}));
}

// The quality tests of one column present on both sides.
void column_quality_tests(const MonitorSpec& spec, const ColumnProfile& r, const ColumnProfile& c, nlohmann::json& q,
                          Checks& out) {
  double ms = share_of(c.missing, c.rows), rms = share_of(r.missing, r.rows);
  bool fail = ms > rms + spec.quality.missing_share_increase;
  out.tests.push_back(test("TestShareOfMissingValues", "quality", fail ? "FAIL" : "SUCCESS",
                           c.name + ": " + fmt(ms * 100) + "% missing (reference " + fmt(rms * 100) + "%, allowed +" +
                               fmt(spec.quality.missing_share_increase * 100) + " points)",
                           {{"column_name", c.name}, {"share", ms}, {"reference_share", rms}}));
  if (c.type == ColumnType::categorical && !r.categories_overflow) new_category_test(spec, r, c, q, out);
  if (c.type == ColumnType::numerical && (r.sample.n || r.infinite) && (c.sample.n || c.infinite))
    out_of_range_test(spec, r, c, q, out);
  bool constant = c.present() > 0 && c.distinct() == 1, ref_constant = r.present() > 0 && r.distinct() == 1;
  if (constant && !ref_constant)
    out.tests.push_back(test("TestConstantColumn", "quality", "FAIL", c.name + ": a single value in the current data",
                             {{"column_name", c.name}}));
  if (c.rows > 0 && c.missing == c.rows && r.missing != r.rows)
    out.tests.push_back(test("TestColumnAllMissing", "quality", "FAIL", c.name + ": every value is missing",
                             {{"column_name", c.name}}));
  if (c.invalid)
    out.tests.push_back(test("TestColumnValueTypes", "quality", "FAIL",
                             c.name + ": " + std::to_string(c.invalid) + " values are not numbers",
                             {{"column_name", c.name}, {"invalid", c.invalid}}));
}

void schema_tests(const Plan& plan, Checks& out) {
  for (auto& n : plan.missing_in_cur)
    out.tests.push_back(test("TestColumnRemoved", "quality", "FAIL",
                             n + ": in the reference, missing from the current data", {{"column_name", n}}));
  for (auto& n : plan.added_in_cur)
    out.tests.push_back(test("TestColumnAdded", "quality", "FAIL", n + ": in the current data, not in the reference",
                             {{"column_name", n}}));
  for (auto& [n, change] : plan.type_changed)
    out.tests.push_back(test("TestColumnTypeChanged", "quality", "FAIL", n + ": type changed (" + change + ")",
                             {{"column_name", n}, {"change", change}}));
}

void dataset_quality_tests(const MonitorSpec& spec, const DatasetProfile& cur, Checks& out) {
  double dup = share_of(cur.duplicate_rows, cur.rows);
  out.tests.push_back(test("TestShareOfDuplicatedRows", "quality", dup > spec.quality.duplicate_share ? "FAIL" : "SUCCESS",
                           fmt(dup * 100) + "% duplicated rows" + (cur.duplicates_approximate ? " (estimated)" : ""),
                           {{"share", dup}, {"rows", cur.duplicate_rows}}));
  if (cur.malformed_rows)
    out.tests.push_back(test("TestMalformedRows", "quality", "FAIL",
                             std::to_string(cur.malformed_rows) + " malformed rows in the current data (first: " +
                                 cur.malformed[0].file + ":" + std::to_string(cur.malformed[0].line) + ": " +
                                 cur.malformed[0].message + ")",
                             {{"rows", cur.malformed_rows}}));
  if (cur.rows == 0) out.tests.push_back(test("TestCurrentNotEmpty", "quality", "FAIL", "the current data has no rows", {}));
}

void quality_tests(const MonitorSpec& spec, const Profiles& p, const Plan& plan, Checks& out) {
  nlohmann::json qcols = nlohmann::json::array();
  for (auto& c : p.cur.columns) {
    if (plan.ignored.count(c.name)) continue;
    const ColumnProfile* r = p.ref.find(c.name);
    nlohmann::json q = {{"column_name", c.name}, {"column_type", to_string(c.type)},
                        {"missing_share", share_of(c.missing, c.rows)},
                        {"reference_missing_share", r ? share_of(r->missing, r->rows) : 0},
                        {"invalid_values", c.invalid}, {"infinite_values", c.infinite}, {"distinct", c.distinct()}};
    if (r) column_quality_tests(spec, *r, c, q, out);
    qcols.push_back(q);
  }
  schema_tests(plan, out);
  dataset_quality_tests(spec, p.cur, out);
  out.metrics.push_back({{"metric", "DatasetQualityMetric"},
                         {"result",
                          {{"reference_rows", p.ref.rows}, {"current_rows", p.cur.rows},
                           {"duplicated_rows", p.cur.duplicate_rows},
                           {"duplicates_approximate", p.cur.duplicates_approximate}, {"columns", qcols}}}});
}

void performance_tests(const MonitorSpec& spec, const Profiles& p, Checks& out) {
  const auto& cur = p.cur.performance;
  const auto& ref = p.ref.performance;
  out.perf_known = !cur.is_null() && cur.value("rows", 0) > 0;
  if (!out.perf_known) return;
  out.metrics.push_back({{"metric", "ModelPerformanceMetric"}, {"result", {{"current", cur}, {"reference", ref}}}});
  for (const char* m : {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "mae", "rmse", "mape", "r2"}) {
    if (!cur.contains(m) || ref.is_null() || !ref.contains(m)) continue;
    double c = cur[m], r = ref[m];
    bool hib = higher_is_better(m);
    double limit = hib ? r - std::fabs(r) * spec.performance.degradation : r + std::fabs(r) * spec.performance.degradation;
    bool fail = hib ? c < limit : c > limit;
    out.tests.push_back(test(std::string("TestPerformance_") + m, "performance", fail ? "FAIL" : "SUCCESS",
                             std::string(m) + " " + fmt(c) + " (reference " + fmt(r) + ", " + (hib ? "min " : "max ") +
                                 fmt(limit) + ")",
                             {{"metric", m}, {"current", c}, {"reference", r}, {"limit", limit}}));
  }
}

bool group_failed(const nlohmann::json& tests, const std::string& group) {
  for (auto& t : tests)
    if (t["group"] == group && t["status"] == "FAIL") return true;
  return false;
}

// "drift", "ok", or "unknown" when the column was not tested (no target/prediction).
std::string role_verdict(const nlohmann::json& tests, const std::string& test_name) {
  for (auto& t : tests)
    if (t["name"] == test_name) return t["status"] == "FAIL" ? "drift" : t["status"] == "SUCCESS" ? "ok" : "unknown";
  return "unknown";
}

nlohmann::json verdict_summary(const Checks& checks, double seconds) {
  nlohmann::json drifted = nlohmann::json::array();
  for (auto& d : checks.drifts)
    if (d.drifted) drifted.push_back(d.column);
  return {{"drift", checks.dataset_drift ? "drift" : "ok"},
          {"target_drift", role_verdict(checks.tests, "TestTargetDrift")},
          {"prediction_drift", role_verdict(checks.tests, "TestPredictionDrift")},
          {"quality", group_failed(checks.tests, "quality") ? "fail" : "ok"},
          {"performance", !checks.perf_known ? "unknown" : group_failed(checks.tests, "performance") ? "fail" : "ok"},
          {"drifted_columns", drifted},
          {"seconds", seconds}};
}

nlohmann::json result_document(const MonitorSpec& spec, const Inputs& in, const Profiles& p, Checks& checks) {
  nlohmann::json malformed = nlohmann::json::array();
  for (auto* d : {&p.ref, &p.cur})
    for (auto& m : d->malformed) malformed.push_back({{"file", m.file}, {"line", m.line}, {"message", m.message}});
  nlohmann::json result;
  result["version"] = 1;
  result["monitor"] = spec.name;
  result["created_at"] = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  result["reference"] = {{"sources", p.ref.sources}, {"rows", p.ref.rows},
                         {"profile", p.ref_cached ? "cached" : "computed"}, {"bytes_read", p.ref.bytes_read},
                         {"malformed_rows", p.ref.malformed_rows}};
  if (!in.lineage.is_null()) result["reference"]["lineage"] = in.lineage;
  result["current"] = {{"sources", p.cur.sources}, {"rows", p.cur.rows}, {"bytes_read", p.cur.bytes_read},
                       {"malformed_rows", p.cur.malformed_rows}};
  if (!in.served_by.empty()) result["current"]["served_by"] = in.served_by;  // what was checked
  if (spec.since) result["current"]["since"] = *spec.since;
  if (spec.until) result["current"]["until"] = *spec.until;
  result["metrics"] = std::move(checks.metrics);
  result["tests"] = std::move(checks.tests);
  result["malformed"] = malformed;
  return result;
}

// Fairness of one side: null without target and prediction, an error when
// that side cannot be scored (live traffic has no labels yet).
nlohmann::json side_fairness(const MonitorSpec& spec, const std::vector<Source>& src, const std::string& column,
                             bool current) {
  if (spec.roles.target.empty() || spec.roles.prediction.empty()) return nullptr;
  ReadOptions read;
  read.format = spec.format;
  try {
    if (!current) return fairness(src, read, column, spec.roles.target, spec.roles.prediction, spec.roles.task);
    return fairness(src, read, column, spec.roles.target, spec.roles.prediction, spec.roles.task, spec.roles.timestamp,
                    spec.since, spec.until);
  } catch (const InputError& e) {
    return {{"error", e.what()}};
  }
}

// --segment-by: the checks per segment and the disparities between segments.
nlohmann::json segments_section(const MonitorSpec& spec, const Inputs& in, const DatasetProfile& ref) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& column : spec.segments) {
    if (!ref.find(column))
      throw InputError("segment column '" + column + "' is not in the reference data", "check --segment-by / segments:");
    out.push_back({{"column", column},
                   {"segments", segment_checks(spec, in.reference, in.current, column)},
                   {"fairness",
                    {{"reference", side_fairness(spec, in.reference, column, false)},
                     {"current", side_fairness(spec, in.current, column, true)}}}});
  }
  return out;
}

}  // namespace

nlohmann::json run_monitor(const MonitorSpec& spec, Repo* repo) {
  Inputs in = resolve_sources(spec, repo);
  Profiles p = profile_both(spec, repo, in);
  check_named_columns(spec, p.ref, p.cur);
  apply_evidently_types(spec, p);
  Plan plan = plan_columns(spec, p.ref, p.cur);
  Checks checks;
  std::vector<RoleDrift> roles = role_drifts(spec, p);
  column_drift_tests(spec, p, plan, roles, checks);
  role_drift_tests(roles, checks);
  quality_tests(spec, p, plan, checks);
  performance_tests(spec, p, checks);
  nlohmann::json summary = verdict_summary(checks, p.seconds);
  nlohmann::json result = result_document(spec, in, p, checks);
  if (!spec.segments.empty()) result["segments"] = segments_section(spec, in, p.ref);
  result["summary"] = summary;
  return result;
}

// ---- history: the store keeps every result; the index makes them queryable.

namespace {

const Migrations kMigrations = {
    "monitor",
    {"CREATE TABLE monitor_results(id TEXT PRIMARY KEY, monitor TEXT NOT NULL, created_at REAL NOT NULL,"
     " dataset_drift INTEGER NOT NULL, drift_share REAL, quality_ok INTEGER, performance TEXT,"
     " current_rows INTEGER, current_since REAL, current_until REAL);"
     "CREATE INDEX monitor_results_by_name ON monitor_results(monitor, created_at);"
     "CREATE TABLE monitor_columns(result_id TEXT NOT NULL, column_name TEXT NOT NULL, method TEXT,"
     " score REAL, threshold REAL, drifted INTEGER, PRIMARY KEY(result_id, column_name));"
     "CREATE TABLE monitor_actions(id TEXT PRIMARY KEY, result_id TEXT NOT NULL, monitor TEXT NOT NULL,"
     " created_at REAL NOT NULL, action TEXT NOT NULL, status TEXT NOT NULL, evidence TEXT);"}};

fs::path results_log(Repo& repo) { return repo.cache_dir() / "monitor" / "results.log"; }

void append_log(Repo& repo, const std::string& line) {
  fs::create_directories(results_log(repo).parent_path());
  std::ofstream f(results_log(repo), std::ios::app);
  f << line << "\n";
  f.flush();
  if (!f) throw InputError(results_log(repo).string() + ": cannot append", "check permissions and free space");
}

void index_result(Database& db, const std::string& id, const nlohmann::json& r) {
  const nlohmann::json* dd = nullptr;
  for (auto& m : r["metrics"])
    if (m["metric"] == "DatasetDriftMetric") dd = &m["result"];
  auto st = db.prepare(
      "INSERT OR REPLACE INTO monitor_results(id, monitor, created_at, dataset_drift, drift_share, quality_ok,"
      " performance, current_rows, current_since, current_until) VALUES(?,?,?,?,?,?,?,?,?,?)");
  st.bind(1, id).bind(2, r["monitor"].get<std::string>()).bind(3, r["created_at"].get<double>());
  st.bind(4, static_cast<std::int64_t>(dd && (*dd)["dataset_drift"].get<bool>()));
  st.bind(5, dd ? (*dd)["share_of_drifted_columns"].get<double>() : 0.0);
  st.bind(6, static_cast<std::int64_t>(r["summary"]["quality"] == "ok"));
  st.bind(7, r["summary"]["performance"].get<std::string>());
  st.bind(8, r["current"]["rows"].get<std::int64_t>());
  if (r["current"].contains("since")) st.bind(9, r["current"]["since"].get<double>()); else st.bind_null(9);
  if (r["current"].contains("until")) st.bind(10, r["current"]["until"].get<double>()); else st.bind_null(10);
  st.run();
  auto cs = db.prepare(
      "INSERT OR REPLACE INTO monitor_columns(result_id, column_name, method, score, threshold, drifted) VALUES(?,?,?,?,?,?)");
  for (auto& m : r["metrics"]) {
    if (m["metric"] != "ColumnDriftMetric") continue;
    auto& c = m["result"];
    cs.bind(1, id).bind(2, c["column_name"].get<std::string>()).bind(3, c["stattest_name"].get<std::string>());
    if (c["drift_score"].is_number()) cs.bind(4, c["drift_score"].get<double>()); else cs.bind_null(4);
    cs.bind(5, c["stattest_threshold"].get<double>()).bind(6, static_cast<std::int64_t>(c["drift_detected"].get<bool>()));
    cs.run();
  }
}

void index_action(Database& db, const std::string& id, const nlohmann::json& a) {
  auto st = db.prepare(
      "INSERT OR REPLACE INTO monitor_actions(id, result_id, monitor, created_at, action, status, evidence)"
      " VALUES(?,?,?,?,?,?,?)");
  st.bind(1, id).bind(2, a["result_id"].get<std::string>()).bind(3, a["monitor"].get<std::string>());
  // The action column keeps what was done plus the outcome's details
  // (version registered, gates, reason), lifted back out by history().
  nlohmann::json what = a.value("action", nlohmann::json::object());
  for (const char* k : {"version", "gates", "reason"})
    if (a.contains(k)) what[std::string("_") + k] = a[k];
  st.bind(4, a["created_at"].get<double>()).bind(5, what.dump()).bind(6, a["status"].get<std::string>());
  st.bind(7, a.value("evidence", nlohmann::json::object()).dump());
  st.run();
}

}  // namespace

namespace {
// The store keeps the object (and the log names it) before the index learns of it.
std::string store_and_index(Repo& repo, const std::string& kind, const nlohmann::json& doc,
                            void (*index)(Database&, const std::string&, const nlohmann::json&)) {
  // Column names and categories are the data's bytes: not always UTF-8.
  std::string id = repo.cache().add_bytes(doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  append_log(repo, kind + " " + id);
  Database& db = repo.index();
  db.migrate(kMigrations);
  Transaction tx(db);
  index(db, id, doc);
  tx.commit();
  return id;
}
}  // namespace

std::string record_result(Repo& repo, nlohmann::json& result) {
  std::string id = store_and_index(repo, "result", result, index_result);
  result["id"] = id;
  return id;
}

namespace {
// A result without what changes when the same check is computed again.
nlohmann::json repeatable_part(nlohmann::json r) {
  r.erase("id");
  r.erase("created_at");
  if (r.contains("summary")) r["summary"].erase("seconds");
  if (r.contains("reference")) {
    r["reference"].erase("profile");     // cached or computed
    r["reference"].erase("bytes_read");  // 0 when cached
  }
  return r;
}
}  // namespace

std::string repeated_result(Repo& repo, const nlohmann::json& result) {
  Database& db = repo.index();
  db.migrate(kMigrations);
  auto st = db.prepare("SELECT id FROM monitor_results WHERE monitor = ? ORDER BY created_at DESC LIMIT 1");
  st.bind(1, result.value("monitor", ""));
  if (!st.step()) return "";
  std::string id = st.text(0);
  if (!repo.cache().has(id)) return "";
  auto last = nlohmann::json::parse(repo.cache().read(id), nullptr, false);
  if (last.is_discarded() || repeatable_part(last) != repeatable_part(result)) return "";
  return id;
}

void record_action(Repo& repo, const std::string& result_id, const std::string& monitor, const nlohmann::json& action) {
  nlohmann::json a = action;
  a["result_id"] = result_id;
  a["monitor"] = monitor;
  if (!a.contains("created_at"))
    a["created_at"] = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  store_and_index(repo, "action", a, index_action);
}

nlohmann::json history(Repo& repo, const std::string& name, int limit) {
  Database& db = repo.index();
  db.migrate(kMigrations);
  std::string sql =
      "SELECT id, monitor, created_at, dataset_drift, drift_share, quality_ok, performance, current_rows FROM ("
      "SELECT * FROM monitor_results" +
      std::string(name.empty() ? "" : " WHERE monitor = ?1") + " ORDER BY created_at DESC LIMIT " +
      std::to_string(limit) + ") ORDER BY created_at";
  auto st = db.prepare(sql);
  if (!name.empty()) st.bind(1, name);
  nlohmann::json out = nlohmann::json::array();
  auto cs = db.prepare("SELECT column_name, method, score, threshold, drifted FROM monitor_columns WHERE result_id = ? ORDER BY column_name");
  auto as = db.prepare("SELECT action, status, evidence, created_at FROM monitor_actions WHERE result_id = ? ORDER BY created_at");
  while (st.step()) {
    nlohmann::json r = {{"id", st.text(0)}, {"monitor", st.text(1)}, {"created_at", st.real(2)},
                        {"dataset_drift", st.int64(3) != 0}, {"share_of_drifted_columns", st.real(4)},
                        {"quality_ok", st.int64(5) != 0}, {"performance", st.text(6)}, {"current_rows", st.int64(7)}};
    cs.bind(1, st.text(0));
    nlohmann::json cols = nlohmann::json::object();
    while (cs.step())
      cols[cs.text(0)] = {{"method", cs.text(1)},
                          {"score", cs.is_null(2) ? nlohmann::json(nullptr) : nlohmann::json(cs.real(2))},
                          {"threshold", cs.real(3)},
                          {"drifted", cs.int64(4) != 0}};
    cs.reset();
    r["columns"] = cols;
    as.bind(1, st.text(0));
    nlohmann::json acts = nlohmann::json::array();
    while (as.step()) {
      nlohmann::json what = nlohmann::json::parse(as.text(0));
      nlohmann::json act = {{"status", as.text(1)}, {"evidence", nlohmann::json::parse(as.text(2))},
                            {"created_at", as.real(3)}};
      for (const char* k : {"version", "gates", "reason"}) {
        std::string key = std::string("_") + k;
        if (what.is_object() && what.contains(key)) {
          act[k] = what[key];
          what.erase(key);
        }
      }
      act["action"] = what;
      acts.push_back(act);
    }
    as.reset();
    if (!acts.empty()) r["actions"] = acts;
    out.push_back(r);
  }
  return out;
}

nlohmann::json daily_drift_matrix(const MonitorSpec& spec, Repo* repo) {
  if (spec.roles.timestamp.empty())
    throw UsageError("--heatmap needs a timestamp column", "name it with --timestamp COL or columns.timestamp");
  auto src = resolve_inputs(spec.current.empty() ? spec.reference : spec.current, repo, spec.format);
  // pass 1: the days present
  ProfileOptions o = profile_options(spec);
  o.exact_limit = std::min<std::uint64_t>(spec.exact_limit, 1 << 16);
  std::set<long long> days;
  RowVisitor v;
  long ts = -1;
  v.header = [&](const std::vector<std::string>& names) {
    ts = -1;
    for (std::size_t i = 0; i < names.size(); ++i)
      if (names[i] == spec.roles.timestamp) ts = static_cast<long>(i);
    if (ts < 0) throw InputError("timestamp column '" + spec.roles.timestamp + "' is not in the data", "check --timestamp");
  };
  v.row = [&](const std::vector<Cell>& cells, std::string_view) {
    if (auto t = parse_timestamp(cells[static_cast<std::size_t>(ts)].text)) days.insert(static_cast<long long>(std::floor(*t / 86400)));
  };
  v.malformed = [](const Malformed&) {};
  for (auto& s : src) read_table(s, o.read, v);
  if (days.size() > 366) throw InputError("the data spans " + std::to_string(days.size()) + " days; the heatmap shows at most 366",
                                          "narrow it with --since/--until");
  // one profile per day (one pass per day: memory stays bounded)
  std::vector<long long> dl(days.begin(), days.end());
  std::vector<DatasetProfile> profiles;
  o.timestamp_column = spec.roles.timestamp;
  for (long long d : dl) {
    o.since = static_cast<double>(d) * 86400;
    o.until = static_cast<double>(d + 1) * 86400;
    profiles.push_back(build_profile(src, o));
  }
  std::set<std::string> skip = {spec.roles.target, spec.roles.prediction, spec.roles.timestamp};
  for (auto& c : spec.roles.ignored) skip.insert(c);
  nlohmann::json matrix = nlohmann::json::array(), labels = nlohmann::json::array();
  for (long long d : dl) {
    std::time_t t = static_cast<std::time_t>(d * 86400);
    char buf[16];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", std::gmtime(&t));
    labels.push_back(buf);
  }
  for (std::size_t i = 0; i < profiles.size(); ++i) {
    nlohmann::json row = nlohmann::json::array();
    for (std::size_t j = 0; j < profiles.size(); ++j) {
      int tested = 0, drifted = 0;
      for (auto& rc : profiles[i].columns) {
        if (skip.count(rc.name)) continue;
        if (!spec.roles.features.empty() && !std::count(spec.roles.features.begin(), spec.roles.features.end(), rc.name)) continue;
        const ColumnProfile* cc = profiles[j].find(rc.name);
        if (!cc) continue;
        ColumnProfile c2 = *cc;
        coerce_column(c2, rc.type);
        std::optional<ColumnProfile> r2;  // Evidently's types, as in run_monitor
        if (rc.type == ColumnType::numerical && !declared_type(spec, rc.name) &&
            evidently_column_type(rc, &c2, ColumnRole::feature, spec.roles.task) == ColumnType::categorical) {
          r2 = rc;
          coerce_column(*r2, ColumnType::categorical);
          coerce_column(c2, ColumnType::categorical);
        }
        ColumnDrift d = column_drift(r2 ? *r2 : rc, c2, spec.drift);
        if (!d.error.empty()) continue;
        ++tested;
        drifted += d.drifted;
      }
      row.push_back(tested ? static_cast<double>(drifted) / tested : 0.0);
    }
    matrix.push_back(row);
  }
  return {{"days", labels}, {"share_of_drifted_columns", matrix}};
}

}  // namespace monitor

void rebuild_monitor_index(Repo& repo) {
  Database& db = repo.index();
  db.migrate(monitor::kMigrations);
  Transaction tx(db);
  db.exec("DELETE FROM monitor_columns; DELETE FROM monitor_results; DELETE FROM monitor_actions;");
  auto log = read_file_if_exists(monitor::results_log(repo));
  if (log) {
    std::size_t pos = 0;
    while (pos < log->size()) {
      std::size_t nl = log->find('\n', pos);
      if (nl == std::string::npos) nl = log->size();
      std::string line = log->substr(pos, nl - pos);
      pos = nl + 1;
      auto sp = line.find(' ');
      if (sp == std::string::npos) continue;
      std::string kind = line.substr(0, sp), id = line.substr(sp + 1);
      if (!is_sha256_hex(id) || !repo.cache().has(id)) continue;
      auto j = nlohmann::json::parse(repo.cache().read(id), nullptr, false);
      if (j.is_discarded()) continue;
      if (kind == "result") monitor::index_result(db, id, j);
      else if (kind == "action") monitor::index_action(db, id, j);
    }
  }
  tx.commit();
}

}  // namespace mlo
