// lib/deploy: HTTP framing, the server and client over real sockets, request
// formats of both protocols, the mlo-linear model, job specs, k8s schema
// checks, mlo.yaml deployments and the rebuildable event index.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "core/error.h"
#include "core/fs.h"
#include "deploy/deploy.h"
#include "deploy/http_server.h"
#include "deploy/inference.h"
#include "deploy/router_internal.h"
#include "repo/repo.h"
#include "test_util.h"

using namespace mlo;
using namespace mlo::deploy;
using nlohmann::json;

TEST_CASE("http: parse_request frames requests (also without header lines) and rejects bad ones") {
  HttpRequest req;
  std::size_t used = 0;
  std::string err;
  int status = 0;
  std::string two = "POST /a?x=1 HTTP/1.1\r\nContent-Length: 2\r\nHost: h\r\n\r\nhiGET /b HTTP/1.1\r\n\r\n";
  REQUIRE(parse_request(two, 1024, req, used, err, status) == ParseState::complete);
  CHECK(req.method == "POST");
  CHECK(req.path == "/a");
  CHECK(req.target == "/a?x=1");
  CHECK(req.body == "hi");
  CHECK(req.keep_alive);
  CHECK(req.header("host") == "h");
  REQUIRE(parse_request(std::string_view(two).substr(used), 1024, req, used, err, status) == ParseState::complete);
  CHECK(req.path == "/b");
  CHECK(parse_request("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", 1024, req, used, err, status) ==
        ParseState::incomplete);
  CHECK(parse_request("GARBAGE\r\n\r\n", 1024, req, used, err, status) == ParseState::bad);
  CHECK(status == 400);
  CHECK(parse_request("GET / HTTP/2\r\n\r\n", 1024, req, used, err, status) == ParseState::bad);
  CHECK(parse_request("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 1024, req, used, err, status) == ParseState::bad);
  CHECK(parse_request("POST / HTTP/1.1\r\nContent-Length: 9999\r\n\r\n", 1024, req, used, err, status) == ParseState::bad);
  CHECK(status == 413);
  CHECK(parse_request("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 1024, req, used, err, status) ==
        ParseState::bad);
  CHECK(status == 411);
  REQUIRE(parse_request("GET / HTTP/1.0\r\n\r\n", 1024, req, used, err, status) == ParseState::complete);
  CHECK_FALSE(req.keep_alive);
  // No header lines: the header block is empty, not the rest of the buffer.
  std::string bare = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n";
  REQUIRE(parse_request(bare, 1024, req, used, err, status) == ParseState::complete);
  CHECK(req.path == "/a");
  CHECK(req.headers.empty());
  CHECK(used == 19);
  REQUIRE(parse_request(std::string_view(bare).substr(used), 1024, req, used, err, status) == ParseState::complete);
  CHECK(req.path == "/b");
  // Non-ASCII targets are refused; errors that quote them stay valid JSON.
  CHECK(parse_request("GET /\xff\xfe HTTP/1.1\r\n\r\n", 1024, req, used, err, status) == ParseState::bad);
  CHECK(status == 400);
  CHECK_THAT(err, Catch::Contains("visible ASCII"));
  HttpResponse r = error_response(404, "no route for GET /\xff");
  CHECK(json::parse(r.body)["error"].get<std::string>().find("no route") == 0);
}

namespace {
// A blocking client socket to 127.0.0.1:port that gives up reading after 5 s.
UniqueFd connect_loopback(int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  timeval tv{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}
}  // namespace

TEST_CASE("http: incomplete headers time out with 408; idle connections close") {
  HttpServerOptions opt{"127.0.0.1", 0, 1};
  opt.header_timeout_ms = 300;
  opt.idle_timeout_ms = 600;
  HttpServer server(opt);
  server.start([](const HttpRequest&, HttpResponse& resp) { resp.body = "{}"; });
  auto read_all = [](int fd) {
    std::string got;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) got.append(buf, static_cast<std::size_t>(n));
    return std::make_pair(got, n);
  };
  UniqueFd slow = connect_loopback(server.port());
  REQUIRE(::send(slow.get(), "GET / HTTP/1.1\r\nHost: x\r\n", 25, MSG_NOSIGNAL) == 25);
  auto t0 = std::chrono::steady_clock::now();
  auto [got, last] = read_all(slow.get());
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(got.rfind("HTTP/1.1 408 ", 0) == 0);
  CHECK(last == 0);  // closed by the server, not by the 5 s receive timeout
  CHECK(s < 2.0);
  UniqueFd idle = connect_loopback(server.port());
  auto [nothing, end] = read_all(idle.get());
  CHECK(nothing.empty());
  CHECK(end == 0);
}

TEST_CASE("http: at the connection cap the longest-waiting incomplete request is dropped") {
  HttpServerOptions opt{"127.0.0.1", 0, 1};
  opt.max_connections = 4;
  HttpServer server(opt);
  server.start([](const HttpRequest&, HttpResponse& resp) { resp.body = R"({"ok":true})"; });
  std::vector<UniqueFd> stalled;
  for (int i = 0; i < 8; ++i) {
    stalled.push_back(connect_loopback(server.port()));
    REQUIRE(::send(stalled.back().get(), "GET / HTTP/1.1\r\n", 16, MSG_NOSIGNAL) == 16);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  HttpResult r = http_request("127.0.0.1", server.port(), "GET", "/", {}, 3000);
  CHECK(r.status == 200);
  char c;
  CHECK(::recv(stalled[0].get(), &c, 1, 0) == 0);  // the oldest was closed
}

TEST_CASE("http: server and client over real sockets, keep-alive, port in use") {
  HttpServer server({"127.0.0.1", 0, 2});
  std::atomic<int> calls{0};
  server.start([&](const HttpRequest& req, HttpResponse& resp) {
    ++calls;
    if (req.path == "/boom") throw std::runtime_error("handler failed");
    resp.body = json{{"path", req.path}, {"body", req.body}}.dump();
  });
  HttpClient client("127.0.0.1", server.port(), 5000);
  for (int i = 0; i < 50; ++i) {
    HttpResult r = client.request("POST", "/x", "payload-" + std::to_string(i));
    REQUIRE(r.status == 200);
    CHECK(json::parse(r.body)["body"] == "payload-" + std::to_string(i));
  }
  HttpResult boom = client.request("GET", "/boom");
  CHECK(boom.status == 500);
  CHECK(json::parse(boom.body)["error"] == "handler failed");
  CHECK(calls.load() == 51);
  // A second server on the same port is refused with a clear message.
  try {
    HttpServer again({"127.0.0.1", server.port(), 1});
    FAIL("expected port in use");
  } catch (const InputError& e) {
    CHECK(std::string(e.what()).find("already in use") != std::string::npos);
  }
  server.stop();
  // The client reports a dead server instead of hanging.
  HttpResult gone = client.request("GET", "/x");
  CHECK(gone.status == 0);
  CHECK_FALSE(gone.error.empty());
}

TEST_CASE("formats: MLflow bodies, CSV and Open Inference Protocol tensors") {
  Table t = parse_mlflow_json(json::parse(R"({"dataframe_split":{"columns":["a","b"],"data":[[1,2],[3,4]]}})"));
  CHECK(t.columns == std::vector<std::string>{"a", "b"});
  CHECK(t.rows.size() == 2);
  t = parse_mlflow_json(json::parse(R"({"dataframe_records":[{"b":2,"a":1}]})"));
  CHECK(t.rows[0].size() == 2);
  t = parse_mlflow_json(json::parse(R"({"instances":[1,2]})"));
  CHECK(t.rows == std::vector<std::vector<double>>{{1, 2}});
  t = parse_mlflow_json(json::parse(R"({"inputs":{"a":[1,2],"b":[3,4]}})"));
  CHECK(t.rows == std::vector<std::vector<double>>{{1, 3}, {2, 4}});
  CHECK_THROWS_AS(parse_mlflow_json(json::parse(R"({"rows":[]})")), BadRequest);
  CHECK_THROWS_AS(parse_mlflow_json(json::parse(R"({"instances":[["x"]]})")), BadRequest);
  CHECK_THROWS_AS(parse_mlflow_json(json::parse(R"({"inputs":{"a":[1],"b":[1,2]}})")), BadRequest);
  t = parse_csv("a,b\n1,2\r\n3,4\n");
  CHECK(t.columns.size() == 2);
  CHECK(t.rows.size() == 2);
  CHECK_THROWS_AS(parse_csv("a,b\n1,x\n"), BadRequest);
  // RFC 4180: a quoted name keeps its comma and doubled quote; quoted numbers are numbers.
  t = parse_csv("\"size, m2\",\"say \"\"hi\"\"\"\n\"1.5\",2\n");
  CHECK(t.columns == std::vector<std::string>{"size, m2", "say \"hi\""});
  REQUIRE(t.rows.size() == 1);
  CHECK(t.rows[0] == std::vector<double>{1.5, 2});
  CHECK_THROWS_WITH(parse_csv("a,b\n1,2\n3,4\"x\n"), Catch::Contains("CSV line 3: bad quoting"));
  t = parse_v2_inputs(json::parse(R"({"inputs":[{"name":"input-0","shape":[2,2],"data":[[1,2],[3,4]]}]})"));
  CHECK(t.rows == std::vector<std::vector<double>>{{1, 2}, {3, 4}});
  t = parse_v2_inputs(json::parse(R"({"inputs":[{"name":"a","shape":[2],"data":[1,2]},{"name":"b","shape":[2],"data":[3,4]}]})"));
  CHECK(t.columns == std::vector<std::string>{"a", "b"});
  CHECK(t.rows == std::vector<std::vector<double>>{{1, 3}, {2, 4}});
  CHECK_THROWS_AS(parse_v2_inputs(json::parse(R"({"inputs":[{"shape":[3,2],"data":[1,2]}]})")), BadRequest);
  CHECK_THROWS_AS(parse_v2_inputs(json::parse(R"({"inputs":[]})")), BadRequest);
}

TEST_CASE("formats: request bodies are bounded in depth, shape, rows and values") {
  auto rejects = [](const std::string& body, const std::string& words) {
    INFO(body.substr(0, 80));
    try {
      json doc = parse_request_json(body);
      if (doc.contains("inputs") && doc["inputs"].is_array() && !doc.contains("instances")) parse_v2_inputs(doc);
      else parse_mlflow_json(doc);
      FAIL("accepted");
    } catch (const BadRequest& e) {
      CHECK_THAT(e.what(), Catch::Contains(words));
    }
  };
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  rejects(R"({"inputs":[{"name":"x","shape":[1],"data":)" + deep + "}]}", "nests deeper than 64");
  rejects(R"({"instances":)" + deep + "}", "nests deeper than 64");
  // Brackets inside strings do not count.
  CHECK(parse_request_json("[\"" + std::string(1000, '[') + "\\\"\"]").is_array());
  rejects(R"({"inputs":[{"name":"x","shape":[4294967296,4294967296],"data":[1]}]})", "bad 'shape'");
  rejects(R"({"inputs":[{"name":"x","shape":[20000000,0],"data":[]}]})", "bad 'shape'");
  rejects(R"({"inputs":[{"name":"x","shape":[1000,0],"data":[]}]})", "rows with no values");
  rejects(R"({"inputs":[{"name":"x","shape":[3000,3000],"data":[1]}]})", "more than 4000000 values");
  rejects(R"({"inputs":[{"name":"x","shape":[],"data":[1]}]})", "'shape' must be a list");
  rejects(R"({"inputs":[{"name":"x","shape":[1.5],"data":[1]}]})", "bad 'shape'");
  rejects(R"({"inputs":[{"name":["x"],"shape":[1],"data":[1]}]})", "'name' must be a string");
  rejects(R"({"inputs":[3,4]})", "expected a tensor object");
  rejects("\"\xff\"", "not valid JSON");
  // Depth within the bound, built without recursion on the data.
  json nested = json::array({1.0, 2.0});
  for (int i = 0; i < 59; ++i) nested = json::array({nested});
  json body = {{"inputs", json::array({{{"name", "x"}, {"shape", {1, 2}}, {"data", nested}}})}};
  Table t = parse_v2_inputs(parse_request_json(body.dump()));
  REQUIRE(t.rows.size() == 1);
  CHECK(t.rows[0] == std::vector<double>{1.0, 2.0});
  nested = json::array({nested, nested});
  body["inputs"][0]["data"] = json::array({json::array({nested})});
  rejects(body.dump(), "nests deeper than 64");
  // CSV: a request is bounded in rows; batch scoring of a file is not.
  std::string many;
  for (int i = 0; i <= 1000000; ++i) many += "1\n";
  CHECK_THROWS_WITH(parse_csv(many), Catch::Contains("at most 1000000"));
  CHECK(parse_csv(many, SIZE_MAX).rows.size() == 1000001);
  // A long value is quoted short in the error.
  try {
    parse_mlflow_json(json{{"instances", json::array({json::array({std::string(5000, 'x')})})}});
    FAIL("accepted");
  } catch (const BadRequest& e) {
    CHECK(std::string(e.what()).size() < 200);
  }
}

TEST_CASE("mlo-linear: regression, binary and multi-class prediction; bad files") {
  LinearModel reg = LinearModel::parse(json::parse(R"({"format":"mlo-linear","version":1,"features":["a","b"],"coef":[2,3],"intercept":1})"), "m");
  CHECK(reg.predict(Table{{"b", "a"}, {{1, 1}}}) == json::array({6.0}));
  CHECK_THROWS_AS(reg.predict(Table{{}, {{1}}}), BadRequest);
  CHECK_THROWS_AS(reg.predict(Table{{"a", "c"}, {{1, 1}}}), BadRequest);
  LinearModel bin = LinearModel::parse(
      json::parse(R"({"format":"mlo-linear","version":1,"task":"classification","features":["x"],"coef":[1],"intercept":0,"classes":["no","yes"]})"), "m");
  CHECK(bin.predict(Table{{}, {{-2}, {2}}}) == json::array({"no", "yes"}));
  CHECK_FALSE(bin.labels_are_numbers());
  LinearModel multi = LinearModel::parse(
      json::parse(R"({"format":"mlo-linear","version":1,"task":"classification","features":["x"],"coef":[[1],[0],[-1]],"intercept":[0,0.5,0],"classes":[0,1,2]})"), "m");
  CHECK(multi.predict(Table{{}, {{2}, {0}, {-2}}}) == json::array({0, 1, 2}));
  CHECK_THROWS_AS(LinearModel::parse(json::parse(R"({"format":"other"})"), "m"), InputError);
  CHECK_THROWS_AS(LinearModel::parse(json::parse(R"({"format":"mlo-linear","version":1,"features":["a"],"coef":[1,2]})"), "m"), InputError);
  CHECK_THROWS_AS(LinearModel::parse(json::parse(R"({"format":"mlo-linear","version":1,"task":"classification","features":["a"],"coef":[1]})"), "m"), InputError);
}

TEST_CASE("inference spec: round trip and validation") {
  InferenceSpec s;
  s.model_name = "iris";
  s.model_version = "3";
  s.artifact = "/m.json";
  s.port = 8080;
  InferenceSpec back = spec_from_json(spec_to_json(s), "spec");
  CHECK(back.model_name == "iris");
  CHECK(back.port == 8080);
  CHECK_THROWS_AS(spec_from_json(json::parse(R"({"version":2})"), "spec"), InputError);
  CHECK_THROWS_AS(spec_from_json(json::parse(R"({"version":1,"model":{"name":"a","artifact":"/x"}})"), "spec"), InputError);
  CHECK_THROWS_AS(spec_from_json(json::parse(R"({"version":1,"mode":"batch","model":{"name":"a","artifact":"/x"},"batch":{}})"), "spec"), InputError);
}

TEST_CASE("k8s: the embedded schema is the shipped one and catches missing fields") {
  const char* src = std::getenv("MLO_TEST_SOURCE_DIR");
  REQUIRE(src);
  json shipped = json::parse(read_file(std::filesystem::path(src) / "schemas/k8s-manifest.schema.json"));
  CHECK(shipped == k8s_manifest_schema());
  json svc = {{"apiVersion", "v1"}, {"kind", "Service"}, {"metadata", {{"name", "iris-prod"}, {"labels", json::object()}}},
              {"spec", {{"selector", json::object()}, {"ports", json::array({{{"port", 80}, {"targetPort", 8080}}})}}}};
  CHECK(validate_k8s_manifest(svc).empty());
  svc["spec"].erase("ports");
  svc["metadata"]["name"] = "Bad_Name";
  auto problems = validate_k8s_manifest(svc);
  REQUIRE(problems.size() == 2);
  json predictor = {
      {"canaryTrafficPercent", 140},
      {"containers", json::array({{{"name", "kserve-container"}, {"image", "i"}}})},
      {"initContainers",
       json::array({{{"name", "fetch-model"}, {"image", "i"}, {"command", json::array({"/bin/sh"})}, {"volumeMounts", json::array()}}})},
      {"volumes", json::array({{{"name", "models"}}})}};
  json isvc = {{"apiVersion", "serving.kserve.io/v1beta1"}, {"kind", "InferenceService"},
               {"metadata", {{"name", "a"}, {"labels", json::object()}}}, {"spec", {{"predictor", predictor}}}};
  CHECK(validate_k8s_manifest(isvc).size() == 1);
  isvc["spec"]["predictor"]["canaryTrafficPercent"] = 40;
  CHECK(validate_k8s_manifest(isvc).empty());
  // Without the step that fetches the model, the pod would start without it.
  isvc["spec"]["predictor"].erase("initContainers");
  CHECK(validate_k8s_manifest(isvc).size() == 1);
  CHECK(validate_k8s_manifest(json{{"kind", "Pod"}}).size() == 1);
}

TEST_CASE("stats: counts, errors, histogram and percentiles") {
  Stats s;
  for (int i = 1; i <= 100; ++i) s.add(i * 0.1, i <= 5 ? 500 : 200);
  s.add(1.0, 404);
  json j = s.summary();
  CHECK(j["requests"] == 101);
  CHECK(j["errors"] == 5);
  CHECK(j["client_errors"] == 1);
  CHECK(j["latency_ms"]["p50"].get<double>() == Approx(5.0).margin(0.2));
  CHECK(s.p99() == Approx(9.9).margin(0.2));
}

TEST_CASE("deployments in mlo.yaml, env names, events and the rebuildable index") {
  test::TempDir dir;
  test::git_init(dir.path());
  init_repo(dir.path(), {});
  Repo repo = Repo::open(dir.path());
  CHECK_FALSE(load_deployment_config(repo, "prod"));
  test::write(dir / "mlo.yaml",
              "stages: {}\ndeployments:\n  prod:\n    model: iris#production\n    port: 8080\n    strategy: canary\n"
              "    thresholds:\n      max_error_rate: 0.05\n      max_p99_ms: 50\n");
  auto cfg = load_deployment_config(repo, "prod");
  REQUIRE(cfg);
  CHECK(cfg->model == "iris#production");
  CHECK(cfg->port == 8080);
  CHECK(cfg->thresholds.max_error_rate == Approx(0.05));
  CHECK(cfg->thresholds.max_p99_ms == Approx(50));
  test::write(dir / "mlo.yaml", "deployments:\n  prod:\n    modle: iris\n");
  CHECK_THROWS_WITH(load_deployment_config(repo, "prod"), Catch::Contains("mlo.yaml:3:5: unknown key 'modle' in deployment 'prod' (did you mean 'model'?)"));
  test::write(dir / "mlo.yaml", "deployments:\n  prod:\n    port: eighty\n");
  CHECK_THROWS_WITH(load_deployment_config(repo, "prod"),
                    Catch::Contains("mlo.yaml:3:11: 'deployments.prod.port' must be an integer, not 'eighty'"));
  CHECK_THROWS_AS(check_env_name("../x"), UsageError);
  CHECK_THROWS_AS(check_env_name("artifacts"), UsageError);  // .mlo/deploy/artifacts holds the served bytes
  CHECK_THROWS_AS(check_env_name(""), UsageError);
  check_env_name("prod-1.eu_west");

  record_deploy_event(repo, {"", "prod", "deploy", "iris", "1", {{"strategy", "replace"}}});
  record_deploy_event(repo, {"", "prod", "rollback", "iris", "1", json::object()});
  record_deploy_event(repo, {"", "dev", "deploy", "other", "2", json::object()});
  CHECK(list_deploy_events(repo).size() == 3);
  CHECK(list_deploy_events(repo, "prod").size() == 2);
  CHECK(list_deploy_events(repo, "", "other").size() == 1);
  repo.index().exec("DELETE FROM deploy_events");
  CHECK(list_deploy_events(repo).empty());
  rebuild_deploy_index(repo);
  auto events = list_deploy_events(repo, "prod");
  REQUIRE(events.size() == 2);
  CHECK(events[0].action == "deploy");
  CHECK(events[0].detail["strategy"] == "replace");
  rebuild_deploy_index(repo);  // idempotent
  CHECK(list_deploy_events(repo).size() == 3);
}

TEST_CASE("model refs and artifacts") {
  CHECK(parse_deploy_ref("iris#production").kind == '#');
  CHECK(parse_deploy_ref("iris@3").value == "3");
  CHECK(parse_deploy_ref("iris").kind == 0);
  CHECK_THROWS_AS(parse_deploy_ref("iris@"), UsageError);
  CHECK_THROWS_AS(parse_deploy_ref("@3"), UsageError);
  test::TempDir dir;
  test::write(dir / "m.json", R"({"format":"mlo-linear","version":1,"features":["a"],"coef":[1]})");
  DeployModel m = model_from_artifact(dir / "m.json", "");
  CHECK(m.name == "m");
  CHECK(m.version.size() == 12);
  CHECK(m.artifact_type == "mlo-linear");
  CHECK(default_runner_for(m.artifact_type) == "native");
  CHECK(model_from_artifact(dir / "m.json", "iris@4").version == "4");
  CHECK_THROWS_AS(model_from_artifact(dir / "nope.json", ""), InputError);
  CHECK(detect_artifact_type("x.joblib") == "sklearn");
}
