// The request logs `mlo deploy` writes (one JSON object per request: ts,
// model, version, status, latency_ms, "inputs": the request body, "outputs":
// the response body) turned into table rows for `mlo monitor`: one row per
// input row of the request, whatever protocol carried it (MLflow's
// dataframe_split, dataframe_records, instances, inputs; the Open Inference
// Protocol's named tensors), with the record's scalar fields and the model's
// prediction for that row.
#pragma once
#include <nlohmann/json.hpp>

#include <deque>
#include <string>
#include <utility>
#include <vector>

namespace mlo::monitor {

// A row as (column, value) pairs; values point into the parsed record (or
// into `scratch` for names made up here).
using FlatRow = std::vector<std::pair<std::string, const nlohmann::ordered_json*>>;

// Appends an object's fields as columns; nested objects become dotted
// columns ("a.b"), arrays stay one cell. (How any JSON Lines record is read.)
void flatten_into(const nlohmann::ordered_json& object, const std::string& prefix, FlatRow& out);

// True when `record` has the request-log shape ({"inputs": {...}, ...}).
bool is_request_log_record(const nlohmann::ordered_json& record);

// Appends one row per input row to `rows`. Columns: every scalar field of the
// record (ts, model, version, status, latency_ms...), the request's features
// by name (positional inputs become input_0, input_1, ... unless the context
// names them), a text/csv body's rows, and the response's
// outputs: "prediction" for MLflow's predictions (or the request's
// params.predict_method), the tensor's name for Open Inference Protocol
// outputs. An output with a list of values per row (predict_proba,
// decision_function per class) becomes one column per value, named as
// `mlo deploy --target batch --outputs` names them: NAME_CLASS with the class
// labels the runner sent in the tensor's parameters.classes, else NAME_0,
// NAME_1, ... A request whose body has no rows it can read (an empty batch,
// an unknown shape) yields one row of the scalar fields.
void request_log_rows(const nlohmann::ordered_json& record, std::vector<FlatRow>& rows);

// What reading request logs needs beyond one record: the names of positional
// inputs (the model's signature: `instances` rows, an [n, k] tensor, a CSV
// body without a header) and storage for values parsed from a text body (a
// text/csv request), which rows point into until the next record.
struct RequestLogContext {
  std::vector<std::string> feature_names;  // empty: input_0, input_1, ...
  std::deque<nlohmann::ordered_json> scratch;
};
void request_log_rows(const nlohmann::ordered_json& record, std::vector<FlatRow>& rows, RequestLogContext& context);

// The columns a request log adds beside the features (ts, model, version,
// route, status, latency_ms, prediction...). A current dataset read from
// request logs has them while the training data does not: they are facts
// about serving, not a change in the data's schema. Served outputs
// (predict_proba, decision_function and their per-class columns) count too.
bool is_request_log_field(const std::string& column);

}  // namespace mlo::monitor
