#include "deploy/inference.h"
#include "core/version.h"

#include "core/parse.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "contracts/csv_record.h"
#include "core/error.h"
#include "core/fs.h"
#include "remote/http.h"

namespace mlo::deploy {

using nlohmann::json;

// ---------------------------------------------------------------- spec

json spec_to_json(const InferenceSpec& s) {
  json doc = {{"version", 1},
              {"mode", s.mode},
              {"model", {{"name", s.model_name}, {"version", s.model_version}, {"artifact", s.artifact.string()}}}};
  if (!s.sha256.empty()) doc["model"]["sha256"] = s.sha256;
  if (s.mode == "serve") {
    doc["serve"] = {{"host", s.host}, {"port", s.port}, {"threads", s.threads}};
    if (s.workers > 0) doc["serve"]["workers"] = s.workers;
    if (s.max_batch_size > 1)
      doc["serve"].update({{"max_batch_size", s.max_batch_size}, {"max_batch_time_ms", s.max_batch_time_ms}});
  }
  else doc["batch"] = {{"input", s.batch_input.string()}, {"output", s.batch_output.string()}};
  if (!s.batch_outputs.empty() && s.mode == "batch") doc["batch"]["outputs"] = s.batch_outputs;
  return doc;
}

InferenceSpec spec_from_json(const json& doc, const std::string& where) {
  auto bad = [&](const std::string& what) -> InputError {
    return InputError(where + ": " + what, "see schemas/inference-spec.schema.json and mlo-inference-runners(7)");
  };
  if (!doc.is_object()) throw bad("expected a JSON object");
  if (doc.value("version", 0) != 1) throw bad("'version' must be 1");
  InferenceSpec s;
  s.mode = doc.value("mode", "serve");
  if (s.mode != "serve" && s.mode != "batch") throw bad("'mode' must be serve or batch, not '" + s.mode + "'");
  if (!doc.contains("model") || !doc["model"].is_object()) throw bad("missing 'model'");
  const json& m = doc["model"];
  if (!m.contains("name") || !m["name"].is_string() || m["name"].get<std::string>().empty())
    throw bad("missing 'model.name'");
  if (!m.contains("artifact") || !m["artifact"].is_string()) throw bad("missing 'model.artifact'");
  s.model_name = m["name"];
  s.model_version = m.contains("version") && m["version"].is_string() ? m["version"].get<std::string>() : "";
  s.artifact = m["artifact"].get<std::string>();
  s.sha256 = m.value("sha256", "");
  if (s.mode == "serve") {
    if (!doc.contains("serve") || !doc["serve"].is_object()) throw bad("mode serve needs 'serve' with 'port'");
    const json& sv = doc["serve"];
    s.host = sv.value("host", "127.0.0.1");
    if (!sv.contains("port") || !sv["port"].is_number_integer()) throw bad("missing 'serve.port'");
    s.port = sv["port"];
    if (s.port < 0 || s.port > 65535) throw bad("'serve.port' must be 0..65535");
    s.threads = sv.value("threads", 2);
    if (s.threads < 1 || s.threads > 64) throw bad("'serve.threads' must be 1..64");
    auto whole = [&](const char* k, int hi) {
      if (!sv.contains(k)) return 0;
      if (!sv[k].is_number_integer() || sv[k].get<long>() < 0 || sv[k].get<long>() > hi)
        throw bad(std::string("'serve.") + k + "' must be a whole number from 0 to " + std::to_string(hi));
      return sv[k].get<int>();
    };
    s.workers = whole("workers", 256);
    s.max_batch_size = whole("max_batch_size", 100000);
    s.max_batch_time_ms = whole("max_batch_time_ms", 10000);
  } else {
    if (!doc.contains("batch") || !doc["batch"].is_object()) throw bad("mode batch needs 'batch' with input and output");
    const json& b = doc["batch"];
    if (!b.contains("input") || !b["input"].is_string()) throw bad("missing 'batch.input'");
    if (!b.contains("output") || !b["output"].is_string()) throw bad("missing 'batch.output'");
    s.batch_input = b["input"].get<std::string>();
    s.batch_output = b["output"].get<std::string>();
    if (b.contains("outputs")) {
      if (!b["outputs"].is_array() || b["outputs"].size() > 16) throw bad("'batch.outputs' must list at most 16 output names");
      for (const auto& n : b["outputs"]) {
        if (!n.is_string() || n.get<std::string>().empty()) throw bad("'batch.outputs' must hold output names");
        s.batch_outputs.push_back(n);
      }
    }
  }
  return s;
}

// ---------------------------------------------------------------- request formats

namespace {
// A value for an error message: never invalid UTF-8, never longer than a line.
std::string short_dump(const json& v) {
  std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

void check_rows(std::size_t rows) {
  if (rows > kMaxRequestRows)
    throw BadRequest("the request has " + std::to_string(rows) + " rows; at most " + std::to_string(kMaxRequestRows) +
                     " are accepted in one request (split it)");
}

// Counts the numbers a request adds, so a request cannot make the runner build
// more than kMaxRequestValues of them.
struct ValueBudget {
  std::size_t used = 0;
  void take(std::size_t n) {
    used += n;
    if (used > kMaxRequestValues)
      throw BadRequest("the request has more than " + std::to_string(kMaxRequestValues) +
                       " values; split it into smaller requests");
  }
};

double as_number(const json& v, std::size_t row, const std::string& col) {
  if (v.is_number()) return v.get<double>();
  if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == '\0') return d;
  }
  throw BadRequest("row " + std::to_string(row) + (col.empty() ? "" : ", column '" + col + "'") +
                   ": expected a number, got " + short_dump(v));
}

std::vector<double> number_row(const json& arr, std::size_t row, ValueBudget& budget) {
  if (!arr.is_array())
    throw BadRequest("row " + std::to_string(row) + ": expected a list of numbers, got " + short_dump(arr));
  budget.take(arr.size());
  std::vector<double> out;
  out.reserve(arr.size());
  for (const auto& v : arr) out.push_back(as_number(v, row, ""));
  return out;
}

// Rows given as objects {column: value}: columns from the first row.
Table from_records(const json& records) {
  check_rows(records.size());
  ValueBudget budget;
  Table t;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const json& r = records[i];
    if (!r.is_object()) throw BadRequest("record " + std::to_string(i) + ": expected an object");
    if (i == 0)
      for (auto it = r.begin(); it != r.end(); ++it) t.columns.push_back(it.key());
    budget.take(t.columns.size());
    std::vector<double> row;
    for (const auto& c : t.columns) {
      auto f = r.find(c);
      if (f == r.end()) throw BadRequest("record " + std::to_string(i) + " lacks column '" + c + "'");
      row.push_back(as_number(*f, i, c));
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

// A list of rows (lists or records), or a dict of columns, or one flat row.
Table from_instances(const json& v, const char* key) {
  Table t;
  if (v.is_object()) {  // {column: [values...]}
    std::size_t n = 0;
    bool first = true;
    for (auto it = v.begin(); it != v.end(); ++it) {
      json col = it.value().is_array() ? it.value() : json::array({it.value()});
      if (first) n = col.size();
      else if (col.size() != n) throw BadRequest(std::string("'") + key + "': columns have different lengths");
      first = false;
      t.columns.push_back(it.key());
    }
    check_rows(n);
    ValueBudget{}.take(n * t.columns.size());
    t.rows.assign(n, {});
    std::size_t ci = 0;
    for (auto it = v.begin(); it != v.end(); ++it, ++ci) {
      json col = it.value().is_array() ? it.value() : json::array({it.value()});
      for (std::size_t r = 0; r < n; ++r) t.rows[r].push_back(as_number(col[r], r, t.columns[ci]));
    }
    return t;
  }
  if (!v.is_array()) throw BadRequest(std::string("'") + key + "' must be a list of rows or an object of columns");
  if (v.empty()) return t;
  if (v[0].is_object()) return from_records(v);
  ValueBudget budget;
  if (!v[0].is_array()) {  // one flat row
    t.rows.push_back(number_row(v, 0, budget));
    return t;
  }
  check_rows(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) t.rows.push_back(number_row(v[i], i, budget));
  return t;
}
}  // namespace

Table parse_mlflow_json(const json& body) {
  if (!body.is_object())
    throw BadRequest("expected a JSON object with one of dataframe_split, dataframe_records, instances, inputs");
  if (auto it = body.find("dataframe_split"); it != body.end()) {
    const json& d = *it;
    if (!d.is_object() || !d.contains("data")) throw BadRequest("'dataframe_split' needs 'data' (and 'columns')");
    Table t;
    if (d.contains("columns")) {
      if (!d["columns"].is_array()) throw BadRequest("'dataframe_split.columns' must be a list");
      for (const auto& c : d["columns"]) t.columns.push_back(c.is_string() ? c.get<std::string>() : short_dump(c));
    }
    const json& data = d["data"];
    if (!data.is_array()) throw BadRequest("'dataframe_split.data' must be a list of rows");
    check_rows(data.size());
    ValueBudget budget;
    for (std::size_t i = 0; i < data.size(); ++i) t.rows.push_back(number_row(data[i], i, budget));
    return t;
  }
  if (auto it = body.find("dataframe_records"); it != body.end()) {
    if (!it->is_array()) throw BadRequest("'dataframe_records' must be a list of objects");
    return from_records(*it);
  }
  if (auto it = body.find("instances"); it != body.end()) return from_instances(*it, "instances");
  if (auto it = body.find("inputs"); it != body.end()) return from_instances(*it, "inputs");
  throw BadRequest("expected one of dataframe_split, dataframe_records, instances, inputs");
}

// Split by RFC 4180 (contracts/csv_record.h, the rules of monitor's file
// reader): a quoted header name or number may hold commas and "" quotes.
Table parse_csv(std::string_view text, std::size_t max_rows) {
  Table t;
  std::size_t pos = 0;
  std::uint64_t line = 1, start = 1;
  std::vector<contracts::CsvField> fields;
  bool first = true;
  while (true) {
    contracts::CsvStatus status = contracts::next_csv_record(text, pos, line, start, fields);
    if (status == contracts::CsvStatus::end) break;
    if (status == contracts::CsvStatus::bad_quote)
      throw BadRequest("CSV line " + std::to_string(start) +
                       ": bad quoting (a quoted field is \"...\" with \"\" for a quote, then a comma or the line's end)");
    std::vector<std::string> cells;
    for (auto& f : fields) cells.push_back(std::move(f.text));
    std::vector<double> row;
    bool numeric = true;
    for (const auto& c : cells) {
      char* end = nullptr;
      double d = std::strtod(c.c_str(), &end);
      if (c.empty() || *end != '\0') {
        numeric = false;
        break;
      }
      row.push_back(d);
    }
    if (first && !numeric) {
      t.columns = cells;
      first = false;
      continue;
    }
    first = false;
    if (!numeric) throw BadRequest("CSV line " + std::to_string(start) + ": expected numbers");
    if (t.rows.size() >= max_rows) check_rows(t.rows.size() + 1);
    t.rows.push_back(std::move(row));
  }
  return t;
}

json parse_request_json(std::string_view body) {
  if (!json_depth_within(body, kMaxJsonDepth))
    throw BadRequest("request body nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded()) throw BadRequest("request body is not valid JSON (or not UTF-8)");
  return doc;
}

namespace {
// The numbers of a tensor's data, nested lists flattened in order. Iterative:
// the depth of the lists comes from the client.
std::vector<double> flatten_tensor(const json& data, const std::string& name) {
  std::vector<double> out;
  std::vector<std::pair<const json*, std::size_t>> open;  // a list and the next index in it
  auto visit = [&](const json& v) {
    if (!v.is_array()) {
      if (out.size() >= kMaxRequestValues) ValueBudget{}.take(out.size() + 1);
      out.push_back(as_number(v, out.size(), name));
    } else if (open.size() >= kMaxJsonDepth) {
      throw BadRequest("input '" + name + "': data nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    } else {
      open.emplace_back(&v, 0);
    }
  };
  visit(data);
  while (!open.empty()) {
    auto& [list, next] = open.back();
    if (next == list->size()) {
      open.pop_back();
      continue;
    }
    visit((*list)[next++]);  // may grow `open`: the references above are not used after this
  }
  return out;
}

std::string tensor_name(const json& in, std::size_t i, const char* fallback) {
  if (!in.is_object()) throw BadRequest("input " + std::to_string(i) + ": expected a tensor object");
  auto it = in.find("name");
  if (it == in.end()) return fallback;
  if (!it->is_string()) throw BadRequest("input " + std::to_string(i) + ": 'name' must be a string");
  return it->get<std::string>();
}

// The tensor's shape; each dimension at least 0 and their product within kMaxRequestValues.
std::vector<std::size_t> tensor_shape(const json& in, const std::string& name) {
  auto it = in.find("shape");
  if (it == in.end() || !it->is_array() || it->empty() || it->size() > 32)
    throw BadRequest("input '" + name + "': 'shape' must be a list of 1 to 32 dimensions");
  std::vector<std::size_t> shape;
  std::size_t total = 1;
  for (const auto& d : *it) {
    if (!d.is_number_unsigned() || d.get<std::uint64_t>() > kMaxRequestValues)
      throw BadRequest("input '" + name + "': bad 'shape' " + short_dump(*it) + " (each dimension 0.." +
                       std::to_string(kMaxRequestValues) + ")");
    std::size_t dim = d.get<std::size_t>();
    total = total > 0 && dim > kMaxRequestValues / total ? kMaxRequestValues + 1 : total * dim;
    if (total > kMaxRequestValues) ValueBudget{}.take(total);
    shape.push_back(dim);
  }
  return shape;
}

// One [n, ...] tensor: n rows of the remaining dimensions' values.
Table one_tensor(const json& in) {
  std::string name = tensor_name(in, 0, "input-0");
  if (!in.contains("data")) throw BadRequest("input '" + name + "': missing 'data'");
  auto shape = tensor_shape(in, name);
  std::size_t total = 1;
  for (auto d : shape) total *= d;
  std::vector<double> data = flatten_tensor(in["data"], name);
  if (total != data.size())
    throw BadRequest("input '" + name + "': shape does not match the number of values (" + std::to_string(data.size()) +
                     " for shape " + short_dump(in["shape"]) + ")");
  std::size_t n = shape[0];
  check_rows(n);
  std::size_t f = shape.size() == 1 ? 1 : total / std::max<std::size_t>(1, n);
  if (n > 0 && f == 0) throw BadRequest("input '" + name + "': shape " + short_dump(in["shape"]) + " has rows with no values");
  Table t;
  t.rows.reserve(n);
  for (std::size_t r = 0; r < n; ++r) t.rows.emplace_back(data.begin() + r * f, data.begin() + (r + 1) * f);
  if (shape.size() == 1 && name != "input-0") t.columns = {name};
  return t;
}

// One [n] tensor per feature, named by the feature.
Table tensor_per_feature(const json& inputs) {
  Table t;
  std::size_t n = 0;
  ValueBudget budget;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const json& in = inputs[i];
    std::string name = tensor_name(in, i, "");
    if (name.empty()) throw BadRequest("input " + std::to_string(i) + ": several inputs must each be named by a feature");
    if (!in.contains("data")) throw BadRequest("input '" + name + "': missing 'data'");
    std::vector<double> data = flatten_tensor(in["data"], name);
    budget.take(data.size());
    if (i == 0) {
      n = data.size();
      check_rows(n);
      t.rows.assign(n, {});
    } else if (data.size() != n) {
      throw BadRequest("input '" + name + "' has " + std::to_string(data.size()) + " values, others have " +
                       std::to_string(n));
    }
    t.columns.push_back(name);
    for (std::size_t r = 0; r < n; ++r) t.rows[r].push_back(data[r]);
  }
  return t;
}
}  // namespace

Table parse_v2_inputs(const json& body) {
  if (!body.is_object() || !body.contains("inputs") || !body["inputs"].is_array() || body["inputs"].empty())
    throw BadRequest("expected an object with a non-empty 'inputs' list of tensors");
  const json& inputs = body["inputs"];
  return inputs.size() == 1 ? one_tensor(inputs[0]) : tensor_per_feature(inputs);
}

// ---------------------------------------------------------------- linear model

LinearModel LinearModel::parse(const json& doc, const std::string& where) {
  auto bad = [&](const std::string& what) -> InputError {
    return InputError(where + ": " + what, "see schemas/mlo-linear-model.schema.json");
  };
  if (!doc.is_object() || doc.value("format", "") != "mlo-linear") throw bad("not an mlo-linear model (format)");
  if (doc.value("version", 0) != 1) throw bad("'version' must be 1");
  LinearModel m;
  m.task = doc.value("task", "regression");
  if (m.task != "regression" && m.task != "classification") throw bad("'task' must be regression or classification");
  if (!doc.contains("features") || !doc["features"].is_array() || doc["features"].empty())
    throw bad("'features' must be a non-empty list of names");
  for (const auto& f : doc["features"]) {
    if (!f.is_string()) throw bad("'features' must be strings");
    m.features.push_back(f);
  }
  const json& coef = doc.value("coef", json());
  if (!coef.is_array() || coef.empty()) throw bad("'coef' must be a list (or a list of lists)");
  if (coef[0].is_array()) {
    for (const auto& row : coef) {
      std::vector<double> r;
      for (const auto& v : row) {
        if (!v.is_number()) throw bad("'coef' must hold numbers");
        r.push_back(v);
      }
      m.coef.push_back(std::move(r));
    }
  } else {
    std::vector<double> r;
    for (const auto& v : coef) {
      if (!v.is_number()) throw bad("'coef' must hold numbers");
      r.push_back(v);
    }
    m.coef.push_back(std::move(r));
  }
  for (const auto& r : m.coef)
    if (r.size() != m.features.size())
      throw bad("'coef' rows must have one weight per feature (" + std::to_string(m.features.size()) + ")");
  const json& ic = doc.value("intercept", json(0.0));
  if (ic.is_number()) m.intercept.push_back(ic);
  else if (ic.is_array())
    for (const auto& v : ic) m.intercept.push_back(v.is_number() ? v.get<double>() : 0.0);
  if (m.intercept.size() != m.coef.size()) throw bad("'intercept' needs one value per coef row");
  if (m.task == "classification") {
    m.classes = doc.value("classes", json::array());
    std::size_t want = m.coef.size() == 1 ? 2 : m.coef.size();
    if (!m.classes.is_array() || m.classes.size() != want)
      throw bad("'classes' must list " + std::to_string(want) + " labels");
  } else if (m.coef.size() != 1) {
    throw bad("a regression model has one coef row");
  }
  return m;
}

LinearModel LinearModel::load(const std::filesystem::path& path) {
  std::string text = read_file(path);
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) throw InputError(path.string() + ": not valid JSON", "is this an mlo-linear model?");
  return parse(doc, path.string());
}

bool LinearModel::labels_are_numbers() const {
  if (task != "classification") return true;
  for (const auto& c : classes)
    if (!c.is_number()) return false;
  return true;
}

std::vector<std::vector<double>> LinearModel::align(const Table& t) const {
  std::vector<std::vector<double>> out;
  if (t.columns.empty()) {
    for (std::size_t i = 0; i < t.rows.size(); ++i)
      if (t.rows[i].size() != features.size())
        throw BadRequest("row " + std::to_string(i) + " has " + std::to_string(t.rows[i].size()) +
                         " values; the model expects " + std::to_string(features.size()));
    return t.rows;
  }
  std::vector<std::size_t> idx;
  for (const auto& f : features) {
    std::size_t k = 0;
    while (k < t.columns.size() && t.columns[k] != f) ++k;
    if (k == t.columns.size()) {
      if (t.columns.size() == features.size() && t.columns.size() > 0 && t.columns[0].rfind("input", 0) == 0)
        return align(Table{{}, t.rows});
      throw BadRequest("missing feature '" + f + "'");
    }
    idx.push_back(k);
  }
  out.reserve(t.rows.size());
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    if (t.rows[i].size() != t.columns.size())
      throw BadRequest("row " + std::to_string(i) + " has " + std::to_string(t.rows[i].size()) + " values for " +
                       std::to_string(t.columns.size()) + " columns");
    std::vector<double> r;
    r.reserve(idx.size());
    for (auto k : idx) r.push_back(t.rows[i][k]);
    out.push_back(std::move(r));
  }
  return out;
}

json LinearModel::predict(const Table& t) const { return outputs(t, {"predict"})[0]; }

std::vector<std::string> LinearModel::output_names() const {
  if (task == "regression") return {"predict"};
  return {"predict", "predict_proba", "decision_function"};
}

namespace {
// Class probabilities from the margins: the logistic function for one margin
// (two classes), a softmax (shifted by the largest margin) for several.
std::vector<double> class_probabilities(const std::vector<double>& z) {
  if (z.size() == 1) {
    double p = 1.0 / (1.0 + std::exp(-z[0]));
    return {1.0 - p, p};
  }
  double top = *std::max_element(z.begin(), z.end());
  std::vector<double> p(z.size());
  double sum = 0;
  for (std::size_t o = 0; o < z.size(); ++o) sum += p[o] = std::exp(z[o] - top);
  for (double& v : p) v /= sum;
  return p;
}

// The index of the predicted class: classes[1] at p >= 0.5 for two, else the largest margin.
std::size_t predicted_class(const std::vector<double>& z, const std::vector<double>& p) {
  if (z.size() == 1) return p[1] >= 0.5 ? 1 : 0;
  return static_cast<std::size_t>(std::max_element(z.begin(), z.end()) - z.begin());
}
}  // namespace

std::vector<json> LinearModel::outputs(const Table& t, const std::vector<std::string>& names) const {
  auto rows = align(t);
  std::vector<json> out(names.size(), json::array());
  std::vector<double> z(coef.size());
  for (const auto& x : rows) {
    for (std::size_t o = 0; o < coef.size(); ++o) {
      double s = intercept[o];
      for (std::size_t j = 0; j < x.size(); ++j) s += coef[o][j] * x[j];
      z[o] = s;
    }
    std::vector<double> p = task == "regression" ? std::vector<double>{} : class_probabilities(z);
    for (std::size_t k = 0; k < names.size(); ++k) {
      if (names[k] == "predict" && task == "regression") out[k].push_back(z[0]);
      else if (names[k] == "predict") out[k].push_back(classes[predicted_class(z, p)]);
      else if (names[k] == "predict_proba") out[k].push_back(p);
      else if (names[k] == "decision_function") out[k].push_back(z.size() == 1 ? json(z[0]) : json(z));
    }
  }
  return out;
}

// ---------------------------------------------------------------- routes

namespace {
HttpResponse json_response(int status, const json& doc) {
  HttpResponse r;
  r.status = status;
  r.body = doc.dump();
  return r;
}

// "/v2/models/NAME[/versions/V][/SUFFIX]" -> name, version, suffix, NAME and V
// percent-decoded (a model name may hold '/', sent as %2F). False if not that shape.
bool split_model_path(std::string_view path, std::string& name, std::string& version, std::string& suffix) {
  constexpr std::string_view prefix = "/v2/models/";
  if (path.substr(0, prefix.size()) != prefix) return false;
  std::string_view rest = path.substr(prefix.size());
  std::size_t s = rest.find('/');
  std::optional<std::string> n = remote::uri_decode(rest.substr(0, s)), v = std::string();
  rest = s == std::string_view::npos ? std::string_view() : rest.substr(s);
  if (rest.substr(0, 10) == "/versions/") {
    rest.remove_prefix(10);
    std::size_t e = rest.find('/');
    v = remote::uri_decode(rest.substr(0, e));
    rest = e == std::string_view::npos ? std::string_view() : rest.substr(e);
  }
  if (!n || !v) return false;
  name = std::move(*n);
  version = std::move(*v);
  suffix.assign(rest);
  return !name.empty();
}
}  // namespace

std::vector<std::string> requested_outputs(const json& body, const std::vector<OutputInfo>& offered) {
  auto it = body.is_object() ? body.find("outputs") : body.end();
  if (!body.is_object() || it == body.end() || (it->is_array() && it->empty())) return {"predict"};
  if (!it->is_array() || it->size() > 16) throw BadRequest("'outputs' must be a list of at most 16 {\"name\": ...} objects");
  std::vector<std::string> names;
  for (const auto& o : *it) {
    if (!o.is_object() || !o.contains("name") || !o["name"].is_string())
      throw BadRequest("'outputs' must be a list of {\"name\": ...} objects");
    std::string n = o["name"];
    bool known = std::any_of(offered.begin(), offered.end(), [&](const OutputInfo& x) { return x.name == n; });
    if (!known) {
      std::string list;
      for (const auto& x : offered) list += (list.empty() ? "" : ", ") + x.name;
      throw BadRequest("this model has no output " + short_dump(n) + " (it has " + list + ")");
    }
    names.push_back(n);
  }
  return names;
}

namespace {
// MLflow's params.predict_method (default predict), checked against the outputs.
std::string predict_method(const json& body, const std::vector<OutputInfo>& offered) {
  if (!body.is_object() || !body.contains("params")) return "predict";
  const json& params = body["params"];
  if (!params.is_object()) throw BadRequest("'params' must be an object");
  if (!params.contains("predict_method")) return "predict";
  if (!params["predict_method"].is_string()) throw BadRequest("'params.predict_method' must be a string");
  return requested_outputs(json{{"outputs", {{{"name", params["predict_method"]}}}}}, offered)[0];
}

const OutputInfo& output_info(const std::vector<OutputInfo>& offered, const std::string& name) {
  return *std::find_if(offered.begin(), offered.end(), [&](const OutputInfo& x) { return x.name == name; });
}
}  // namespace

json ModelServer::metadata() const {
  json inputs = json::array({{{"name", "input-0"}, {"datatype", "FP64"}, {"shape", {-1, static_cast<int>(features.size())}}}});
  json outs = json::array();
  for (const auto& o : outputs)
    outs.push_back({{"name", o.name}, {"datatype", o.datatype},
                    {"shape", o.width ? json{-1, o.width} : json{-1}}});
  json params = {{"features", features}};
  if (!classes.is_null()) params["classes"] = classes;
  return {{"name", name}, {"versions", {version}}, {"platform", platform},
          {"inputs", inputs}, {"outputs", outs}, {"parameters", params}};
}

std::optional<PendingPredict> ModelServer::invocations(const HttpRequest& req, HttpResponse& resp) const {
  if (req.method != "POST") {
    resp = error_response(405, "use POST for /invocations");
    return std::nullopt;
  }
  std::string_view ct = req.header("Content-Type");
  if (!ct.empty() && ct.substr(0, 8) != "text/csv" && ct.substr(0, 16) != "application/json") {
    resp = error_response(415, "unsupported Content-Type '" + std::string(ct) + "' (use application/json or text/csv)");
    return std::nullopt;
  }
  PendingPredict p;
  try {
    std::string method = "predict";
    if (ct.substr(0, 8) == "text/csv") {
      p.table = parse_csv(req.body);
    } else {
      json body = parse_request_json(req.body);
      p.table = parse_mlflow_json(body);
      method = predict_method(body, outputs);
    }
    p.names = {method};
  } catch (const BadRequest& e) {
    resp = error_response(400, e.what());
    return std::nullopt;
  }
  p.respond = [](std::vector<json> values) { return json_response(200, {{"predictions", std::move(values[0])}}); };
  return p;
}

std::optional<PendingPredict> ModelServer::infer(const HttpRequest& req, HttpResponse& resp) const {
  if (req.method != "POST") {
    resp = error_response(405, "use POST for /infer");
    return std::nullopt;
  }
  PendingPredict p;
  std::optional<json> id;  // echoed as sent
  try {
    json body = parse_request_json(req.body);
    p.table = parse_v2_inputs(body);
    p.names = requested_outputs(body, outputs);
    if (body.contains("id")) id = body["id"];
  } catch (const BadRequest& e) {
    resp = error_response(400, e.what());
    return std::nullopt;
  }
  p.respond = [this, names = p.names, id = std::move(id)](std::vector<json> values) {
    json tensors = json::array();
    for (std::size_t k = 0; k < names.size(); ++k) {
      const OutputInfo& o = output_info(outputs, names[k]);
      json shape = o.width ? json{values[k].size(), o.width} : json{values[k].size()};
      json t = {{"name", o.name}, {"datatype", o.datatype}, {"shape", shape}, {"data", std::move(values[k])}};
      // One value per class: the class order goes with the answer, so a request
      // log names its columns (mlo monitor's predict_proba_CLASS).
      if (o.width && classes.is_array() && classes.size() == o.width) t["parameters"] = {{"classes", classes}};
      tensors.push_back(std::move(t));
    }
    json out = {{"model_name", name}, {"model_version", version}, {"outputs", std::move(tensors)}};
    if (id) out["id"] = *id;
    return json_response(200, out);
  };
  return p;
}

HttpResponse PendingPredict::answer(std::vector<json> values, const std::exception_ptr& error) const {
  try {
    if (error) std::rethrow_exception(error);
    return respond(std::move(values));
  } catch (const BadRequest& e) {
    return error_response(400, e.what());
  } catch (const std::exception& e) {
    return error_response(500, e.what());  // as HttpServer answers a handler that threw
  }
}

void ModelServer::handle(const HttpRequest& req, HttpResponse& resp) const {
  std::optional<PendingPredict> p = route(req, resp);
  if (!p) return;
  std::vector<json> values;
  std::exception_ptr error;
  try {
    values = compute(p->table, p->names);
  } catch (const std::exception&) {
    error = std::current_exception();
  }
  resp = p->answer(std::move(values), error);
}

std::optional<PendingPredict> ModelServer::route(const HttpRequest& req, HttpResponse& resp) const {
  const std::string& p = req.path;
  bool get = req.method == "GET" || req.method == "HEAD";
  if (get && (p == "/v2/health/live" || p == "/v2/health/ready")) {
    resp.body = p == "/v2/health/live" ? R"({"live":true})" : R"({"ready":true})";
    return std::nullopt;
  }
  if (get && (p == "/ping" || p == "/health")) {
    resp.body = "{}";
    return std::nullopt;
  }
  if (get && p == "/version") {
    resp.body = json{{"version", version}}.dump();
    return std::nullopt;
  }
  if (get && p == "/v2") {
    resp = json_response(200, {{"name", runner_name}, {"version", std::string(kVersion)}, {"extensions", json::array()}});
    return std::nullopt;
  }
  if (p == "/invocations") return invocations(req, resp);
  std::string name, ver, suffix;
  if (split_model_path(p, name, ver, suffix)) {
    if (name != this->name) {
      resp = error_response(404, "model '" + name + "' is not served here (this runner serves '" + this->name + "')");
      return std::nullopt;
    }
    if (!ver.empty() && ver != version) {
      resp = error_response(404, "model '" + name + "' version '" + ver + "' is not served here (version '" + version + "' is)");
      return std::nullopt;
    }
    if (get && suffix.empty()) {
      resp = json_response(200, metadata());
      return std::nullopt;
    }
    if (get && suffix == "/ready") {
      resp.body = json{{"name", this->name}, {"ready", true}}.dump();
      return std::nullopt;
    }
    if (suffix == "/infer") return infer(req, resp);
  }
  resp = error_response(404, "no route for " + req.method + " " + p);
  return std::nullopt;
}

namespace {
// The CSV header cells of one output: "prediction" for predict, NAME for one
// value a row, NAME_LABEL (or NAME_INDEX) for one value per class.
void output_header(std::ostream& out, const std::string& name, const json& first, const json& classes) {
  if (!first.is_array()) {
    out << ',' << (name == "predict" ? "prediction" : name);
    return;
  }
  bool labelled = classes.is_array() && classes.size() == first.size();
  for (std::size_t j = 0; j < first.size(); ++j) {
    const json& label = labelled ? classes[j] : json(j);
    out << ',' << name << '_' << (label.is_string() ? label.get<std::string>() : label.dump());
  }
}

void output_cells(std::ostream& out, const json& v) {
  if (!v.is_array()) {
    out << ',' << (v.is_string() ? v.get<std::string>() : v.dump());
    return;
  }
  for (const auto& x : v) out << ',' << x.dump();
}
}  // namespace

std::size_t score_csv_file(const std::filesystem::path& input, const std::filesystem::path& output,
                           const ComputeOutputs& compute, std::vector<std::string> names, const json& classes) {
  if (names.empty()) names = {"predict"};
  std::string text = read_file(input);
  Table t;
  try {
    t = parse_csv(text, SIZE_MAX);
  } catch (const BadRequest& e) {
    throw InputError(input.string() + ": " + e.what(), "batch input must be CSV with a header of feature names");
  }
  std::vector<json> values;
  try {
    values = compute(t, names);
  } catch (const BadRequest& e) {
    throw InputError(input.string() + ": " + e.what(), "the columns must match the model's features");
  }
  // Every cell is written with a leading comma; each line drops its first.
  std::ostringstream line;
  std::string out;
  for (const auto& c : t.columns) line << ',' << c;
  for (std::size_t k = 0; k < names.size(); ++k)
    output_header(line, names[k], values[k].empty() ? json() : values[k][0], classes);
  line.precision(17);
  for (std::size_t r = 0; r <= t.rows.size(); ++r) {
    out += line.str().substr(1) + '\n';
    if (r == t.rows.size()) break;
    line.str("");
    for (double v : t.rows[r]) line << ',' << v;
    for (const auto& v : values) output_cells(line, v[r]);
  }
  write_file_atomic(output, out);
  return t.rows.size();
}

}  // namespace mlo::deploy
