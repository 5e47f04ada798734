#include "pipeline/experiments.h"

#include <algorithm>
#include <map>
#include <optional>
#include <regex>
#include <set>

#include "core/error.h"
#include "core/format.h"
#include "core/fs.h"
#include "core/safe_path.h"
#include "pipeline/experiment_index.h"
#include "pipeline/pipeline.h"
#include "pipeline/runs.h"
#include "pipeline/runs_index.h"
#include "repo/repo.h"

namespace mlo {

using json = nlohmann::json;

json Experiment::to_json() const {
  return {{"id", id},
          {"sweep", sweep.empty() ? json(nullptr) : json(sweep)},
          {"started_at", started_at},
          {"git_commit", git_commit},
          {"status", status},
          {"stages", stages},
          {"runs", runs},
          {"params", params},
          {"metrics", metrics}};
}

namespace {

void merge_into(json& into, const json& from) {
  if (!from.is_object()) return;
  for (auto it = from.begin(); it != from.end(); ++it) into[it.key()] = it.value();
}

}  // namespace

std::vector<Experiment> group_runs(const std::vector<json>& rows) {
  std::vector<Experiment> out;
  std::map<std::string, size_t> at;
  // Oldest first, so a later stage's values win over an earlier one's.
  for (auto r = rows.rbegin(); r != rows.rend(); ++r) {
    std::string id = r->value("experiment", "");
    if (id.empty()) id = r->value("id", "");
    auto [it, fresh] = at.emplace(id, out.size());
    if (fresh) {
      Experiment e;
      e.id = id;
      e.sweep = r->value("sweep", "");
      e.started_at = r->value("started_at", 0.0);
      e.git_commit = r->value("git_commit", "");
      e.status = "succeeded";
      out.push_back(std::move(e));
    }
    Experiment& e = out[it->second];
    e.stages.push_back(r->value("stage", ""));
    e.runs.push_back(r->value("id", ""));
    std::string status = r->value("status", "");
    if (e.status == "succeeded" && status != "succeeded") e.status = status;
    if (auto p = r->find("params"); p != r->end()) merge_into(e.params, *p);
    if (auto m = r->find("metrics"); m != r->end()) merge_into(e.metrics, *m);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

void unknown_sort_key(const std::string& key, const std::set<std::string>& metrics, const std::set<std::string>& params) {
  std::vector<std::string> all(metrics.begin(), metrics.end());
  all.insert(all.end(), params.begin(), params.end());
  std::string near = closest_match(key, all);
  std::string known;
  for (size_t i = 0; i < all.size() && i < 12; ++i) known += (i ? ", " : "") + all[i];
  throw UsageError("--sort " + key + ": no experiment has a metric or param '" + key + "'",
                   (near.empty() ? std::string() : "did you mean '" + near + "'? ") +
                       (all.empty() ? "the experiments have no metrics or params" : "known: " + known));
}

namespace {

// Which field a sort key names: ("metrics"|"params", name).
std::pair<std::string, std::string> sort_field(const std::vector<Experiment>& exps, const std::string& key) {
  std::set<std::string> metrics, params;
  for (const auto& e : exps) {
    for (auto it = e.metrics.begin(); it != e.metrics.end(); ++it) metrics.insert(it.key());
    for (auto it = e.params.begin(); it != e.params.end(); ++it) params.insert(it.key());
  }
  for (const char* kind : {"metrics", "params"}) {
    std::string prefix = std::string(kind) + ".";
    auto& names = kind[0] == 'm' ? metrics : params;
    if (key.rfind(prefix, 0) == 0 && names.count(key.substr(prefix.size()))) return {kind, key.substr(prefix.size())};
  }
  if (metrics.count(key)) return {"metrics", key};
  if (params.count(key)) return {"params", key};
  unknown_sort_key(key, metrics, params);
}

// Numbers before strings; otherwise by value.
bool value_less(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) return a.get<double>() < b.get<double>();
  if (a.is_number() != b.is_number()) return a.is_number();
  return a.dump() < b.dump();
}

void sort_experiments(std::vector<Experiment>& exps, const ExperimentQuery& q) {
  auto [kind, name] = sort_field(exps, q.sort);
  auto value = [&, kind = kind, name = name](const Experiment& e) -> const json* {
    const json& obj = kind == "metrics" ? e.metrics : e.params;
    auto it = obj.find(name);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
  };
  std::stable_sort(exps.begin(), exps.end(), [&](const Experiment& a, const Experiment& b) {
    const json *va = value(a), *vb = value(b);
    if (!va || !vb) return va && !vb;  // missing values last
    return q.ascending ? value_less(*va, *vb) : value_less(*vb, *va);
  });
}

}  // namespace

std::vector<Experiment> list_experiments(Repo& repo, const ExperimentQuery& query) {
  if (query.limit < 0) throw UsageError("--limit must be 0 (all) or more");
  std::vector<Experiment> exps = group_runs(list_runs(repo, RunQuery{}));
  if (!query.sort.empty() && !exps.empty()) sort_experiments(exps, query);
  if (query.limit > 0 && exps.size() > static_cast<size_t>(query.limit)) exps.resize(static_cast<size_t>(query.limit));
  return exps;
}

const char* const kExperimentKey = "COALESCE(NULLIF(experiment, ''), id)";

std::vector<Experiment> experiments_of(Database& db, const std::vector<std::string>& keys) {
  if (keys.empty()) return {};
  std::string marks(keys.size() * 2 - 1, ',');
  for (std::size_t i = 0; i < marks.size(); i += 2) marks[i] = '?';
  auto rows = db.prepare(std::string("SELECT ") + kRunColumns + " FROM runs WHERE " + kExperimentKey + " IN (" + marks +
                         ") ORDER BY started_at DESC, id DESC");
  for (std::size_t i = 0; i < keys.size(); ++i) rows.bind(static_cast<int>(i + 1), keys[i]);
  std::vector<json> runs;
  while (rows.step()) runs.push_back(summary_from_row(rows));
  return group_runs(runs);
}

// ---- writing params back ------------------------------------------------------

namespace {

std::vector<std::string> split_dots(const std::string& key) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t dot; (dot = key.find('.', start)) != std::string::npos; start = dot + 1)
    parts.push_back(key.substr(start, dot - start));
  parts.push_back(key.substr(start));
  return parts;
}

// The YAML text of a scalar param value.
std::string scalar_text(const json& v) {
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    // Plain when it reads back as the same string, else double-quoted (JSON
    // string syntax is valid YAML).
    bool plain = !s.empty() && scalar_to_json(s) == v && s.find_first_of(":#{}[],&*!|>'\"%@`\n") == std::string::npos &&
                 s.front() != ' ' && s.back() != ' ' && s.front() != '-';
    return plain ? s : v.dump();
  }
  return v.dump();
}

