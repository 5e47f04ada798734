// lib/deploy serving path (issue 23): response framing, answers given later
// by an HttpServer, the router's non-blocking forwarder (pooled connections,
// in-flight limit, queue, refusal, retry of a stale pooled connection), and
// every output by name of an mlo-linear model.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "deploy/forwarder.h"
#include "deploy/http_server.h"
#include "deploy/inference.h"

using namespace mlo::deploy;
using nlohmann::json;

namespace {
// Submits and waits for the answer (refused reported as status -1).
HttpResult forward_and_wait(Forwarder& f, const std::shared_ptr<Upstream>& up, const std::string& path,
                            const std::string& body = "x") {
  std::promise<HttpResult> p;
  f.submit(up, request_wire("POST", path, "127.0.0.1", body, "text/plain"), [&p](HttpResult&& r, bool refused) {
    if (refused) r.status = -1;
    p.set_value(std::move(r));
  });
  return p.get_future().get();
}
}  // namespace

TEST_CASE("http: parse_response frames Content-Length responses; until_close_response the rest") {
  HttpResult r;
  std::size_t used = 0;
  std::string two = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: b\r\n\r\nhiHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
  REQUIRE(parse_response(two, r, used) == ParseState::complete);
  CHECK(r.status == 200);
  CHECK(r.body == "hi");
  CHECK(r.header("x-a") == "b");
  REQUIRE(parse_response(std::string_view(two).substr(used), r, used) == ParseState::complete);
  CHECK(r.status == 404);
  CHECK(parse_response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", r, used) == ParseState::incomplete);
  CHECK(parse_response("HTTP/1.1 200 OK\r\nContent-Le", r, used) == ParseState::incomplete);
  CHECK(parse_response("HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", r, used) == ParseState::bad);
  CHECK(parse_response("SMTP ready\r\n\r\n", r, used) == ParseState::bad);
  CHECK(parse_response("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", r, used) == ParseState::bad);
  CHECK(parse_response(std::string(70000, 'a'), r, used) == ParseState::bad);
  // No Content-Length: the body runs to the end of the connection.
  std::string open_ended = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it";
  CHECK(parse_response(open_ended, r, used) == ParseState::incomplete);
  REQUIRE(until_close_response(open_ended, r));
  CHECK(r.body == "all of it");
  CHECK_FALSE(until_close_response("HTTP/1.1 200 OK\r\n", r));
}

TEST_CASE("http: an async handler answers later from another thread, in order per connection") {
  HttpServer server({"127.0.0.1", 0, 1});
  std::mutex mu;
  std::vector<std::thread> helpers;
  server.start_async([&](HttpRequest& req, HttpResponse& resp, Reply& reply) {
    if (req.path == "/now") {
      resp.body = R"({"now":true})";
      return true;
    }
    // Answer later, from another thread; request "0" waits longest.
    int delay = req.body == "0" ? 60 : 5;
    std::lock_guard lock(mu);
    helpers.emplace_back([reply, body = std::move(req.body), delay] {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
      HttpResponse r;
      r.body = json{{"later", body}}.dump();
      reply(std::move(r));
    });
    return false;
  });
  HttpClient client("127.0.0.1", server.port(), 5000);
  for (int i = 0; i < 5; ++i) {
    HttpResult r = client.request("POST", "/later", std::to_string(i));
    REQUIRE(r.status == 200);
    CHECK(json::parse(r.body)["later"] == std::to_string(i));
  }
  CHECK(client.request("GET", "/now").body == R"({"now":true})");
  // Pipelined: "0" is answered after 60 ms, "1" would be after 5 ms, yet the
  // answers arrive in the order asked.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(server.port()));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  std::string two = "POST /l HTTP/1.1\r\nContent-Length: 1\r\n\r\n0POST /l HTTP/1.1\r\nContent-Length: 1\r\n\r\n1";
  REQUIRE(::send(fd, two.data(), two.size(), 0) == static_cast<ssize_t>(two.size()));
  std::string got;
  char buf[4096];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (got.find("\"1\"}") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  std::size_t first = got.find(R"({"later":"0"})"), second = got.find(R"({"later":"1"})");
  REQUIRE(first != std::string::npos);
  REQUIRE(second != std::string::npos);
  CHECK(first < second);
  // A client that stops sending after its request (shutdown SHUT_WR) still gets the later answer.
  fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  std::string one = "POST /l HTTP/1.1\r\nContent-Length: 1\r\n\r\n0";
  REQUIRE(::send(fd, one.data(), one.size(), 0) == static_cast<ssize_t>(one.size()));
  ::shutdown(fd, SHUT_WR);
  got.clear();
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  CHECK(got.find(R"({"later":"0"})") != std::string::npos);
  server.stop();
  std::lock_guard lock(mu);
  for (auto& t : helpers) t.join();
}

TEST_CASE("forwarder: pooled keep-alive connections, answers matched to requests") {
  HttpServer runner({"127.0.0.1", 0, 2});
  runner.start([](const HttpRequest& req, HttpResponse& resp) { resp.body = json{{"echo", req.body}}.dump(); });
  Forwarder f;
  auto up = std::make_shared<Upstream>("127.0.0.1", runner.port(), UpstreamLimits{4, 100, 5000});
  // 200 requests from 8 threads at once: each gets its own answer.
  std::atomic<int> wrong{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t)
    clients.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::string body = std::to_string(t) + "-" + std::to_string(i);
        HttpResult r = forward_and_wait(f, up, "/e", body);
        if (r.status != 200 || json::parse(r.body)["echo"] != body) ++wrong;
      }
    });
  for (auto& c : clients) c.join();
  CHECK(wrong.load() == 0);
  f.stop();
  runner.stop();
}

