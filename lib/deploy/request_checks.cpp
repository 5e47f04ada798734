#include "deploy/request_checks.h"

#include <algorithm>
#include <cmath>
#include <string_view>

#include "contracts/csv_record.h"
#include "core/error.h"
#include "core/parse.h"
#include "registry/registry.h"

namespace mlo::deploy {

using json = nlohmann::json;
using contracts::RequestFailure;

std::shared_ptr<const RequestGuard> request_guard(Repo& repo, const Backend& b, const std::string& mode,
                                                  std::string& note) {
  note.clear();
  if (mode.empty()) return nullptr;
  const registry::VersionInfo* v = nullptr;
  std::optional<registry::ModelState> m = b.version.empty() ? std::nullopt : registry::find_model(repo, b.model);
  if (m) v = m->find(b.version);
  if (!v || !v->meta.contains("data")) {
    note = "validate_requests: " + b.model + (b.version.empty() ? "" : "@" + b.version) +
           " names no training data (deploy a registered version linked to its run): requests are not checked";
    return nullptr;
  }
  auto g = std::make_shared<RequestGuard>();
  g->reject = mode == "reject";
  g->checker = contracts::RequestChecker::for_data(repo, v->meta["data"]);
  if (g->checker.empty()) {
    note = "validate_requests: the training data of " + b.model + "@" + b.version +
           " has no contract with columns: in mlo.yaml: requests are not checked";
    return nullptr;
  }
  const json& sig = v->meta.contains("signature") ? v->meta["signature"] : json();
  if (sig.is_object() && sig.contains("inputs") && sig["inputs"].is_array())
    for (const auto& in : sig["inputs"])
      if (in.is_object() && in.contains("name") && in["name"].is_string()) g->features.push_back(in["name"]);
  return g;
}

namespace {

std::optional<std::string> cell_text(const json& v) {
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isnan(d)) return std::nullopt;
  }
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Walks a request's cells: (row, column name, value).
struct Walker {
  const RequestGuard& g;
  std::vector<RequestFailure>& out;

  void cell(std::size_t row, const std::string& column, const json& v) const { g.checker.check(row, column, cell_text(v), out); }
  void positional(std::size_t row, const json& values) const {
    for (std::size_t j = 0; j < values.size() && j < g.features.size(); ++j) cell(row, g.features[j], values[j]);
  }
  // A row as {column: value} or as [values in signature order].
  void row(std::size_t i, const json& r) const {
    if (r.is_object()) {
      for (const auto& [k, v] : r.items()) cell(i, k, v);
    } else if (r.is_array()) {
      positional(i, r);
    } else if (g.features.size() == 1) {
      cell(i, g.features[0], r);
    }
  }
  void rows(const json& a) const {
    for (std::size_t i = 0; i < a.size(); ++i) row(i, a[i]);
  }
  // {column: [values]}.
  void columns(const json& o) const {
    for (const auto& [k, vals] : o.items()) {
      if (!vals.is_array()) {
        cell(0, k, vals);
        continue;
      }
      for (std::size_t i = 0; i < vals.size(); ++i) cell(i, k, vals[i]);
    }
  }
};

void mlflow_json(const Walker& w, const json& body) {
  if (!body.is_object()) return;
  if (body.contains("dataframe_split") && body["dataframe_split"].is_object()) {
    const json& s = body["dataframe_split"];
    if (!s.contains("data") || !s["data"].is_array()) return;
    if (!s.contains("columns") || !s["columns"].is_array()) return w.rows(s["data"]);
    const json& cols = s["columns"];
    for (std::size_t i = 0; i < s["data"].size(); ++i) {
      const json& r = s["data"][i];
      if (!r.is_array()) continue;
      for (std::size_t j = 0; j < r.size() && j < cols.size(); ++j)
        if (cols[j].is_string()) w.cell(i, cols[j].get<std::string>(), r[j]);
    }
    return;
  }
  for (const char* key : {"dataframe_records", "instances", "inputs"}) {
    if (!body.contains(key)) continue;
    const json& x = body[key];
    if (x.is_array()) w.rows(x);
    else if (x.is_object()) w.columns(x);
    return;
  }
}

// Open Inference Protocol v2: one [n, f] tensor in signature order, or one tensor per feature.
void v2_json(const Walker& w, const json& body) {
  if (!body.is_object() || !body.contains("inputs") || !body["inputs"].is_array()) return;
  const json& inputs = body["inputs"];
  for (const auto& t : inputs) {
    if (!t.is_object() || !t.contains("data") || !t["data"].is_array()) continue;
    std::string name = t.contains("name") && t["name"].is_string() ? t["name"].get<std::string>() : "";
    const json& data = t["data"];
    bool nested = !data.empty() && data[0].is_array();
    std::size_t width = 1;
    if (t.contains("shape") && t["shape"].is_array() && t["shape"].size() == 2 && t["shape"][1].is_number_unsigned())
      width = std::max<std::size_t>(1, t["shape"][1].get<std::size_t>());
    bool per_feature = inputs.size() > 1 || (width == 1 && !nested && std::find(w.g.features.begin(), w.g.features.end(), name) != w.g.features.end());
    if (per_feature) {
      for (std::size_t i = 0; i < data.size(); ++i) w.cell(i, name, nested && data[i].is_array() && !data[i].empty() ? data[i][0] : data[i]);
    } else if (nested) {
      w.rows(data);
    } else {
      for (std::size_t i = 0; i * width < data.size(); ++i)
        w.positional(i, json(std::vector<json>(data.begin() + static_cast<long>(i * width),
                                               data.begin() + static_cast<long>(std::min(data.size(), (i + 1) * width)))));
    }
  }
}

// text/csv: a header of names unless every cell of the first record is a
// number; quoting as in CSV files (contracts/csv_record.h). Bad quoting is one
// "format" failure: the body cannot be read (a refusing guard answers 400).
void csv_rows(const Walker& w, std::string_view text) {
  std::vector<std::string> names = w.g.features;
  std::vector<contracts::CsvField> fields;
  std::size_t pos = 0, row = 0;
  std::uint64_t line = 1, start = 1;
  for (bool first = true;; first = false) {
    contracts::CsvStatus status = contracts::next_csv_record(text, pos, line, start, fields);
    if (status == contracts::CsvStatus::end) return;
    if (status == contracts::CsvStatus::bad_quote) {
      w.out.push_back({"format", "", "bad CSV quoting in line " + std::to_string(start), row});
      return;
    }
    if (first && !std::all_of(fields.begin(), fields.end(), [](const auto& f) { return parse_double(f.text).has_value(); })) {
      names.clear();
      for (const auto& f : fields) names.push_back(f.text);
      continue;
    }
    for (std::size_t j = 0; j < fields.size() && j < names.size(); ++j)
      w.g.checker.check(row, names[j], fields[j].text.empty() ? std::nullopt : std::optional<std::string>(fields[j].text),
                        w.out);
    ++row;
  }
}

}  // namespace

