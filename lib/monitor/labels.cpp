#include "monitor/labels.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <fstream>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "core/parse.h"
#include "core/hash.h"
#include "core/process.h"
#include "monitor/profile.h"
#include "monitor/request_log.h"
#include "monitor/table.h"
#include "registry/registry.h"
#include "repo/record_refs.h"
#include "repo/repo.h"

namespace mlo::monitor {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

fs::path log_path(Repo& repo, const std::string& env) { return repo.mlo_dir() / "deploy" / env / "requests.jsonl"; }

std::string cell_text(const ojson* v) {
  if (!v || v->is_null()) return "";
  if (v->is_string()) return v->get<std::string>();
  if (v->is_boolean()) return v->get<bool>() ? "true" : "false";
  return v->dump();
}

// A string field of a log record ("" when absent or not a string: logs may be damaged).
std::string text_of(const ojson& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

bool as_number(const std::string& t, double& v) { return !t.empty() && parse_number(t, v); }

// Classification compares labels as classes: numbers by value ("1" == "1.0"),
// scores against the threshold; anything else as text.
bool same_class(const std::string& pred, const std::string& label, const std::optional<double>& threshold) {
  double p, l;
  bool pn = as_number(pred, p), ln = as_number(label, l);
  if (pn && threshold) p = p >= *threshold ? 1 : 0;
  if (pn && ln) return p == l;
  return pred == label;
}

std::string infer_task(const std::vector<std::string>& labels) {
  std::set<std::string> distinct;
  for (const auto& l : labels) {
    double v;
    if (!as_number(l, v)) return "classification";
    if (v != std::floor(v)) return "regression";
    distinct.insert(l);
  }
  return distinct.size() <= 20 ? "classification" : "regression";
}

struct Acc {
  long requests = 0, labelled = 0, correct = 0;
  double abs_err = 0, sq_err = 0;
  void add(const std::string& task, const std::string& pred, const std::string& label, const std::optional<double>& thr) {
    ++labelled;
    if (task == "classification") {
      correct += same_class(pred, label, thr);
      return;
    }
    double p, l;
    if (as_number(pred, p) && as_number(label, l)) {
      abs_err += std::abs(p - l);
      sq_err += (p - l) * (p - l);
    }
  }
  void put(const std::string& task, json& j) const {
    j["requests"] = requests;
    j["labelled"] = labelled;
    if (labelled == 0) return;
    if (task == "classification") {
      j["accuracy"] = static_cast<double>(correct) / static_cast<double>(labelled);
      j["error_rate"] = 1.0 - static_cast<double>(correct) / static_cast<double>(labelled);
    } else {
      j["mae"] = abs_err / static_cast<double>(labelled);
      j["rmse"] = std::sqrt(sq_err / static_cast<double>(labelled));
    }
  }
};

std::string iso(double t) { return registry::format_time(static_cast<std::int64_t>(std::floor(t))); }

// ---- the history: one git ref per join ----

// The environment's joins' refs. The name becomes part of a git ref.
std::string labels_prefix(const std::string& env) {
  bool ok = !env.empty() && env.size() <= 100 && env[0] != '.' && env[0] != '-' && env.find("..") == std::string::npos &&
            !env.ends_with(".lock");
  for (char c : env)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') ok = false;
  if (!ok) throw UsageError("bad environment name '" + env + "'", "use letters, digits, '-', '_' and '.' (e.g. production)");
  return std::string(kLabelsRefs) + env + "/";
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// "<ns, 20 digits>-<id>": refs list in the order the joins were recorded.
std::string record_name(std::int64_t ns, const std::string& id) {
  std::string digits = std::to_string(std::max<std::int64_t>(ns, 0));
  return std::string(20 - std::min<std::size_t>(20, digits.size()), '0') + digits + "-" + (id.empty() ? "x" : id);
}

// A join's id in a ref name: its hex digits (a legacy file may hold anything).
std::string ref_safe_id(const std::string& id) {
  std::string out;
  for (char c : id)
    if (std::isxdigit(static_cast<unsigned char>(c)) && out.size() < 64) out += c;
  return out;
}

std::int64_t recorded_ns(const std::string& name) {
  std::int64_t ns = 0;
  for (std::size_t i = 0; i < name.size() && i < 20 && std::isdigit(static_cast<unsigned char>(name[i])); ++i)
    ns = ns * 10 + (name[i] - '0');
  return ns;
}

// A string field of a recorded join ("" when absent or not a string: refs
// come from other clones).
std::string join_field(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// What readers of a join rely on (refs may come from any clone; anything
// else is left out, like a torn line of the legacy file).
bool well_formed(const json& j) {
  auto w = j.find("windows");
  if (w == j.end() || !w->is_array() || !j.contains("metric") || !j["metric"].is_string()) return false;
  for (const auto& x : *w)
    if (!x.is_object() || !x.contains("start") || !x["start"].is_string()) return false;
  return true;
}

struct Recorded {
  std::string at;      // computed_at
  std::int64_t ns = 0; // when recorded (legacy joins: computed_at's second)
  json doc;
};

// Joins recorded in the clone-local file before the history moved to refs.
std::vector<Recorded> legacy_joins(Repo& repo, const std::string& env) {
  std::vector<Recorded> out;
  std::ifstream in(repo.mlo_dir() / "monitor" / "labels" / (env + ".jsonl"));
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line, nullptr, false);
    if (!j.is_object() || !well_formed(j)) continue;
    auto t = parse_timestamp(join_field(j, "computed_at"));
    std::int64_t ns = t && *t > 0 && *t < 9e9 ? static_cast<std::int64_t>(*t) * 1'000'000'000 : 0;
    out.push_back({join_field(j, "computed_at"), ns, std::move(j)});
  }
  return out;
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

// git, never asking for a password (a cron job has no one to answer).
ProcessResult git_quiet(Repo& repo, const std::vector<std::string>& args) {
  ProcessSpec p;
  p.argv = {"git"};
  p.argv.insert(p.argv.end(), args.begin(), args.end());
  p.cwd = repo.root();
  p.env = {{"GIT_TERMINAL_PROMPT", "0"}};
  return run_process(p);
}

}  // namespace

bool higher_is_better(const std::string& metric) { return metric == "accuracy"; }

std::vector<ServedRow> read_served(Repo& repo, const std::string& env, const std::vector<std::string>& fields) {
  if (env.empty() || env[0] == '.' || env.find('/') != std::string::npos)
    throw UsageError("bad environment name '" + env + "'", "name a deployment, e.g. production");
  fs::path file = log_path(repo, env);
  std::ifstream in(file);
  if (!in)
    throw InputError("no request log for environment '" + env + "' (" + file.string() + ")",
                     "deploy it with 'mlo deploy REF --env " + env + "' and send it traffic first");
  std::vector<ServedRow> out;
  std::vector<FlatRow> rows;
  RequestLogContext ctx;
  std::uint64_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (!json_depth_within(line)) continue;  // not a line the router wrote (it caps the depth)
    ojson j = ojson::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !is_request_log_record(j)) continue;  // a torn last line
    auto status = j.find("status");
    bool answered = status != j.end() && status->is_number() && *status >= 200 && *status < 300;
    if (text_of(j, "role") == "shadow" || !answered) continue;
    std::string id = text_of(j, "request_id");
    if (id.empty()) continue;  // logged before request ids
    rows.clear();
    ctx.scratch.clear();
    request_log_rows(j, rows, ctx);
    auto ts = parse_timestamp(text_of(j, "ts"));
    for (std::size_t i = 0; i < rows.size(); ++i) {
      ServedRow r{rows.size() == 1 ? id : id + ":" + std::to_string(i), text_of(j, "version"), text_of(j, "role"),
                  ts.value_or(0), "", {}};
      for (auto& [k, v] : rows[i]) {
        if (k == "prediction") r.prediction = cell_text(v);
        if (std::find(fields.begin(), fields.end(), k) != fields.end()) r.fields[k] = cell_text(v);
      }
      out.push_back(std::move(r));
    }
  }
  return out;
}