namespace {
thread_local Forwarder* worker_forwarder = nullptr;  // the test front's, per worker
}

TEST_CASE("forwarder on each server worker's loop: answered on the handler's thread; one in-flight limit for all") {
  // A slow runner with one thread: at most 2 requests on their way to it (from
  // either of the front's 2 workers), 2 more queued, the rest refused.
  HttpServer runner({"127.0.0.1", 0, 1});
  runner.start([](const HttpRequest& req, HttpResponse& resp) {
    std::this_thread::sleep_for(std::chrono::milliseconds(req.body == "slow" ? 600 : 0));
    resp.body = json{{"echo", req.body}}.dump();
  });
  auto up = std::make_shared<Upstream>("127.0.0.1", runner.port(), UpstreamLimits{2, 2, 20000});
  std::atomic<int> other_thread{0};
  HttpServer front({"127.0.0.1", 0, 2});
  front.start_async(
      [&](HttpRequest& req, HttpResponse&, Reply& reply) {
        auto handler_thread = std::this_thread::get_id();
        worker_forwarder->submit(up, request_wire("POST", "/e", "127.0.0.1", req.body, "text/plain"),
                                 [&, reply, handler_thread](HttpResult&& r, bool refused) {
                                   if (std::this_thread::get_id() != handler_thread) ++other_thread;
                                   HttpResponse resp;
                                   resp.status = refused ? 503 : r.status;
                                   resp.body = std::move(r.body);
                                   reply(std::move(resp));
                                 });
        return false;
      },
      [](int epoll_fd) -> std::unique_ptr<LoopAttachment> {
        auto f = std::make_unique<Forwarder>(epoll_fd);
        worker_forwarder = f.get();
        return f;
      });
  for (int i = 0; i < 20; ++i) {  // one keep-alive client
    HttpResult r = http_request("127.0.0.1", front.port(), "POST", "/", "n" + std::to_string(i));
    REQUIRE(r.status == 200);
    CHECK(json::parse(r.body)["echo"] == "n" + std::to_string(i));
  }
  CHECK(other_thread.load() == 0);  // a request and its answer on one thread
  // 6 slow requests at once: 2 in flight, 2 queued (sent by whichever worker frees a slot), 2 refused.
  std::vector<std::future<int>> got;
  for (int i = 0; i < 6; ++i)
    got.push_back(std::async(std::launch::async, [&] {
      return http_request("127.0.0.1", front.port(), "POST", "/", "slow", 20000).status;
    }));
  int ok = 0, refused = 0;
  for (auto& g : got) {
    int st = g.get();
    ok += st == 200;
    refused += st == 503;
  }
  CHECK(ok == 4);
  CHECK(refused == 2);
  front.stop();
  runner.stop();
}

TEST_CASE("forwarder: in-flight limit, queue in order, refusal when both are full") {
  HttpServer runner({"127.0.0.1", 0, 4});
  std::atomic<int> concurrent{0}, most{0};
  runner.start([&](const HttpRequest&, HttpResponse& resp) {
    int now = ++concurrent;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    --concurrent;
    resp.body = "{}";
  });
  Forwarder f;
  auto up = std::make_shared<Upstream>("127.0.0.1", runner.port(), UpstreamLimits{1, 2, 5000});
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> statuses;
  for (int i = 0; i < 5; ++i)
    f.submit(up, request_wire("POST", "/", "127.0.0.1", "x", "text/plain"), [&](HttpResult&& r, bool refused) {
      std::lock_guard lock(mu);
      statuses.push_back(refused ? -1 : r.status);
      cv.notify_all();
    });
  std::unique_lock lock(mu);
  REQUIRE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return statuses.size() == 5; }));
  // One in flight + two queued are served one at a time; two are refused at once.
  CHECK(std::count(statuses.begin(), statuses.end(), 200) == 3);
  CHECK(std::count(statuses.begin(), statuses.end(), -1) == 2);
  CHECK(statuses[0] == -1);  // refusals come first: they do not wait
  CHECK(most.load() == 1);
  lock.unlock();
  f.stop();
  runner.stop();
}