std::vector<RequestFailure> check_request(const RequestGuard& g, const HttpRequest& req) {
  std::vector<RequestFailure> out;
  if (req.method != "POST") return out;
  bool mlflow = req.path == "/invocations";
  bool v2 = req.path.starts_with("/v2/models/") && req.path.ends_with("/infer");
  if (!mlflow && !v2) return out;
  Walker w{g, out};
  if (mlflow && req.header("Content-Type").starts_with("text/csv")) {
    csv_rows(w, req.body);
    return out;
  }
  if (!json_depth_within(req.body, kMaxJsonDepth)) return out;  // the runner answers 400
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded()) return out;
  if (mlflow) mlflow_json(w, body);
  else v2_json(w, body);
  return out;
}

void RequestCounts::add(const std::vector<RequestFailure>& failures, bool refused) {
  checked_.fetch_add(1, std::memory_order_relaxed);
  if (failures.empty()) return;
  invalid_.fetch_add(1, std::memory_order_relaxed);
  if (refused) rejected_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  for (const auto& f : failures) ++by_check_[f.column.empty() ? f.check : f.check + " " + f.column];
}

json RequestCounts::to_json(const std::string& mode) const {
  std::lock_guard lock(mu_);
  return {{"mode", mode},
          {"checked", checked_.load()},
          {"invalid", invalid_.load()},
          {"rejected", rejected_.load()},
          {"failures", by_check_}};
}

HttpResponse invalid_request_response(const RequestGuard& g, const std::vector<RequestFailure>& failures) {
  json checks = json::array();
  for (std::size_t i = 0; i < failures.size() && i < 20; ++i) checks.push_back(failures[i].to_json());
  const RequestFailure& f = failures.front();
  if (f.check == "format")  // the body itself cannot be read
    return error_response(400, "request body: " + f.value +
                                   " (RFC 4180: quote a field that holds a comma, a quote or a newline, and double"
                                   " each quote inside it)");
  std::string msg = std::to_string(failures.size()) + " value" + (failures.size() == 1 ? "" : "s") +
                    " break the contract of the model's training data (" + g.checker.source() + "), first: row " +
                    std::to_string(f.row) + " column " + f.column + " fails " + f.check + " with " + f.value;
  HttpResponse r = error_response(422, msg);
  r.body = json{{"error", msg}, {"checks", checks}}.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

}  // namespace mlo::deploy