std::map<std::string, std::string> read_label_column(Repo& repo, const std::vector<std::string>& from,
                                                     const std::string& key, const std::string& column) {
  std::map<std::string, std::string> out;
  for (const Source& src : resolve_inputs(from, &repo, std::nullopt)) {
    long k = -1, c = -1;
    RowVisitor v;
    v.header = [&](const std::vector<std::string>& names) {
      for (std::size_t i = 0; i < names.size(); ++i) {
        if (names[i] == key) k = static_cast<long>(i);
        if (names[i] == column) c = static_cast<long>(i);
      }
      std::string cols;
      for (auto& n : names) cols += (cols.empty() ? "" : ", ") + n;
      if (k < 0 || c < 0)
        throw InputError(src.display + ": no column '" + (k < 0 ? key : column) + "' (columns: " + cols + ")",
                         k < 0 ? "name the request id column with --key" : "name the label column with --target");
    };
    v.row = [&](const std::vector<Cell>& cells, std::string_view) {
      if (cells[static_cast<std::size_t>(k)].missing || cells[static_cast<std::size_t>(c)].missing) return;
      out[std::string(cells[static_cast<std::size_t>(k)].text)] = std::string(cells[static_cast<std::size_t>(c)].text);
    };
    v.malformed = [](const Malformed&) {};
    read_table(src, ReadOptions{}, v);
  }
  return out;
}

