// Adaptive batching (issue 23): concurrent requests merge into one model call
// and each gets its own rows' answers back, identical to unbatched ones; a
// request that breaks the merged call fails alone; the native runner's routes
// answer through the batcher later, so more requests can wait in one batch
// than the server has threads.
#include <catch2/catch.hpp>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "deploy/batcher.h"
#include "deploy/http_server.h"
#include "deploy/inference.h"

using namespace mlo::deploy;
using nlohmann::json;

namespace {
// a, b -> red/green/blue by the largest of (a, b, -a-b).
LinearModel three_classes() {
  return LinearModel::parse(json::parse(R"({"format":"mlo-linear","version":1,"task":"classification",
    "features":["a","b"],"coef":[[1,0],[0,1],[-1,-1]],"intercept":[0,0.5,0],"classes":["red","green","blue"]})"),
                            "test");
}

// A model that counts its calls and the rows of each. With hold(), its
// next call blocks until release(): requests submitted meanwhile queue
// behind a busy model, so what merges does not depend on timing.
struct Counting {
  LinearModel model = three_classes();
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::size_t> calls;
  bool holding = false, held = false;
  ComputeOutputs compute() {
    return [this](const Table& t, const std::vector<std::string>& names) {
      std::unique_lock lock(mu);
      calls.push_back(t.rows.size());
      if (holding) {
        held = true;
        cv.notify_all();
        cv.wait(lock, [&] { return !holding; });
      }
      lock.unlock();
      return model.outputs(t, names);
    };
  }
  void hold() {
    std::lock_guard lock(mu);
    holding = true;
  }
  void wait_held() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return held; });
  }
  void release() {
    std::lock_guard lock(mu);
    holding = false;
    cv.notify_all();
  }
};

struct Answer {
  std::vector<json> values;
  std::string error;
};

std::future<Answer> submit(AdaptiveBatcher& b, Table t, std::vector<std::string> names) {
  auto p = std::make_shared<std::promise<Answer>>();
  b.submit(std::move(t), std::move(names), [p](std::vector<json> v, std::exception_ptr e) {
    Answer a{std::move(v), {}};
    try {
      if (e) std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      a.error = ex.what();
    }
    p->set_value(std::move(a));
  });
  return p->get_future();
}
}  // namespace

TEST_CASE("batcher: 48 one-row requests queued behind a busy model make 3 calls of 16 rows, each answer its own") {
  Counting model;
  std::vector<std::future<Answer>> got;
  std::vector<Table> tables;
  std::future<Answer> first;
  {
    // A long wait: each batch ends by filling to max_rows, so the count is exact under any load.
    AdaptiveBatcher b(model.compute(), 16, 60000);
    model.hold();
    first = submit(b, Table{{"a", "b"}, {{5, 0}}}, {"predict"});  // alone on an idle model: computed at once
    model.wait_held();
    for (int k = 0; k < 48; ++k) {
      tables.push_back(Table{{"a", "b"}, {{k * 0.25 - 6, 3.0 - k * 0.1}}});
      got.push_back(submit(b, tables.back(), k % 2 ? std::vector<std::string>{"predict_proba", "predict"}
                                                   : std::vector<std::string>{"predict"}));
    }
    model.release();
    for (auto& f : got) f.wait();
    AdaptiveBatcher::Stats st = b.stats();
    CHECK(st.requests == 49);
    CHECK(st.calls == 4);
    CHECK(st.largest == 16);
  }
  CHECK(first.get().values[0] == json{"red"});
  CHECK(model.calls == std::vector<std::size_t>{1, 16, 16, 16});
  LinearModel alone = three_classes();
  for (int k = 0; k < 48; ++k) {
    Answer a = got[static_cast<std::size_t>(k)].get();
    REQUIRE(a.error.empty());
    std::vector<std::string> names = k % 2 ? std::vector<std::string>{"predict_proba", "predict"} : std::vector<std::string>{"predict"};
    CHECK(json(a.values) == json(alone.outputs(tables[static_cast<std::size_t>(k)], names)));
  }
}

TEST_CASE("batcher: requests with other columns, a bad request, a request over max_rows") {
  Counting model;
  AdaptiveBatcher b(model.compute(), 4, 2000);
  SECTION("columns in another order are not merged with these, and both are right") {
    auto ab = submit(b, Table{{"a", "b"}, {{5, 0}, {5, 0}}}, {"predict"});
    auto ba = submit(b, Table{{"b", "a"}, {{5, 0}}}, {"predict"});
    auto ab2 = submit(b, Table{{"a", "b"}, {{0, 5}, {0, 5}}}, {"predict"});  // fills the batch after ba's
    auto ba2 = submit(b, Table{{"b", "a"}, {{0, 5}, {0, 5}, {0, 5}, {0, 5}}}, {"predict"});  // a full batch alone
    CHECK(ab.get().values[0] == json{"red", "red"});
    CHECK(ba.get().values[0] == json{"green"});
    CHECK(ab2.get().values[0] == json{"green", "green"});
    CHECK(ba2.get().values[0] == json{"red", "red", "red", "red"});
  }
  SECTION("a row of the wrong width fails its own request only") {
    auto good1 = submit(b, Table{{}, {{5, 0}}}, {"predict"});
    auto bad = submit(b, Table{{}, {{1, 2, 3}}}, {"predict"});
    auto good2 = submit(b, Table{{}, {{0, 5}, {0, 5}}}, {"predict"});
    CHECK(good1.get().values[0] == json{"red"});
    Answer a = bad.get();
    CHECK(a.values.empty());
    CHECK(a.error.find("row 0 has 3 values") != std::string::npos);
    CHECK(good2.get().values[0] == json{"green", "green"});
  }
  SECTION("a request larger than max_rows is computed alone, whole") {
    auto big = submit(b, Table{{}, std::vector<std::vector<double>>(10, {5, 0})}, {"predict"});
    CHECK(big.get().values[0].size() == 10);
    CHECK(model.calls == std::vector<std::size_t>{10});
  }
}

