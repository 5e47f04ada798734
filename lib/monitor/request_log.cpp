#include "monitor/request_log.h"

#include <cstdlib>
#include <sstream>
#include <string_view>
#include <utility>

namespace mlo::monitor {

namespace {

using Json = nlohmann::ordered_json;

using Names = std::vector<std::string>;

// Positional columns have no names in the request: the model's signature
// names them when it is known, else input_0, input_1, ...
std::string positional_name(std::size_t i, const Names& names) {
  return i < names.size() ? names[i] : "input_" + std::to_string(i);
}

// A tensor's "name" when it is a string (a logged request is the client's:
// anything else would throw out of the reader).
std::string name_or(const Json& tensor, std::string fallback) {
  auto it = tensor.find("name");
  return it != tensor.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// A row given as an object (named) or an array (positional) or one scalar.
void add_row_values(const Json& row, FlatRow& out, const Names& names) {
  if (row.is_object()) {
    for (auto it = row.begin(); it != row.end(); ++it) out.emplace_back(it.key(), &*it);
  } else if (row.is_array()) {
    for (std::size_t i = 0; i < row.size(); ++i) out.emplace_back(positional_name(i, names), &row[i]);
  } else {
    out.emplace_back(positional_name(0, names), &row);
  }
}

// A CSV cell as JSON: a number when it reads as one (an integer stays one),
// else its text.
Json csv_cell(std::string cell) {
  if (cell.size() >= 2 && cell.front() == '"' && cell.back() == '"') cell = cell.substr(1, cell.size() - 2);
  if (Json j = Json::parse(cell, nullptr, false, true); !j.is_discarded() && j.is_number()) return j;
  char* end = nullptr;
  double d = std::strtod(cell.c_str(), &end);
  if (!cell.empty() && *end == '\0') return d;
  return cell;
}

// A text/csv request body: one row per line; a first line that is not all
// numbers is the header (as the native runner reads it).
std::vector<FlatRow> csv_rows(const std::string& text, RequestLogContext& ctx) {
  std::vector<FlatRow> rows;
  std::vector<std::string> header;
  std::istringstream in(text);
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::vector<const Json*> cells;
    bool numeric = true;
    std::istringstream cs(line);
    for (std::string cell; std::getline(cs, cell, ',');) {
      cells.push_back(&ctx.scratch.emplace_back(csv_cell(cell)));
      numeric = numeric && cells.back()->is_number();
    }
    if (std::exchange(first, false) && !numeric) {
      for (const auto* c : cells) header.push_back(c->is_string() ? c->get<std::string>() : c->dump());
      continue;
    }
    rows.emplace_back();
    for (std::size_t i = 0; i < cells.size(); ++i)
      rows.back().emplace_back(i < header.size() ? header[i] : positional_name(i, ctx.feature_names), cells[i]);
  }
  return rows;
}

// The request's input rows, each as (column, value) pairs.
std::vector<FlatRow> input_rows(const Json& body, RequestLogContext& ctx) {
  std::vector<FlatRow> rows;
  const Names& names = ctx.feature_names;
  if (body.is_string()) return csv_rows(body.get<std::string>(), ctx);
  auto list_of_rows = [&](const Json& list) {
    for (const auto& r : list) {
      rows.emplace_back();
      add_row_values(r, rows.back(), names);
    }
  };
  if (auto it = body.find("dataframe_split"); it != body.end() && it->is_object()) {
    const Json* columns = it->contains("columns") ? &(*it)["columns"] : nullptr;
    const Json* data = it->contains("data") ? &(*it)["data"] : nullptr;
    if (!data || !data->is_array()) return rows;
    for (const auto& r : *data) {
      rows.emplace_back();
      if (!r.is_array()) continue;
      for (std::size_t c = 0; c < r.size(); ++c) {
        bool named = columns && columns->is_array() && c < columns->size() && (*columns)[c].is_string();
        rows.back().emplace_back(named ? (*columns)[c].get<std::string>() : positional_name(c, names), &r[c]);
      }
    }
  } else if (auto it = body.find("dataframe_records"); it != body.end() && it->is_array()) {
    list_of_rows(*it);
  } else if (auto it = body.find("instances"); it != body.end() && it->is_array()) {
    list_of_rows(*it);
  } else if (auto it = body.find("inputs"); it != body.end()) {
    const Json& in = *it;
    bool v2_tensors = in.is_array() && !in.empty() && in[0].is_object() && in[0].contains("data");
    if (v2_tensors) {
      // Open Inference Protocol: named tensors. One tensor of shape [n, k]
      // holds n rows of k features; several tensors of shape [n] are one
      // column each.
      if (in.size() == 1) {
        const Json& t = in[0];
        const Json& data = t["data"];
        std::size_t width = 1;
        if (t.contains("shape") && t["shape"].is_array() && t["shape"].size() == 2)
          if (t["shape"][1].is_number_unsigned()) width = std::max<std::size_t>(1, t["shape"][1].get<std::size_t>());
        if (!data.is_array()) return rows;
        bool nested = !data.empty() && data[0].is_array();
        if (nested) {
          list_of_rows(data);
        } else {
          for (std::size_t r = 0; r * width < data.size(); ++r) {
            rows.emplace_back();
            for (std::size_t c = 0; c < width && r * width + c < data.size(); ++c)
              rows.back().emplace_back(width == 1 ? name_or(t, positional_name(0, names)) : positional_name(c, names),
                                       &data[r * width + c]);
          }
        }
      } else {
        for (const auto& t : in) {
          if (!t.is_object() || !t.contains("data") || !t["data"].is_array()) continue;
          const Json& data = t["data"];
          std::string name = name_or(t, positional_name(0, names));
          if (rows.size() < data.size()) rows.resize(data.size());
          for (std::size_t r = 0; r < data.size(); ++r) rows[r].emplace_back(name, &data[r]);
        }
      }
    } else if (in.is_object()) {
      // MLflow tensor input by column: {"a": [..], "b": [..]}
      for (auto c = in.begin(); c != in.end(); ++c) {
        if (!c->is_array()) continue;
        if (rows.size() < c->size()) rows.resize(c->size());
        for (std::size_t r = 0; r < c->size(); ++r) rows[r].emplace_back(c.key(), &(*c)[r]);
      }
    } else if (in.is_array()) {
      list_of_rows(in);
    }
  } else if (!body.empty()) {
    // Any other object is one row of named values (a custom protocol).
    rows.emplace_back();
    flatten_into(body, "", rows.back());
  }
  return rows;
}

// One output of a response: its values, one entry per row, or `width` values
// a row in flat data (an Open Inference Protocol [n, width] tensor), with the
// class labels of a per-class output when the runner sent them
// (parameters.classes).
struct OutputColumn {
  std::string name;
  const Json* data = nullptr;
  std::size_t width = 0;
  const Json* classes = nullptr;
  std::vector<std::string> cell_names;  // NAME_CLASS, made once per width
};

// The tensor's [n, width] when it has one and its data is flat.
std::size_t flat_width(const Json& t) {
  auto shape = t.find("shape");
  if (shape == t.end() || !shape->is_array() || shape->size() != 2 || !(*shape)[1].is_number_unsigned()) return 0;
  const Json& data = t["data"];
  if (data.empty() || data[0].is_array()) return 0;
  return (*shape)[1].get<std::size_t>();
}

// MLflow's params.predict_method names what `predictions` holds (default: predict).
std::string mlflow_output_name(const Json& request) {
  auto params = request.is_object() ? request.find("params") : request.end();
  if (params == request.end() || !params->is_object()) return "prediction";
  auto m = params->find("predict_method");
  if (m == params->end() || !m->is_string() || *m == "predict") return "prediction";
  return m->get<std::string>();
}

// The response's per-row outputs.
std::vector<OutputColumn> output_columns(const Json& body, const Json& request) {
  std::vector<OutputColumn> cols;
  if (body.is_array()) {
    cols.push_back({"prediction", &body});
  } else if (body.is_object()) {
    if (auto it = body.find("predictions"); it != body.end() && it->is_array()) {
      cols.push_back({mlflow_output_name(request), &*it});
    } else if (auto it = body.find("outputs"); it != body.end() && it->is_array()) {
      for (const auto& t : *it) {
        if (!t.is_object() || !t.contains("data") || !t["data"].is_array()) continue;
        OutputColumn c{name_or(t, "prediction"), &t["data"], flat_width(t)};
        if (auto p = t.find("parameters"); p != t.end() && p->is_object())
          if (auto k = p->find("classes"); k != p->end() && k->is_array()) c.classes = &*k;
        cols.push_back(std::move(c));
      }
    }
  }
  return cols;
}

bool all_scalars(const Json& cell) {
  if (!cell.is_array() || cell.empty()) return false;
  for (const auto& v : cell)
    if (v.is_array() || v.is_object()) return false;
  return true;
}

// NAME_LABEL for each of k values a row, as `--target batch --outputs` names
// its columns: the class labels when the runner sent k of them, else 0..k-1.
const std::vector<std::string>& cell_names(OutputColumn& c, std::size_t k) {
  if (c.cell_names.size() == k) return c.cell_names;
  c.cell_names.clear();
  bool labelled = c.classes && c.classes->size() == k;
  for (std::size_t j = 0; j < k; ++j) {
    const Json& label = labelled ? (*c.classes)[j] : Json(j);
    c.cell_names.push_back(c.name + "_" + (label.is_string() ? label.get<std::string>() : label.dump()));
  }
  return c.cell_names;
}

// Row r's cells of one output: a list of values per row (class probabilities,
// per-class margins) becomes one column per class, so each is tested for
// drift on its own; anything else is one cell.
void add_output_cells(OutputColumn& c, std::size_t r, FlatRow& row) {
  const Json& data = *c.data;
  if (c.width > 1) {
    if ((r + 1) * c.width > data.size()) return;
    const auto& names = cell_names(c, c.width);
    for (std::size_t j = 0; j < c.width; ++j) row.emplace_back(names[j], &data[r * c.width + j]);
    return;
  }
  if (r >= data.size()) return;
  const Json& cell = data[r];
  if (!all_scalars(cell)) {
    row.emplace_back(c.name, &cell);
    return;
  }
  const auto& names = cell_names(c, cell.size());
  for (std::size_t j = 0; j < cell.size(); ++j) row.emplace_back(names[j], &cell[j]);
}

}  // namespace

void flatten_into(const Json& j, const std::string& prefix, FlatRow& out) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it->is_object() && !it->empty()) flatten_into(*it, key, out);
    else out.emplace_back(key, &*it);
  }
}