json join_labels(Repo& repo, const LabelsOptions& o) {
  if (o.window_s <= 0) throw UsageError("--window must be positive", "e.g. --window 1d");
  auto served = read_served(repo, o.env);
  auto labels = read_label_column(repo, o.from, o.key, o.target);
  std::vector<std::string> label_values;
  for (auto& [_, v] : labels) label_values.push_back(v);
  std::string task = !o.task.empty() ? o.task : infer_task(label_values);
  std::map<std::int64_t, Acc> windows;
  std::map<std::int64_t, std::map<std::string, Acc>> by_version;
  Acc overall;
  std::set<std::string> matched;
  for (const auto& r : served) {
    auto w = static_cast<std::int64_t>(std::floor(r.ts / o.window_s));
    ++windows[w].requests;
    ++by_version[w][r.version].requests;
    ++overall.requests;
    auto l = labels.find(r.id);
    if (l == labels.end()) continue;
    matched.insert(r.id);
    windows[w].add(task, r.prediction, l->second, o.threshold);
    by_version[w][r.version].add(task, r.prediction, l->second, o.threshold);
    overall.add(task, r.prediction, l->second, o.threshold);
  }
  json out = {{"env", o.env}, {"task", task}, {"key", o.key}, {"target", o.target}, {"window_s", o.window_s},
              {"metric", task == "classification" ? "accuracy" : "mae"}, {"sources", o.from},
              {"labels", labels.size()}, {"unmatched_labels", labels.size() - matched.size()}};
  out["windows"] = json::array();
  for (auto& [w, acc] : windows) {
    json j = {{"start", iso(static_cast<double>(w) * o.window_s)}, {"end", iso(static_cast<double>(w + 1) * o.window_s)}};
    acc.put(task, j);
    for (auto& [ver, va] : by_version[w]) va.put(task, j["by_version"][ver]);
    out["windows"].push_back(std::move(j));
  }
  overall.put(task, out["overall"]);
  out["computed_at"] = iso(static_cast<double>(std::time(nullptr)));
  out["id"] = sha256_hex(out.dump()).substr(0, 16);
  return out;
}

void record_labels(Repo& repo, const json& result) {
  const std::string env = join_field(result, "env");
  std::string ref = labels_prefix(env) + record_name(now_ns(), ref_safe_id(join_field(result, "id")));
  if (!create_record_ref(repo.root(), ref, result.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"))
    throw InputError("could not create the git ref " + ref, "check the repository with 'git fsck'");
}

std::vector<json> labels_history(Repo& repo, const std::string& env) {
  std::vector<Recorded> all = legacy_joins(repo, env);
  for (auto& [ref, doc] : read_record_refs(repo.root(), labels_prefix(env))) {
    if (!well_formed(doc)) continue;
    std::int64_t ns = recorded_ns(ref.substr(ref.rfind('/') + 1));
    all.push_back({join_field(doc, "computed_at"), ns, std::move(doc)});
  }
  // Oldest first; a join both in the legacy file and pushed as a ref counts once.
  std::stable_sort(all.begin(), all.end(), [](const Recorded& a, const Recorded& b) {
    return a.at != b.at ? a.at < b.at : a.ns < b.ns;
  });
  std::vector<json> out;
  std::set<std::string> seen;
  for (auto& r : all)
    if (seen.insert(join_field(r.doc, "id")).second || join_field(r.doc, "id").empty()) out.push_back(std::move(r.doc));
  return out;
}

void fetch_labels(Repo& repo, const std::string& env) {
  std::string remote = registry::load_registry_config(repo).git_remote, refs = labels_prefix(env) + "*";
  ProcessResult r = git_quiet(repo, {"fetch", "--quiet", remote, "+" + refs + ":" + refs});
  if (!r.ok())
    throw RemoteError("git fetch " + remote + " (joined labels of " + env + ") failed: " + first_line(r.err),
                      "check the registry's git remote (registry.git_remote in .mlo/config.yaml, default origin)");
}

std::string push_labels(Repo& repo, const std::string& env) {
  // Joins from before refs: made refs under the time they were computed.
  for (const auto& r : legacy_joins(repo, env))
    create_record_ref(repo.root(), labels_prefix(env) + record_name(r.ns, ref_safe_id(join_field(r.doc, "id"))),
                      r.doc.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
  std::string remote = registry::load_registry_config(repo).git_remote, refs = labels_prefix(env) + "*";
  ProcessResult r = git_quiet(repo, {"push", "--quiet", remote, refs + ":" + refs});
  if (!r.ok())
    throw RemoteError("git push " + remote + " (joined labels of " + env + ") failed: " + first_line(r.err),
                      "the joins are kept here; push them later with 'mlo monitor labels " + env + " --push'");
  return remote;
}

}  // namespace mlo::monitor