// The value at `parts` in a YAML document; nullopt when absent.
std::optional<json> value_at(const std::string& text, const std::vector<std::string>& parts, const std::string& where) {
  YAML::Node n = load_yaml(text, where);
  for (const auto& part : parts) {
    const YAML::Node& cn = n;
    if (!cn.IsMap() || !cn[part]) return std::nullopt;
    n.reset(cn[part]);
  }
  return yaml_to_json(n);
}

// Replaces the value on the line of a block-style `key: value` whose parent
// keys are `parts` (indentation decides nesting), keeping a trailing
// comment. nullopt when no such line holds a plain scalar.
std::optional<std::string> replace_in_place(const std::string& text, const std::vector<std::string>& parts,
                                            const std::string& value) {
  static const std::regex line_re(R"(^( *)([A-Za-z0-9_][A-Za-z0-9_. -]*?) *:( +([^#\n]*?))?( +#.*)?\r?$)");
  std::vector<std::pair<size_t, std::string>> stack;  // (indent, key)
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    std::smatch m;
    // Long lines are left to the re-emit path (std::regex recurses per character).
    if (line.size() <= 512 && std::regex_match(line, m, line_re)) {
      size_t indent = static_cast<size_t>(m[1].length());
      while (!stack.empty() && stack.back().first >= indent) stack.pop_back();
      stack.emplace_back(indent, m[2].str());
      bool match = stack.size() == parts.size() &&
                   std::equal(parts.begin(), parts.end(), stack.begin(), [](const std::string& p, const auto& s) {
                     return p == s.second;
                   });
      std::string old = m[4].str();
      if (match && !old.empty() && std::string("|>{[&*!").find(old[0]) == std::string::npos) {
        size_t at = pos + static_cast<size_t>(m.position(4));
        return text.substr(0, at) + value + text.substr(at + old.size());
      }
    }
    pos = end + 1;
  }
  return std::nullopt;
}