bool is_request_log_field(const std::string& column) {
  static const char* const fields[] = {"ts",    "request_id", "env",        "model",      "version", "role", "method",
                                       "route", "status",     "latency_ms", "prediction", "predict"};
  for (const char* f : fields)
    if (column == f) return true;
  // Outputs served by name, and their per-class columns.
  for (std::string_view out : {"predict_proba", "decision_function"})
    if (column.rfind(out, 0) == 0 && (column.size() == out.size() || column[out.size()] == '_')) return true;
  return false;
}

bool is_request_log_record(const Json& record) {
  auto it = record.find("inputs");
  if (it == record.end()) return false;
  // A text body (text/csv) is logged as a string: a request log when the
  // record has the router's fields too.
  return it->is_object() || (it->is_string() && record.contains("route") && record.contains("latency_ms"));
}

void request_log_rows(const Json& record, std::vector<FlatRow>& rows) {
  RequestLogContext ctx;
  request_log_rows(record, rows, ctx);
}

void request_log_rows(const Json& record, std::vector<FlatRow>& rows, RequestLogContext& ctx) {
  FlatRow scalars;
  for (auto it = record.begin(); it != record.end(); ++it)
    if (!it->is_object() && !it->is_array() && it.key() != "inputs") scalars.emplace_back(it.key(), &*it);
  std::vector<FlatRow> inputs = input_rows(record["inputs"], ctx);
  std::vector<OutputColumn> outputs;
  FlatRow single_outputs;  // an answer that is one object of named values
  if (auto it = record.find("outputs"); it != record.end()) {
    outputs = output_columns(*it, record["inputs"]);
    // The router logs the class order beside an MLflow answer, which has none.
    if (auto k = record.find("classes"); k != record.end() && k->is_array())
      for (auto& c : outputs)
        if (!c.classes) c.classes = &*k;
    if (outputs.empty() && it->is_object()) flatten_into(*it, "", single_outputs);
  }
  if (inputs.empty()) {
    rows.push_back(std::move(scalars));
    return;
  }
  for (std::size_t r = 0; r < inputs.size(); ++r) {
    FlatRow row = scalars;
    row.insert(row.end(), inputs[r].begin(), inputs[r].end());
    for (auto& c : outputs) add_output_cells(c, r, row);
    if (inputs.size() == 1) row.insert(row.end(), single_outputs.begin(), single_outputs.end());
    rows.push_back(std::move(row));
  }
}

}  // namespace mlo::monitor
