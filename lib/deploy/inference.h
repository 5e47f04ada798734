// What inference runners share: the job spec mlo hands them, the native model
// format (mlo-linear JSON, schemas/mlo-linear-model.schema.json), and the
// request formats of the two HTTP protocols they speak — the Open Inference
// Protocol (KServe v2) and MLflow's scoring server. See mlo-inference-runners(7).
#pragma once
#include <nlohmann/json.hpp>

#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/parse.h"
#include "deploy/http_server.h"

namespace mlo::deploy {

// The job spec (schemas/inference-spec.schema.json), passed as `RUNNER --spec FILE`.
struct InferenceSpec {
  std::string mode = "serve";  // serve | batch
  std::string model_name;
  std::string model_version;
  std::filesystem::path artifact;
  std::string sha256;  // of the artifact; optional
  std::string host = "127.0.0.1";
  int port = 0;
  int threads = 2;
  // Worker processes sharing the port (0: the runner's default; the native
  // runner's is 1, its threads use the cores) and adaptive batching
  // (max_batch_size <= 1: off).
  int workers = 0, max_batch_size = 0, max_batch_time_ms = 0;
  std::filesystem::path batch_input, batch_output;
  std::vector<std::string> batch_outputs;  // output names to write (empty: predict)
};
nlohmann::json spec_to_json(const InferenceSpec& spec);
// Validates like the schema does; `where` names the file in errors (InputError).
InferenceSpec spec_from_json(const nlohmann::json& doc, const std::string& where);

// A batch of input rows. columns is empty when the request gave positions only.
struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<double>> rows;
};

// Thrown for a request the client got wrong (answered with 400).
struct BadRequest : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Bounds on one request body (mlo-deploy(1), "LIMITS"): a request over any of
// them is answered 400, never allowed to exhaust the stack or memory.
// Nesting of [ and {: core/parse.h's kMaxJsonDepth (64), checked with json_depth_within.
inline constexpr std::size_t kMaxRequestValues = 4'000'000;  // numbers in one request
inline constexpr std::size_t kMaxRequestRows = 1'000'000;    // rows in one request

// Parses a request body as JSON; throws BadRequest when it is not JSON or nests
// deeper than kMaxJsonDepth (checked on the bytes first: the parser and the
// destructor of a parsed document recurse).
nlohmann::json parse_request_json(std::string_view body);

// MLflow /invocations bodies: dataframe_split, dataframe_records, instances, inputs (JSON).
Table parse_mlflow_json(const nlohmann::json& body);
// text/csv: a header of names when the first line is not all numbers. Batch
// scoring of a file passes no row bound; a request keeps kMaxRequestRows.
Table parse_csv(std::string_view text, std::size_t max_rows = kMaxRequestRows);
// An Open Inference Protocol infer request's "inputs": one [n, f] tensor, or one
// [n] / [n, 1] tensor per feature named by the feature.
Table parse_v2_inputs(const nlohmann::json& body);

// A linear or logistic model (format "mlo-linear").
struct LinearModel {
  std::string task;  // regression | classification
  std::vector<std::string> features;
  std::vector<std::vector<double>> coef;  // one row per output (1 for regression / binary)
  std::vector<double> intercept;
  nlohmann::json classes = nlohmann::json::array();  // class labels (classification)

  static LinearModel parse(const nlohmann::json& doc, const std::string& where);
  static LinearModel load(const std::filesystem::path& path);
  // Reorders/validates a table against the features; throws BadRequest.
  std::vector<std::vector<double>> align(const Table& t) const;
  nlohmann::json predict(const Table& t) const;  // one label or value per row
  bool labels_are_numbers() const;
  // What the model answers by name: predict; a classifier also predict_proba
  // (one probability per class, in `classes` order) and decision_function
  // (the margin: one value per row when binary, one per class otherwise).
  std::vector<std::string> output_names() const;
  // One JSON array per name, holding one entry per row; names must be output_names().
  std::vector<nlohmann::json> outputs(const Table& t, const std::vector<std::string>& names) const;
};

// One output a runner offers: its Open Inference Protocol datatype and how
// many values it has per row (0: one scalar).
struct OutputInfo {
  std::string name, datatype;
  std::size_t width = 0;
};
// Computes the named outputs (one array per name, an entry per row).
using ComputeOutputs = std::function<std::vector<nlohmann::json>(const Table&, const std::vector<std::string>&)>;

// The names an infer request's "outputs" selects (default: predict); throws
// BadRequest for a malformed list or a name the model does not have.
std::vector<std::string> requested_outputs(const nlohmann::json& body, const std::vector<OutputInfo>& offered);

// A prediction request, parsed and checked: what to compute, and how to
// answer once the values (one array per name) are computed.
struct PendingPredict {
  Table table;
  std::vector<std::string> names;
  std::function<HttpResponse(std::vector<nlohmann::json>)> respond;
  // The answer to the values, or to what computing them threw (BadRequest: 400).
  HttpResponse answer(std::vector<nlohmann::json> values, const std::exception_ptr& error) const;
};

// The HTTP routes every mlo runner serves, around a predict function. Used by
// mlo-serve-native; the Python runner implements the same routes itself.
struct ModelServer {
  std::string name, version, platform, runner_name;
  std::vector<std::string> features;
  std::vector<OutputInfo> outputs{{"predict", "FP64", 0}};
  nlohmann::json classes;  // class labels, the column order of per-class outputs (null: none)
  ComputeOutputs compute;
  // Answers a request, computing a prediction at once.
  void handle(const HttpRequest& req, HttpResponse& resp) const;
  // Answers every route but a valid prediction in resp; for that, returns
  // what to compute (whoever computes it answers with PendingPredict::answer).
  std::optional<PendingPredict> route(const HttpRequest& req, HttpResponse& resp) const;

 private:
  std::optional<PendingPredict> invocations(const HttpRequest& req, HttpResponse& resp) const;
  std::optional<PendingPredict> infer(const HttpRequest& req, HttpResponse& resp) const;
  nlohmann::json metadata() const;
};

// Reads a CSV file, computes the named outputs (empty: predict), writes CSV:
// the input columns plus "prediction" for predict and NAME (one value a row)
// or NAME_LABEL per class for the others. Returns the number of rows scored.
std::size_t score_csv_file(const std::filesystem::path& input, const std::filesystem::path& output,
                           const ComputeOutputs& compute, std::vector<std::string> names = {},
                           const nlohmann::json& classes = nullptr);

}  // namespace mlo::deploy
