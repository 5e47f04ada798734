#include <catch2/catch.hpp>

#include "monitor/request_log.h"

#include <map>

using namespace mlo::monitor;
using Json = nlohmann::ordered_json;

namespace {
// Rows as column -> value text, for compact checks.
std::vector<std::map<std::string, std::string>> rows_of(const Json& record) {
  std::vector<FlatRow> rows;
  request_log_rows(record, rows);
  std::vector<std::map<std::string, std::string>> out;
  for (const auto& r : rows) {
    out.emplace_back();
    for (const auto& [k, v] : r) out.back()[k] = v->is_string() ? v->get<std::string>() : v->dump();
  }
  return out;
}

Json record(const char* inputs, const char* outputs) {
  Json j = Json::parse(R"({"ts":"2026-01-01T00:00:00Z","model":"m","version":"v1","status":200,"latency_ms":1.5})");
  j["inputs"] = Json::parse(inputs);
  j["outputs"] = Json::parse(outputs);
  return j;
}
}  // namespace

TEST_CASE("request logs: MLflow dataframe_split and dataframe_records give one row per input row") {
  auto rows = rows_of(record(R"({"dataframe_split":{"columns":["a","b"],"data":[[1,2],[3,4]]}})",
                             R"({"predictions":[0,1]})"));
  REQUIRE(rows.size() == 2);
  CHECK(rows[0]["a"] == "1");
  CHECK(rows[1]["b"] == "4");
  CHECK(rows[1]["prediction"] == "1");
  CHECK(rows[0]["model"] == "m");
  CHECK(rows[0]["latency_ms"] == "1.5");
  CHECK(rows[0].count("inputs") == 0);

  rows = rows_of(record(R"({"dataframe_records":[{"a":5,"c":"x"}]})", R"({"predictions":["yes"]})"));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["c"] == "x");
  CHECK(rows[0]["prediction"] == "yes");
  CHECK(is_request_log_record(record("{}", "{}")));
  CHECK_FALSE(is_request_log_record(Json::parse(R"({"a":1})")));
}

TEST_CASE("request logs: instances, column tensors and Open Inference Protocol tensors") {
  auto rows = rows_of(record(R"({"instances":[[1.5,2.5]]})", R"([7])"));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["input_0"] == "1.5");
  CHECK(rows[0]["input_1"] == "2.5");
  CHECK(rows[0]["prediction"] == "7");

  rows = rows_of(record(R"({"inputs":{"a":[1,2],"b":[3,4]}})", R"({"predictions":[0,0]})"));
  REQUIRE(rows.size() == 2);
  CHECK(rows[1]["a"] == "2");

  // One [n, k] tensor, flat data (row-major).
  rows = rows_of(record(R"({"inputs":[{"name":"x","shape":[2,3],"datatype":"FP64","data":[1,2,3,4,5,6]}]})",
                        R"({"outputs":[{"name":"predict","shape":[2],"data":[0,1]}]})"));
  REQUIRE(rows.size() == 2);
  CHECK(rows[1]["input_0"] == "4");
  CHECK(rows[1]["input_2"] == "6");
  CHECK(rows[1]["predict"] == "1");

  // Named column tensors of shape [n].
  rows = rows_of(record(R"({"inputs":[{"name":"age","shape":[2],"data":[30,40]},{"name":"plan","shape":[2],"data":["a","b"]}]})",
                        R"({"outputs":[{"name":"predict","data":[0,1]}]})"));
  REQUIRE(rows.size() == 2);
  CHECK(rows[0]["age"] == "30");
  CHECK(rows[1]["plan"] == "b");
}

TEST_CASE("request logs: any other body is one row of named values; an empty batch keeps the scalar fields") {
  auto rows = rows_of(record(R"({"a":1.5,"nested":{"b":"x"}})", R"({"p":0.2})"));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["a"] == "1.5");
  CHECK(rows[0]["nested.b"] == "x");
  CHECK(rows[0]["p"] == "0.2");
  CHECK(rows[0]["status"] == "200");
  rows = rows_of(record(R"({"dataframe_records":[]})", R"({"predictions":[]})"));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].size() == 5);
}