TEST_CASE("forwarder: a runner that closed a pooled connection, a dead runner, a timeout") {
  // A runner that closes each connection after answering (Connection: close).
  HttpServer closing({"127.0.0.1", 0, 1});
  closing.start([](const HttpRequest& req, HttpResponse& resp) {
    resp.body = req.path == "/slow" ? "{}" : "{\"ok\":1}";
    if (req.path == "/slow") std::this_thread::sleep_for(std::chrono::milliseconds(600));
    resp.headers.emplace_back("Connection", "close");
  });
  Forwarder f;
  auto up = std::make_shared<Upstream>("127.0.0.1", closing.port(), UpstreamLimits{2, 10, 300});
  for (int i = 0; i < 5; ++i) CHECK(forward_and_wait(f, up, "/a").status == 200);
  HttpResult late = forward_and_wait(f, up, "/slow");
  CHECK(late.status == 0);
  CHECK(late.error.find("timed out") != std::string::npos);
  closing.stop();
  // Nobody listens any more: an error, not a hang.
  HttpResult gone = forward_and_wait(f, up, "/a");
  CHECK(gone.status == 0);
  CHECK_FALSE(gone.error.empty());
  // After stop, a submit is answered at once.
  f.stop();
  CHECK(forward_and_wait(f, up, "/a").error == "the router is stopping");
}

TEST_CASE("forwarder: a pooled connection the runner closed while idle is not used again") {
  HttpServerOptions o{"127.0.0.1", 0, 1};
  o.idle_timeout_ms = 50;  // the runner drops idle keep-alive connections at its next sweep (250 ms)
  HttpServer runner(o);
  runner.start([](const HttpRequest&, HttpResponse& resp) { resp.body = "{}"; });
  Forwarder f;
  auto up = std::make_shared<Upstream>("127.0.0.1", runner.port(), UpstreamLimits{});
  CHECK(forward_and_wait(f, up, "/a").status == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  CHECK(forward_and_wait(f, up, "/a").status == 200);
  f.stop();
  runner.stop();
}

TEST_CASE("mlo-linear: every output by name") {
  LinearModel bin = LinearModel::parse(
      json::parse(R"({"format":"mlo-linear","version":1,"task":"classification","features":["x"],"coef":[2],"intercept":0,"classes":["no","yes"]})"), "m");
  CHECK(bin.output_names() == std::vector<std::string>{"predict", "predict_proba", "decision_function"});
  auto out = bin.outputs(Table{{}, {{0}, {1}}}, {"decision_function", "predict_proba", "predict"});
  CHECK(out[0] == json::array({0.0, 2.0}));
  CHECK(out[1][0] == json::array({0.5, 0.5}));
  CHECK(out[1][1][1].get<double>() == Approx(1 / (1 + std::exp(-2.0))));
  CHECK(out[2] == json::array({"yes", "yes"}));  // p >= 0.5 is the second class
  LinearModel multi = LinearModel::parse(
      json::parse(R"({"format":"mlo-linear","version":1,"task":"classification","features":["x"],"coef":[[1],[0],[-1]],"intercept":[0,0,0],"classes":["a","b","c"]})"), "m");
  auto m = multi.outputs(Table{{}, {{1}}}, {"predict_proba", "decision_function"});
  double sum = 0;
  for (const auto& p : m[0][0]) sum += p.get<double>();
  CHECK(sum == Approx(1.0));
  CHECK(m[0][0][0].get<double>() == Approx(std::exp(1.0) / (std::exp(1.0) + 1 + std::exp(-1.0))));
  CHECK(m[1][0] == json::array({1.0, 0.0, -1.0}));
  LinearModel reg = LinearModel::parse(json::parse(R"({"format":"mlo-linear","version":1,"features":["a"],"coef":[2],"intercept":1})"), "m");
  CHECK(reg.output_names() == std::vector<std::string>{"predict"});
  // Requested outputs: default, by name, unknown, malformed.
  std::vector<OutputInfo> offered = {{"predict", "BYTES", 0}, {"predict_proba", "FP64", 2}};
  CHECK(requested_outputs(json::object(), offered) == std::vector<std::string>{"predict"});
  CHECK(requested_outputs(json{{"outputs", {{{"name", "predict_proba"}}}}}, offered) ==
        std::vector<std::string>{"predict_proba"});
  CHECK_THROWS_WITH(requested_outputs(json{{"outputs", {{{"name", "nope"}}}}}, offered),
                    Catch::Contains("no output \"nope\" (it has predict, predict_proba)"));
  CHECK_THROWS_AS(requested_outputs(json{{"outputs", "predict"}}, offered), BadRequest);
  CHECK_THROWS_AS(requested_outputs(json{{"outputs", {{{"name", 3}}}}}, offered), BadRequest);
}