TEST_CASE("batcher: a lone request on an idle model is not held for max_time") {
  // The old batcher held every batch max_time for company: this request
  // waited the whole minute.
  Counting model;
  AdaptiveBatcher b(model.compute(), 16, 60000);
  for (int i = 0; i < 3; ++i) {  // one client's requests, one after another
    std::future<Answer> a = submit(b, Table{{}, {{5, 0}}}, {"predict"});
    REQUIRE(a.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
    CHECK(a.get().values[0] == json{"red"});
  }
  CHECK(model.calls == std::vector<std::size_t>{1, 1, 1});
}

TEST_CASE("batcher: a batch waits for as many requests as the previous call had, at most max_time") {
  Counting model;
  AdaptiveBatcher b(model.compute(), 16, 1000);
  model.hold();
  auto plug = submit(b, Table{{}, {{5, 0}}}, {"predict"});
  model.wait_held();
  std::vector<std::future<Answer>> three;
  for (int i = 0; i < 3; ++i) three.push_back(submit(b, Table{{}, {{0, 5}}}, {"predict"}));
  model.release();
  for (auto& f : three) f.wait();  // one call of 3: the batch size to wait for is now 3
  // Two of the three clients send again: one batch, which goes when max_time
  // has passed since the first of them (the third never comes).
  auto a = submit(b, Table{{}, {{5, 0}}}, {"predict"});
  auto c = submit(b, Table{{}, {{5, 0}}}, {"predict"});
  CHECK(a.get().values[0] == json{"red"});
  CHECK(c.get().values[0] == json{"red"});
  std::lock_guard lock(model.mu);
  REQUIRE(model.calls.size() >= 3);
  CHECK(model.calls[0] == 1);
  CHECK(model.calls[1] == 3);
  CHECK(model.calls[2] == 2);
}

TEST_CASE("batcher: with max_time 0 a lone request is answered at once; stopping answers what is queued") {
  Counting model;
  std::future<Answer> last;
  {
    AdaptiveBatcher b(model.compute(), 64, 0);
    CHECK(submit(b, Table{{}, {{5, 0}}}, {"predict"}).get().values[0] == json{"red"});
    for (int i = 0; i < 20; ++i) last = submit(b, Table{{}, {{0, 5}}}, {"predict"});
  }  // the destructor drains the queue
  CHECK(last.get().values[0] == json{"green"});
}

TEST_CASE("batcher: through HttpServer, 8 concurrent requests on 1 thread wait in one batch") {
  Counting model;
  ModelServer ms;
  ms.name = "clf";
  ms.version = "1";
  ms.features = {"a", "b"};
  ms.outputs = {{"predict", "BYTES", 0}, {"predict_proba", "FP64", 3}};
  ms.classes = model.model.classes;
  ms.compute = model.compute();
  // While the model is busy with a first request, 8 more queue: a handler
  // that blocked its thread would hold 1 of them, and the queue would never
  // reach 8 (the test would fail waiting for it).
  AdaptiveBatcher batcher(ms.compute, 8, 60000);
  HttpServer server({"127.0.0.1", 0, 1});
  server.start_async(batched_handler(ms, batcher));
  model.hold();
  json plug_body = {{"inputs", {{{"name", "x"}, {"shape", {1, 2}}, {"datatype", "FP64"}, {"data", {5.0, 0.0}}}}}};
  auto plug = std::async(std::launch::async, [&server, &plug_body] {
    return http_request("127.0.0.1", server.port(), "POST", "/v2/models/clf/infer", plug_body.dump(), 60000);
  });
  model.wait_held();
  std::vector<std::future<HttpResult>> got;
  for (int k = 0; k < 8; ++k)
    got.push_back(std::async(std::launch::async, [&server, k] {
      json body = {{"id", std::to_string(k)},
                   {"inputs", {{{"name", "x"}, {"shape", {1, 2}}, {"datatype", "FP64"}, {"data", {k - 4.0, 1.0}}}}},
                   {"outputs", {{{"name", "predict_proba"}}}}};
      return http_request("127.0.0.1", server.port(), "POST", "/v2/models/clf/infer", body.dump(), 60000);
    }));
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (batcher.queued() < 8 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling a condition, with a generous bound
  REQUIRE(batcher.queued() == 8);
  model.release();
  REQUIRE(plug.get().status == 200);
  for (int k = 0; k < 8; ++k) {
    HttpResult r = got[static_cast<std::size_t>(k)].get();
    REQUIRE(r.status == 200);
    json doc = json::parse(r.body);
    CHECK(doc["id"] == std::to_string(k));
    json expect = model.model.outputs(Table{{}, {{k - 4.0, 1.0}}}, {"predict_proba"})[0];
    CHECK(doc["outputs"][0]["data"] == expect);
    CHECK(doc["outputs"][0]["shape"] == json{1, 3});
  }
  CHECK(model.calls == std::vector<std::size_t>{1, 8});
  // Other routes and bad requests are answered at once, without the batcher.
  CHECK(http_request("127.0.0.1", server.port(), "GET", "/v2/models/clf").status == 200);
  HttpResult bad = http_request("127.0.0.1", server.port(), "POST", "/v2/models/clf/infer", R"({"inputs":3})");
  CHECK(bad.status == 400);
  CHECK(model.calls.size() == 2);
  server.stop();
}
