#include "monitor/labels.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "core/parse.h"
#include "core/hash.h"
#include "monitor/profile.h"
#include "monitor/request_log.h"
#include "monitor/table.h"
#include "registry/registry.h"
#include "repo/repo.h"

namespace mlo::monitor {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

fs::path log_path(Repo& repo, const std::string& env) { return repo.mlo_dir() / "deploy" / env / "requests.jsonl"; }
fs::path history_path(Repo& repo, const std::string& env) { return repo.mlo_dir() / "monitor" / "labels" / (env + ".jsonl"); }

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
  fs::path file = history_path(repo, result.value("env", ""));
  fs::create_directories(file.parent_path());
  if (!fs::exists(file.parent_path() / ".gitignore"))  // local, like the request logs it joins
    write_file_atomic(file.parent_path() / ".gitignore", "*\n", false);
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!fd) throw_errno(file.string(), errno);
  write_all(fd.get(), result.dump() + "\n", file.string());
}

std::vector<json> labels_history(Repo& repo, const std::string& env) {
  std::vector<json> out;
  std::ifstream in(history_path(repo, env));
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line, nullptr, false);
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

}  // namespace mlo::monitor