// Re-emits the document with the value set (yaml-cpp keeps key order).
std::string reemit(const std::string& text, const std::vector<std::string>& parts, const json& value,
                   const std::string& where) {
  YAML::Node root = load_yaml(text, where);
  if (!root.IsDefined() || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  YAML::Node n = root;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (n.IsDefined() && !n.IsMap() && !n.IsNull())  // undefined: a key being added
      throw InputError(where + ": " + (i ? "'" + parts[i - 1] + "'" : std::string("the document")) +
                           " is not a mapping, can not set '" + parts[i] + "' in it",
                       "edit " + where + " by hand");
    YAML::Node child = n[parts[i]];
    n.reset(child);
  }
  n = YAML::Load(scalar_text(value));
  YAML::Emitter out;
  out << root;
  return std::string(out.c_str()) + "\n";
}

}  // namespace

std::string set_yaml_param(const std::string& text, const std::string& key, const json& value,
                           const std::string& where) {
  std::vector<std::string> parts = split_dots(key);
  if (auto edited = replace_in_place(text, parts, scalar_text(value))) {
    // Trust the line edit only when the file reads back with the new value.
    try {
      if (value_at(*edited, parts, where) == value) return *edited;
    } catch (const Error&) {
    }
  }
  return reemit(text, parts, value, where);
}

namespace {

const Experiment& find_experiment(const std::vector<Experiment>& exps, const std::string& id) {
  std::vector<const Experiment*> hits;
  for (const auto& e : exps) {
    if (e.id == id) return e;
    if (e.id.rfind(id, 0) == 0) hits.push_back(&e);
  }
  if (hits.size() == 1) return *hits[0];
  if (hits.size() > 1) {
    std::string some;
    for (size_t i = 0; i < hits.size() && i < 5; ++i) some += (i ? ", " : "") + hits[i]->id;
    throw UsageError("experiment id '" + id + "' is ambiguous: " + some + (hits.size() > 5 ? ", ..." : ""),
                     "give more of the id (see 'mlo exp show')");
  }
  std::vector<std::string> ids;
  for (const auto& e : exps) ids.push_back(e.id);
  std::string near = closest_match(id, ids);
  throw UsageError("no experiment '" + id + "'" + (exps.empty() ? " (no runs recorded yet)" : ""),
                   near.empty() ? std::string(exps.empty() ? "run the pipeline with 'mlo run' first"
                                                           : "see the ids with 'mlo exp show'")
                                : "did you mean '" + near + "'? (see 'mlo exp show')");
}

}  // namespace

AppliedExperiment apply_experiment(Repo& repo, const std::string& id) {
  std::vector<Experiment> exps = list_experiments(repo, {});
  const Experiment& exp = find_experiment(exps, id);
  // File -> (key -> value), each file read and written once.
  std::map<std::string, std::vector<std::pair<std::string, json>>> by_file;
  for (auto it = exp.params.begin(); it != exp.params.end(); ++it) {
    std::string ref = normalize_param_ref(it.key());
    std::string file = ref.substr(0, ref.find(':'));
    checked_relative(file, "param '" + it.key() + "' of experiment " + exp.id);
    by_file[file].emplace_back(ref.substr(file.size() + 1), it.value());
  }
  AppliedExperiment applied{exp.id, {}};
  for (const auto& [file, values] : by_file) {
    fs::path path = repo.root() / file;
    std::string text = read_file_if_exists(path).value_or("");
    const std::string before = text;
    for (const auto& [key, value] : values) {
      std::optional<json> old = value_at(text, split_dots(key), file);
      if (old == value) continue;
      text = set_yaml_param(text, key, value, file);
      applied.changed.push_back({file, key, old.value_or(json(nullptr)), value});
    }
    if (text != before) write_file_atomic(path, text, false);
  }
  return applied;
}

}  // namespace mlo