TEST_CASE("request logs: positional inputs take the signature's names; a text/csv body gives its rows") {
  RequestLogContext ctx;
  ctx.feature_names = {"age", "income"};
  auto named = [&](const Json& rec) {
    std::vector<FlatRow> rows;
    ctx.scratch.clear();
    request_log_rows(rec, rows, ctx);
    std::vector<std::map<std::string, std::string>> out;
    for (const auto& r : rows) {
      out.emplace_back();
      for (const auto& [k, v] : r) out.back()[k] = v->is_string() ? v->get<std::string>() : v->dump();
    }
    return out;
  };
  auto rows = named(record(R"({"instances":[[30,1000],[40,2000]]})", R"({"predictions":[0,1]})"));
  REQUIRE(rows.size() == 2);
  CHECK(rows[1]["age"] == "40");
  CHECK(rows[1]["income"] == "2000");
  CHECK(rows[0].count("input_0") == 0);
  rows = named(record(R"({"inputs":[{"name":"x","shape":[1,3],"datatype":"FP64","data":[1,2,3]}]})", R"({})"));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["age"] == "1");
  CHECK(rows[0]["input_2"] == "3");  // more inputs than the signature names: the rest stay positional

  // text/csv: logged as a string; a header line names the columns, else the signature does
  Json csv = record("{}", R"({"predictions":[5,6]})");
  csv["route"] = "/invocations";
  csv["inputs"] = "age,income\n30,1000\n\"40\",2000\n";
  CHECK(is_request_log_record(csv));
  rows = named(csv);
  REQUIRE(rows.size() == 2);
  CHECK(rows[1]["age"] == "40");
  CHECK(rows[1]["prediction"] == "6");
  CHECK(rows[0].count("inputs") == 0);
  csv["inputs"] = "30,1000\n";
  rows = named(csv);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["income"] == "1000");
  // without the router's fields a string "inputs" is just a field
  CHECK_FALSE(is_request_log_record(Json::parse(R"({"inputs":"a,b\n1,2"})")));
}

TEST_CASE("request logs: per-class outputs become one column per class, named as --target batch names them") {
  // Nested rows with the class order the runner sent (parameters.classes).
  auto rows = rows_of(record(R"({"inputs":[{"name":"x","shape":[2,1],"data":[[1],[2]]}]})",
                             R"({"outputs":[{"name":"predict_proba","shape":[2,2],"parameters":{"classes":["churn","stay"]},
                                  "data":[[0.25,0.75],[0.5,0.5]]},{"name":"predict","shape":[2],"data":["stay","churn"]}]})"));
  REQUIRE(rows.size() == 2);
  CHECK(rows[0]["predict_proba_churn"] == "0.25");
  CHECK(rows[0]["predict_proba_stay"] == "0.75");
  CHECK(rows[1]["predict_proba_stay"] == "0.5");
  CHECK(rows[1]["predict"] == "churn");
  CHECK(rows[0].count("predict_proba") == 0);
  // Flat [n, k] data (the protocol's row-major form), numeric classes.
  rows = rows_of(record(R"({"inputs":[{"name":"x","shape":[2,1],"data":[1,2]}]})",
                        R"({"outputs":[{"name":"predict_proba","shape":[2,2],"parameters":{"classes":[0,1]},"data":[0.1,0.9,0.8,0.2]}]})"));
  REQUIRE(rows.size() == 2);
  CHECK(rows[1]["predict_proba_0"] == "0.8");
  CHECK(rows[1]["predict_proba_1"] == "0.2");
  // No class order sent, or one of another length: the column index.
  rows = rows_of(record(R"({"inputs":[{"name":"x","shape":[1,1],"data":[[1]]}]})",
                        R"({"outputs":[{"name":"decision_function","parameters":{"classes":["a"]},"data":[[-1,0,2]]}]})"));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["decision_function_0"] == "-1");
  CHECK(rows[0]["decision_function_2"] == "2");
  // MLflow: params.predict_method names what the predictions are.
  rows = rows_of(record(R"({"instances":[[1]],"params":{"predict_method":"predict_proba"}})", R"({"predictions":[[0.3,0.7]]})"));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["predict_proba_1"] == "0.7");
  CHECK(rows[0].count("prediction") == 0);
  // Nested deeper than one list a row stays one cell; served outputs are serving fields.
  rows = rows_of(record(R"({"instances":[[1]]})", R"({"predictions":[[[1,2]]]})"));
  CHECK(rows[0]["prediction"] == "[[1,2]]");
  CHECK(is_request_log_field("predict_proba_churn"));
  CHECK(is_request_log_field("decision_function"));
  CHECK_FALSE(is_request_log_field("predict_probability"));
}
