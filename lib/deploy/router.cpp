// The router: one long-lived process per environment (`mlo deploy serve-router
// ENV`). Its main thread supervises the inference runners (spawns them, waits
// for readiness, restarts crashed ones a bounded number of times, applies new
// states, judges canaries against thresholds); the HTTP workers route requests
// by a routing table that is swapped atomically, so a switch never drops a
// request; a writer thread appends the request log; the forwarder also
// mirrors requests to a shadow version, whose answers are only logged.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "core/error.h"
#include "core/parse.h"
#include "core/fs.h"
#include "deploy/deploy.h"
#include "deploy/http_server.h"
#include "deploy/inference.h"
#include "deploy/request_checks.h"
#include "deploy/router_internal.h"
#include "notify/notify.h"
#include "remote/http.h"
#include "repo/repo.h"

namespace mlo::deploy {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------- stats

const std::array<double, kLatencyBuckets> kBucketBoundsMs = {0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000};

void Stats::add(double ms, int status) {
  requests.fetch_add(1, std::memory_order_relaxed);
  if (status == 0 || status >= 500) errors.fetch_add(1, std::memory_order_relaxed);
  else if (status >= 400) client_errors.fetch_add(1, std::memory_order_relaxed);
  std::size_t b = 0;
  while (b < kLatencyBuckets && ms > kBucketBoundsMs[b]) ++b;
  buckets[b].fetch_add(1, std::memory_order_relaxed);
  sum_us.fetch_add(static_cast<long long>(ms * 1000), std::memory_order_relaxed);
  std::lock_guard lock(mu);
  recent[pos] = static_cast<float>(ms);
  pos = (pos + 1) % recent.size();
  if (filled < recent.size()) ++filled;
}

json Stats::summary() const {
  std::vector<float> v;
  {
    std::lock_guard lock(mu);
    v.assign(recent.begin(), recent.begin() + static_cast<long>(filled));
  }
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) -> json {
    if (v.empty()) return nullptr;
    std::size_t i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return std::round(v[std::min(i, v.size() - 1)] * 1000.0) / 1000.0;
  };
  long n = requests.load();
  long e = errors.load();
  return {{"requests", n},
          {"errors", e},
          {"client_errors", client_errors.load()},
          {"error_rate", n ? static_cast<double>(e) / static_cast<double>(n) : 0.0},
          {"latency_ms", {{"p50", pct(0.50)}, {"p90", pct(0.90)}, {"p99", pct(0.99)}, {"window", v.size()}}}};
}

double Stats::p99() const {
  std::vector<float> v;
  {
    std::lock_guard lock(mu);
    v.assign(recent.begin(), recent.begin() + static_cast<long>(filled));
  }
  if (v.empty()) return 0;
  std::size_t i = static_cast<std::size_t>(0.99 * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

void child_stdio_to_log(const char* log_file) {
  int fd = ::open(log_file, O_WRONLY | O_CREAT | O_APPEND, 0644);
  int in = ::open("/dev/null", O_RDONLY);
  if (fd >= 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
  }
  if (in >= 0) ::dup2(in, 0);
  for (int i = 3; i < 1024; ++i) ::close(i);
}

// ---------------------------------------------------------------- router

namespace {

std::string random_hex(std::size_t bytes) {
  std::random_device rd;
  std::string out;
  static const char* hex = "0123456789abcdef";
  for (std::size_t i = 0; i < bytes; ++i) {
    unsigned v = rd() & 0xff;
    out += hex[v >> 4];
    out += hex[v & 15];
  }
  return out;
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct LogEntry {
  std::chrono::system_clock::time_point at;  // formatted by the log writer, off the request's path
  std::string request_id;
  std::string model, version, role, method, route;
  std::string inputs, outputs;
  int status = 0;
  double latency_ms = 0;
  std::string contract;  // validate_requests: the failures, a JSON array ("" when none)
  std::string classes;   // MLflow answers: the class order of per-class predictions (LiveBackend::classes)
};

// What an answer on `route` leaves out that the request log needs: MLflow's
// /invocations answer has no class order, so `mlo monitor` could only number
// predict_proba's columns.
std::string classes_for_log(const LiveBackend& b, const std::string& route, int status) {
  return status == 200 && route == "/invocations" ? b.classes : std::string();
}

// Appends a body to a log line: valid JSON is spliced in as is (checked, not
// parsed: this runs for every request), anything else (or JSON nested deeper
// than a request may be) as a JSON string.
void append_body(std::string& out, const std::string& body) {
  if (body.empty()) {
    out += "null";
  } else if (body.size() > 65536) {
    out += "{\"truncated\":true,\"bytes\":" + std::to_string(body.size()) + "}";
  } else if (json_depth_within(body, kMaxJsonDepth) && json::accept(body)) {  // readers need not recurse
    std::size_t start = out.size();
    out += body;
    for (std::size_t i = start; i < out.size(); ++i)  // keep one record a line
      if (out[i] == '\n' || out[i] == '\r') out[i] = ' ';
  } else {
    out += json(body).dump(-1, ' ', false, json::error_handler_t::replace);
  }
}

// Appends s as a JSON string. Names and routes are almost always plain
// printable ASCII, which needs no escaping and no json value to dump.
void append_json_string(std::string& out, std::string_view s) {
  bool plain = std::all_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f && c != '"' && c != '\\';
  });
  if (!plain) {
    out += json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace);
    return;
  }
  out += '"';
  out += s;
  out += '"';
}

// Log timestamps as utc_now_iso() writes them (2026-12-04T23:31:00.123Z); the
// date and time of day are formatted once a second, not once a line.
class LogTime {
 public:
  void append(std::string& out, std::chrono::system_clock::time_point at) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
    auto secs = static_cast<std::time_t>(ms / 1000);
    if (secs != cached_secs_ || cached_.empty()) {
      std::tm tm{};
      gmtime_r(&secs, &tm);
      char buf[40];
      std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
      cached_ = buf;
      cached_secs_ = secs;
    }
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03dZ", static_cast<int>(ms % 1000));
    out += cached_;
    out += frac;
  }

 private:
  std::time_t cached_secs_ = 0;
  std::string cached_;
};

thread_local Forwarder* local_forwarder = nullptr;  // an HTTP worker's (Router::forwarder())

class Router {
 public:
  Router(Repo& repo, std::string env, std::string host, int port, int threads)
      : repo_(repo), env_(std::move(env)), dir_(env_dir(repo, env_)), host_(std::move(host)),
        server_({host_, port, threads}) {
    port_ = server_.port();
    token_ = random_hex(16);
    if (auto text = read_file_if_exists(dir_ / "state.json")) {
      json j = json::parse(*text, nullptr, false);
      if (j.is_object()) {
        applied_ = env_state_from_json(j);
        // Runners are restarted by the first apply; start from an empty table.
        applied_.primary.reset();
        applied_.candidate.reset();
        applied_.standby.reset();
        applied_.weight = 0;
      }
    }
    applied_.env = env_;
    applied_.host = host_;
    applied_.port = port_;
    routing_ = std::make_shared<Routing>();
    log_fd_ = UniqueFd(::open((dir_ / "requests.jsonl").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!log_fd_) throw_errno((dir_ / "requests.jsonl").string(), errno);
  }

  int run() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    logger_ = std::thread([this] { log_loop(); });
    // Each HTTP worker forwards on its own loop: a request and its answer never change threads.
    server_.start_async([this](HttpRequest& req, HttpResponse& resp, Reply& reply) { return handle(req, resp, reply); },
                        [](int epoll_fd) -> std::unique_ptr<LoopAttachment> {
                          auto f = std::make_unique<Forwarder>(epoll_fd);
                          local_forwarder = f.get();  // the worker's thread ends when its forwarder does
                          return f;
                        });
    write_file_atomic(dir_ / "router.json",
                      json{{"pid", ::getpid()}, {"host", host_}, {"port", port_}, {"token", token_}}.dump(2) + "\n");
    ::chmod((dir_ / "router.json").c_str(), 0600);
    std::cout << "mlo router for '" << env_ << "' listening on " << host_ << ":" << port_ << std::endl;

    while (!shutdown_.load()) {
      timespec ts{0, 100 * 1000 * 1000};
      siginfo_t info;
      int sig = sigtimedwait(&set, &info, &ts);
      if (sig == SIGTERM || sig == SIGINT) break;
      std::optional<std::pair<EnvState, long>> job;
      {
        std::lock_guard lock(apply_mu_);
        if (!pending_.empty()) {
          job = std::move(pending_.front());
          pending_.pop_front();
        }
      }
      if (job) apply(job->first);
      supervise();
    }
    std::cout << "mlo router for '" << env_ << "' stopping" << std::endl;
    server_.stop();
    forwarder_.stop();
    {
      std::lock_guard lock(live_mu_);
      for (auto& [id, b] : live_) b->upstream->fail_queued("the router is stopping");
      for (auto& [id, b] : live_) stop_backend(*b, 3000);
      live_.clear();
    }
    {
      std::lock_guard lock(log_mu_);  // so the writer cannot miss the wake-up
      stop_threads_ = true;
    }
    log_cv_.notify_one();
    if (logger_.joinable()) logger_.join();
    flush_log();
    std::error_code ec;
    fs::remove(dir_ / "router.json", ec);
    return 0;
  }

 private:
  // ---- routing (HTTP worker threads)

  std::shared_ptr<const Routing> routing() const {
    std::lock_guard lock(routing_mu_);
    return routing_;
  }

  // One request on its way to a runner: what answering and logging it needs.
  struct Call {
    HttpRequest req;
    std::shared_ptr<const Routing> routing;  // keeps the target alive
    LiveBackend* target = nullptr;
    const char* role = "primary";
    std::string request_id;                  // returned and logged (late labels join on it)
    std::string contract;                    // validate_requests: failures logged with it (JSON)
    bool to_candidate = false, mirror = false;
    Clock::time_point t0;
    Reply reply;
  };

  // This HTTP worker's forwarder; the router's own thread's for any other thread.
  Forwarder& forwarder() { return local_forwarder ? *local_forwarder : forwarder_; }

  void forward(const std::shared_ptr<Call>& call) {
    LiveBackend& b = *call->target;
    b.inflight.fetch_add(1);
    call->t0 = Clock::now();
    std::string_view ct = call->req.header("Content-Type");
    std::string wire = request_wire(call->req.method, call->req.target, "127.0.0.1", call->req.body, ct);
    forwarder().submit(b.upstream, std::move(wire),
                       [this, call](HttpResult&& res, bool refused) { answered(call, std::move(res), refused); });
  }

  // On a forwarder's thread (an HTTP worker's): the runner answered, failed, or had no room.
  void answered(const std::shared_ptr<Call>& call, HttpResult&& res, bool refused) {
    LiveBackend* target = call->target;
    target->inflight.fetch_sub(1);
    double ms = ms_since(call->t0);
    const Routing& r = *call->routing;
    if (res.status == 0 && call->to_candidate && target != r.primary.get() && r.primary->ready.load()) {
      // The canary's runner is down or full: count it against the canary, serve from the primary.
      target->stats.add(ms, 0);
      call->target = r.primary.get();
      call->role = "primary";
      return forward(call);
    }
    target->stats.add(ms, refused ? 503 : res.status);
    HttpResponse resp;
    if (refused) {
      resp = error_response(503, "model version " + target->spec.version + " is busy: " + res.error +
                                     "; retry later, or raise deployments." + env_ + ".serving.max_inflight / max_queue");
      resp.headers.emplace_back("Retry-After", "1");
    } else if (res.status == 0) {
      resp = error_response(502, "model version " + target->spec.version + " did not answer: " + res.error);
    } else {
      resp.status = res.status;
      std::string_view ct = res.header("Content-Type");
      resp.content_type = ct.empty() ? "application/json" : std::string(ct);
      resp.body = std::move(res.body);
    }
    respond(*call, std::move(resp), ms);
  }

  void respond(Call& call, HttpResponse resp, double ms) {
    const HttpRequest& req = call.req;
    LiveBackend* target = call.target;
    resp.headers.emplace_back("X-Mlo-Model", target->spec.model);
    resp.headers.emplace_back("X-Mlo-Version", target->spec.version);
    resp.headers.emplace_back("X-Request-Id", call.request_id);
    if (req.method == "POST") {
      if (call.mirror && pick_candidate(*call.routing)) mirror(call.routing, req);
      log(LogEntry{std::chrono::system_clock::now(), call.request_id, target->spec.model, target->spec.version, call.role,
                   req.method, req.path, std::move(call.req.body), resp.body, resp.status, ms, call.contract,
                   classes_for_log(*target, req.path, resp.status)});  // the request is answered: its body is the log's
    }
    call.reply(std::move(resp));
  }

  bool pick_candidate(const Routing& r) {
    if (!r.candidate || r.weight <= 0) return false;
    if (r.weight >= 100) return true;
    if (r.random) {
      thread_local std::mt19937_64 rng(std::random_device{}());
      return std::uniform_int_distribution<int>(0, 99)(rng) < r.weight;
    }
    // Deterministic: exactly `weight` of every 100 consecutive requests.
    unsigned long n = counter_.fetch_add(1, std::memory_order_relaxed);
    return (n + 1) * static_cast<unsigned long>(r.weight) / 100 > n * static_cast<unsigned long>(r.weight) / 100;
  }

  // The request's id for late labels: the client's X-Request-Id when it is a
  // sane token (up to 128 of [A-Za-z0-9._:-]), else 16 random hex digits.
  // Returned to the client and logged, so labels that arrive later join it.
  static std::string request_id(const HttpRequest& req) {
    std::string_view given = req.header("X-Request-Id");
    bool ok = !given.empty() && given.size() <= 128 && std::all_of(given.begin(), given.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' || c == '-';
    });
    if (ok) return std::string(given);
    thread_local std::mt19937_64 rng(std::random_device{}());
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
    return buf;
  }

  // A/B with a sticky key: the key's hash puts one user in one arm on every
  // request (and across router restarts); without a key, the usual split.
  bool choose_arm(const Routing& r, const HttpRequest& req) {
    if (r.sticky.empty() || !r.candidate) return pick_candidate(r);
    std::string key(req.header(r.sticky));
    if (key.empty() && !req.body.empty() && json_depth_within(req.body, kMaxJsonDepth)) {
      json body = json::parse(req.body, nullptr, false);
      if (body.is_object() && body.contains(r.sticky) && !body[r.sticky].is_null())
        key = body[r.sticky].is_string() ? body[r.sticky].get<std::string>() : body[r.sticky].dump();
    }
    if (key.empty()) return pick_candidate(r);
    std::uint64_t h = 1469598103934665603ULL;  // FNV-1a: stable across runs and machines
    for (unsigned char c : key) h = (h ^ c) * 1099511628211ULL;
    return static_cast<int>(h % 100) < r.weight;
  }

  // Answers admin, metrics and health routes at once; forwards the rest
  // (answered later, on the forwarder's thread).
  bool handle(HttpRequest& req, HttpResponse& resp, Reply& reply) {
    const std::string& p = req.path;
    if (p.rfind("/-/mlo/", 0) == 0) return admin(req, resp), true;
    if (p == "/metrics") {
      resp.content_type = "text/plain; version=0.0.4";
      resp.body = metrics();
      return true;
    }
    auto r = routing();
    if (p == "/v2/health/live") {
      resp.body = R"({"live":true})";
      return true;
    }
    if (p == "/v2/health/ready" || p == "/ping" || p == "/health") {
      bool ready = r->primary && r->primary->ready.load();
      if (ready) resp.body = p == "/v2/health/ready" ? R"({"ready":true})" : "{}";
      else resp = error_response(503, "no ready model version in environment '" + env_ + "'");
      return true;
    }
    if (!r->primary) {
      resp = error_response(503, "nothing is deployed in environment '" + env_ + "'");
      return true;
    }
    auto call = std::make_shared<Call>();
    call->mirror = r->shadow && r->candidate && req.method == "POST";
    call->to_candidate = !r->shadow && choose_arm(*r, req);
    call->request_id = request_id(req);
    call->target = call->to_candidate ? r->candidate.get() : r->primary.get();
    call->role = call->to_candidate ? "canary" : "primary";
    call->routing = std::move(r);
    call->req = std::move(req);
    if (call->target->guard && refuse_invalid(*call, resp)) return true;
    call->reply = std::move(reply);
    forward(call);
    return false;
  }

  // validate_requests: counts and notes the rows that break the training
  // data's contract; with reject, answers 422 here (400 for a body it
  // cannot read; logged like any answer).
  bool refuse_invalid(Call& call, HttpResponse& resp) {
    const RequestGuard& g = *call.target->guard;
    std::vector<contracts::RequestFailure> failures = check_request(g, call.req);
    request_counts_.add(failures, g.reject);
    if (failures.empty()) return false;
    json shown = json::array();
    for (std::size_t i = 0; i < failures.size() && i < 20; ++i) shown.push_back(failures[i].to_json());
    call.contract = shown.dump(-1, ' ', false, json::error_handler_t::replace);
    if (!g.reject) return false;
    resp = invalid_request_response(g, failures);
    call.target->stats.add(0, resp.status);
    resp.headers.emplace_back("X-Mlo-Model", call.target->spec.model);
    resp.headers.emplace_back("X-Mlo-Version", call.target->spec.version);
    resp.headers.emplace_back("X-Request-Id", call.request_id);
    log(LogEntry{std::chrono::system_clock::now(), call.request_id, call.target->spec.model, call.target->spec.version, call.role,
                 call.req.method, call.req.path, call.req.body, resp.body, resp.status, 0, call.contract});
    return true;
  }

  // ---- shadow

  // Mirrors a request to the shadow on the forwarder, like any request: the
  // shadow's own in-flight limit and queue (serving.max_inflight, max_queue)
  // bound what waits for it, what they cannot take is dropped and counted, and
  // a slow or dead shadow never holds a thread or a slot of the primary.
  void mirror(const std::shared_ptr<const Routing>& r, const HttpRequest& req) {
    LiveBackend& b = *r->candidate;
    b.inflight.fetch_add(1);
    std::string wire = request_wire(req.method, req.target, "127.0.0.1", req.body, req.header("Content-Type"));
    auto done = [this, r, t0 = Clock::now(), method = req.method, path = req.path, body = req.body](HttpResult&& res,
                                                                                                   bool refused) {
      LiveBackend& b = *r->candidate;
      b.inflight.fetch_sub(1);
      if (refused) {
        shadow_dropped_.fetch_add(1);
        return;
      }
      double ms = ms_since(t0);
      b.stats.add(ms, res.status);
      log(LogEntry{std::chrono::system_clock::now(), "", b.spec.model, b.spec.version, "shadow", method, path, body,
                   res.status ? res.body : json{{"error", res.error}}.dump(), res.status, ms, "",
                   classes_for_log(b, path, res.status)});
    };
    forwarder().submit(b.upstream, std::move(wire), std::move(done));
  }

  // ---- request log

  void log(LogEntry e) {
    {
      std::lock_guard lock(log_mu_);
      if (log_q_.size() >= 200000) {
        log_dropped_.fetch_add(1);
        return;
      }
      log_q_.push_back(std::move(e));
      if (log_q_.size() > 1) return;  // the writer is already gathering
    }
    log_cv_.notify_one();
  }

  void flush_log() {
    std::vector<LogEntry> batch;
    {
      std::lock_guard lock(log_mu_);
      batch.swap(log_q_);
    }
    if (batch.empty()) return;
    std::string out;
    char num[64];
    for (auto& e : batch) {
      out += "{\"ts\":\"";
      log_time_.append(out, e.at);
      out += "\",";
      if (!e.request_id.empty()) {  // checked: no quoting needed
        out += "\"request_id\":\"";
        out += e.request_id;
        out += "\",";
      }
      out += "\"env\":";
      append_json_string(out, env_);
      out += ",\"model\":";
      append_json_string(out, e.model);
      out += ",\"version\":";
      append_json_string(out, e.version);
      out += ",\"role\":\"";
      out += e.role;
      out += "\",\"method\":";
      append_json_string(out, e.method);
      out += ",\"route\":";
      append_json_string(out, e.route);
      std::snprintf(num, sizeof num, ",\"status\":%d,\"latency_ms\":%.3f", e.status, e.latency_ms);
      out += num;
      out += ",\"inputs\":";
      append_body(out, e.inputs);
      out += ",\"outputs\":";
      append_body(out, e.outputs);
      if (!e.contract.empty()) {
        out += ",\"contract\":";
        out += e.contract;
      }
      if (!e.classes.empty()) {
        out += ",\"classes\":";
        out += e.classes;
      }
      out += "}\n";
    }
    try {
      write_all(log_fd_.get(), out, "requests.jsonl");
    } catch (const std::exception& ex) {
      std::cerr << "mlo router: cannot write the request log: " << ex.what() << std::endl;
    }
  }

  // The writer sleeps while no request comes, and once one does, gathers
  // for kLogGather before it formats and writes the batch. Formatting takes
  // about 1 µs a line on the CPU the workers need too: every 100 ms, at 10k
  // requests/s, that was a 1 ms burst that set one-connection p99 (1.0-1.3
  // ms, against 0.34-0.41 ms with 10 ms batches; tests/bench/RESULTS.md).
  static constexpr auto kLogGather = std::chrono::milliseconds(10);
  void log_loop() {
    std::unique_lock lock(log_mu_);
    while (!stop_threads_.load()) {
      log_cv_.wait(lock, [this] { return stop_threads_.load() || !log_q_.empty(); });
      lock.unlock();
      std::this_thread::sleep_for(kLogGather);
      flush_log();
      lock.lock();
    }
  }

  // ---- metrics

  std::string metrics() {
    std::ostringstream o;
    o << "# HELP mlo_requests_total Requests answered per model version.\n# TYPE mlo_requests_total counter\n";
    std::vector<std::shared_ptr<LiveBackend>> backends;
    {
      std::lock_guard lock(live_mu_);
      for (auto& [id, b] : live_) backends.push_back(b);
    }
    auto labels = [&](const LiveBackend& b) {
      return "env=\"" + env_ + "\",model=\"" + b.spec.model + "\",version=\"" + b.spec.version + "\",role=\"" +
             b.role + "\"";
    };
    for (auto& b : backends) o << "mlo_requests_total{" << labels(*b) << "} " << b->stats.requests.load() << "\n";
    o << "# HELP mlo_errors_total Requests that failed (5xx or no answer) per model version.\n"
         "# TYPE mlo_errors_total counter\n";
    for (auto& b : backends) o << "mlo_errors_total{" << labels(*b) << "} " << b->stats.errors.load() << "\n";
    o << "# HELP mlo_request_duration_seconds Latency of requests through the router.\n"
         "# TYPE mlo_request_duration_seconds histogram\n";
    for (auto& b : backends) {
      long cum = 0;
      for (std::size_t i = 0; i < kLatencyBuckets; ++i) {
        cum += b->stats.buckets[i].load();
        o << "mlo_request_duration_seconds_bucket{" << labels(*b) << ",le=\"" << kBucketBoundsMs[i] / 1000.0 << "\"} "
          << cum << "\n";
      }
      cum += b->stats.buckets[kLatencyBuckets].load();
      o << "mlo_request_duration_seconds_bucket{" << labels(*b) << ",le=\"+Inf\"} " << cum << "\n";
      o << "mlo_request_duration_seconds_sum{" << labels(*b) << "} " << b->stats.sum_us.load() / 1e6 << "\n";
      o << "mlo_request_duration_seconds_count{" << labels(*b) << "} " << cum << "\n";
    }
    o << "# HELP mlo_runner_up Whether the version's runner is ready.\n# TYPE mlo_runner_up gauge\n";
    for (auto& b : backends) o << "mlo_runner_up{" << labels(*b) << "} " << (b->ready.load() ? 1 : 0) << "\n";
    o << "# TYPE mlo_runner_restarts_total counter\n";
    for (auto& b : backends) o << "mlo_runner_restarts_total{" << labels(*b) << "} " << b->restarts << "\n";
    o << "# TYPE mlo_shadow_dropped_total counter\nmlo_shadow_dropped_total{env=\"" << env_ << "\"} "
      << shadow_dropped_.load() << "\n";
    return o.str();
  }

  // ---- admin API (token-protected)

  void admin(const HttpRequest& req, HttpResponse& resp) {
    if (req.header("X-Mlo-Token") != token_) {
      resp = error_response(403, "admin routes need the token from .mlo/deploy/" + env_ + "/router.json");
      return;
    }
    if (req.path == "/-/mlo/status" && req.method == "GET") {
      resp.body = status_json().dump();
      return;
    }
    if (req.path == "/-/mlo/apply" && req.method == "POST") {
      json j;
      try {
        j = parse_request_json(req.body);
      } catch (const BadRequest&) {
      }
      if (!j.is_object()) {
        resp = error_response(400, "apply needs a state object");
        return;
      }
      EnvState s = env_state_from_json(j);
      std::lock_guard lock(apply_mu_);
      long gen = ++requested_generation_;
      s.generation = gen;
      pending_.emplace_back(std::move(s), gen);
      resp.status = 202;
      resp.body = json{{"generation", gen}}.dump();
      return;
    }
    if (req.path == "/-/mlo/shutdown" && req.method == "POST") {
      shutdown_ = true;
      resp.status = 202;
      resp.body = "{}";
      return;
    }
    resp = error_response(404, "no admin route " + req.method + " " + req.path);
  }

  json status_json() {
    json backends = json::array();
    {
      std::lock_guard lock(live_mu_);
      for (auto& [id, b] : live_) {
        json s = b->stats.summary();
        backends.push_back({{"id", id},
                            {"model", b->spec.model},
                            {"version", b->spec.version},
                            {"role", b->role},
                            {"runner", b->spec.runner},
                            {"port", b->port},
                            {"pid", b->pid},
                            {"state", b->state},
                            {"ready", b->ready.load()},
                            {"restarts", b->restarts},
                            {"log", (dir_ / ("runner-" + id + ".log")).string()},
                            {"stats", s}});
      }
    }
    std::lock_guard lock(apply_mu_);
    return {{"env", env_},
            {"pid", ::getpid()},
            {"host", host_},
            {"port", port_},
            {"state", to_json(applied_)},
            {"requested_generation", requested_generation_},
            {"applied_generation", applied_generation_},
            {"last_result", last_result_},
            {"backends", backends},
            {"notices", notices_},
            {"request_validation", request_counts_.to_json(validate_mode_)},
            {"log_dropped", log_dropped_.load()},
            {"shadow_dropped", shadow_dropped_.load()}};
  }

  // ---- supervision (main thread only)

  void spawn(LiveBackend& b) {
    InferenceSpec spec;
    spec.mode = "serve";
    spec.model_name = b.spec.model;
    spec.model_version = b.spec.version;
    spec.artifact = b.spec.artifact;
    spec.sha256 = b.spec.sha256;
    spec.port = b.port;
    spec.threads = 2;
    spec.workers = b.serving.workers;
    spec.max_batch_size = b.serving.max_batch_size;
    spec.max_batch_time_ms = b.serving.max_batch_time_ms;
    fs::path spec_file = dir_ / ("runner-" + b.spec.id + ".spec.json");
    write_file_atomic(spec_file, spec_to_json(spec).dump(2) + "\n", false);
    fs::path log_file = dir_ / ("runner-" + b.spec.id + ".log");
    std::string exe = b.spec.runner_path;
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork", errno);
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) _exit(1);
      sigset_t none;
      sigemptyset(&none);
      pthread_sigmask(SIG_SETMASK, &none, nullptr);
      child_stdio_to_log(log_file.c_str());
      ::execl(exe.c_str(), exe.c_str(), "--spec", spec_file.c_str(), static_cast<char*>(nullptr));
      std::fprintf(stderr, "mlo router: cannot start %s: %s\n", exe.c_str(), std::strerror(errno));
      _exit(127);
    }
    b.pid = pid;
    b.state = "starting";
    b.ready = false;
    b.started = Clock::now();
    write_file_atomic(dir_ / ("runner-" + b.spec.id + ".pid"), std::to_string(pid) + "\n", false);
  }

  void stop_backend(LiveBackend& b, int drain_ms) {
    const pid_t pid = b.pid;
    b.ready = false;
    b.state = "stopped";
    auto deadline = Clock::now() + std::chrono::milliseconds(drain_ms);
    while (b.inflight.load() > 0 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (b.pid > 0) {
      ::kill(b.pid, SIGTERM);
      for (int i = 0; i < 100; ++i) {
        int st = 0;
        if (::waitpid(b.pid, &st, WNOHANG) == b.pid) {
          b.pid = 0;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (b.pid > 0) {
        ::kill(b.pid, SIGKILL);
        ::waitpid(b.pid, nullptr, 0);
        b.pid = 0;
      }
    }
    // A runner restarted with new settings has the same id: its pid file is the new one's.
    fs::path pid_file = dir_ / ("runner-" + b.spec.id + ".pid");
    std::error_code ec;
    if (read_file_if_exists(pid_file).value_or("") == std::to_string(pid) + "\n") fs::remove(pid_file, ec);
  }

  // The class order in the runner's model metadata (parameters.classes), or
  // "" (no classes, or a plugin without metadata): read once, before it serves.
  static std::string runner_classes(const LiveBackend& b) {
    HttpResult r = http_request("127.0.0.1", b.port, "GET", "/v2/models/" + remote::uri_encode(b.spec.model, false), {}, 5000);
    if (r.status != 200) return "";
    json meta = json::parse(r.body, nullptr, false);
    if (!meta.is_object() || !meta.contains("parameters") || !meta["parameters"].is_object()) return "";
    const json classes = meta["parameters"].value("classes", json());
    return classes.is_array() && !classes.empty() ? classes.dump(-1, ' ', false, json::error_handler_t::replace) : "";
  }

  // Polls readiness until ready, exit or timeout. Returns "" or why it failed.
  std::string wait_ready(LiveBackend& b, int timeout_s) {
    auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
    while (Clock::now() < deadline) {
      int st = 0;
      if (::waitpid(b.pid, &st, WNOHANG) == b.pid) {
        b.pid = 0;
        b.state = "failed";
        std::string how = WIFEXITED(st) ? "exited with status " + std::to_string(WEXITSTATUS(st))
                                        : "was killed by signal " + std::to_string(WTERMSIG(st));
        return "the runner for " + b.spec.model + " version " + b.spec.version + " " + how +
               " before it became ready" + log_tail(b);
      }
      HttpResult r = http_request("127.0.0.1", b.port, "GET", "/v2/health/ready", {}, 500);
      if (r.status == 200) {
        b.classes = runner_classes(b);
        b.ready = true;
        b.state = "ready";
        return "";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
    return "the runner for " + b.spec.model + " version " + b.spec.version + " did not become ready within " +
           std::to_string(timeout_s) + " s" + log_tail(b);
  }

  std::string log_tail(const LiveBackend& b) {
    fs::path log_file = dir_ / ("runner-" + b.spec.id + ".log");
    std::string text = read_file_if_exists(log_file).value_or("");
    while (!text.empty() && text.back() == '\n') text.pop_back();
    std::size_t start = text.size() > 600 ? text.size() - 600 : 0;
    std::size_t nl = text.rfind('\n', text.size());
    int lines = 0;
    while (nl != std::string::npos && nl > start && lines < 3) {
      nl = text.rfind('\n', nl - 1);
      ++lines;
    }
    std::string tail = text.substr(nl == std::string::npos || nl < start ? start : nl + 1);
    return " (log: " + log_file.string() + (tail.empty() ? "" : "; last lines: " + tail) + ")";
  }

  void set_routing(const EnvState& s) {
    auto r = std::make_shared<Routing>();
    std::lock_guard lock(live_mu_);
    if (s.primary) r->primary = live_.at(s.primary->id);
    if (s.candidate) r->candidate = live_.at(s.candidate->id);
    r->weight = s.weight;
    r->shadow = s.strategy == "shadow";
    r->random = s.split == "random";
    r->sticky = has_arms(s.strategy) ? s.sticky_key : "";
    if (r->primary) r->primary->role = "primary";
    if (r->candidate) r->candidate->role = r->shadow ? "shadow" : "canary";
    if (s.standby) live_.at(s.standby->id)->role = "standby";
    std::lock_guard rl(routing_mu_);
    routing_ = r;
  }

  void write_state() {
    json j = to_json(applied_);
    write_file_atomic(dir_ / "state.json", j.dump(2) + "\n", false);
  }

  // A runner for `spec` with `serving`, spawned (not yet ready).
  std::shared_ptr<LiveBackend> start_backend(const Backend& spec, const ServeSettings& serving) {
    auto lb = std::make_shared<LiveBackend>();
    lb->spec = spec;
    lb->role = "starting";
    lb->serving = serving;
    std::string note;
    try {
      lb->guard = request_guard(repo_, lb->spec, validate_mode_, note);
    } catch (const Error& e) {
      note = std::string("validate_requests: ") + e.what() + ": requests are not checked";
    }
    if (!note.empty()) notice(note);
    lb->port = pick_free_port();
    lb->upstream = std::make_shared<Upstream>("127.0.0.1", lb->port,
                                              UpstreamLimits{serving.max_inflight, serving.max_queue, 60000});
    spawn(*lb);
    return lb;
  }

  static bool same_settings(const ServeSettings& a, const ServeSettings& b) { return to_json(a) == to_json(b); }

  // Starts the runners `desired` needs: new versions (added to live_ at once)
  // and, for a running version whose serving settings changed, a second
  // runner that takes over once ready (in `replacing`: a restart in place).
  // Returns why a start failed, or "".
  std::string start_needed(const EnvState& desired, std::vector<std::shared_ptr<LiveBackend>>& started,
                           std::vector<std::shared_ptr<LiveBackend>>& replacing) {
    for (const auto* b : {&desired.primary, &desired.candidate, &desired.standby}) {
      if (!*b) continue;
      std::shared_ptr<LiveBackend> running;
      {
        std::lock_guard lock(live_mu_);
        if (auto it = live_.find((*b)->id); it != live_.end()) running = it->second;
      }
      if (running && same_settings(running->serving, desired.serving)) continue;
      if (running) notice("serving settings changed: restarting the runner of " + (*b)->model + " version " + (*b)->version);
      std::shared_ptr<LiveBackend> lb;
      try {
        lb = start_backend(**b, desired.serving);
      } catch (const std::exception& e) {
        return e.what();
      }
      if (running) {
        replacing.push_back(lb);
      } else {
        std::lock_guard lock(live_mu_);
        live_[lb->spec.id] = lb;
      }
      started.push_back(lb);
    }
    return "";
  }

  void apply(EnvState desired) {
    long gen = desired.generation;
    desired.env = env_;
    desired.host = host_;
    desired.port = port_;
    std::vector<std::shared_ptr<LiveBackend>> started, replacing;
    {
      std::string mode = validate_requests_mode();
      std::lock_guard lock(apply_mu_);
      validate_mode_ = mode;
    }
    std::string error = start_needed(desired, started, replacing);
    for (auto& lb : started) {
      if (!error.empty()) break;
      error = wait_ready(*lb, desired.ready_timeout_s);
    }
    if (!error.empty()) {
      for (auto& lb : started) {
        stop_backend(*lb, 0);
        std::lock_guard lock(live_mu_);
        if (std::find(replacing.begin(), replacing.end(), lb) == replacing.end()) {
          live_.erase(lb->spec.id);
        } else if (pid_t old = live_.at(lb->spec.id)->pid; old > 0) {  // the old runner serves on: its pid file again
          write_file_atomic(dir_ / ("runner-" + lb->spec.id + ".pid"), std::to_string(old) + "\n", false);
        }
      }
      std::lock_guard lock(apply_mu_);
      applied_generation_ = gen;
      last_result_ = {{"generation", gen}, {"ok", false}, {"error", error}};
      std::cerr << "mlo router: " << error << std::endl;
      return;
    }
    std::vector<std::shared_ptr<LiveBackend>> retired;
    {
      std::lock_guard lock(live_mu_);
      for (auto& lb : replacing) retired.push_back(std::exchange(live_[lb->spec.id], lb));
    }
    set_routing(desired);
    // Retire what the new state no longer names (and what was restarted), after its requests finish.
    {
      std::lock_guard lock(live_mu_);
      for (auto it = live_.begin(); it != live_.end();) {
        const std::string& id = it->first;
        bool keep = (desired.primary && desired.primary->id == id) || (desired.candidate && desired.candidate->id == id) ||
                    (desired.standby && desired.standby->id == id);
        if (keep) {
          ++it;
        } else {
          retired.push_back(it->second);
          it = live_.erase(it);
        }
      }
    }
    for (auto& b : retired) stop_backend(*b, 5000);
    {
      std::lock_guard lock(apply_mu_);
      applied_ = desired;
      applied_generation_ = gen;
      last_result_ = {{"generation", gen}, {"ok", true}};
    }
    write_state();
  }

  // deployments.ENV.validate_requests as mlo.yaml says now ("" when off or unreadable).
  std::string validate_requests_mode() {
    try {
      auto cfg = load_deployment_config(repo_, env_);
      return cfg ? cfg->validate_requests : std::string();
    } catch (const Error& e) {
      notice(std::string("validate_requests: cannot read mlo.yaml: ") + e.what());
      return "";
    }
  }

  void notice(const std::string& text) {
    std::cerr << "mlo router: " << text << std::endl;
    std::lock_guard lock(apply_mu_);
    notices_.push_back({{"ts", utc_now_iso()}, {"message", text}});
    if (notices_.size() > 20) notices_.erase(notices_.begin());
  }

  void event(const std::string& action, const Backend& b, json detail) {
    try {
      record_deploy_event(repo_, DeployEvent{"", env_, action, b.model, b.version, std::move(detail)});
    } catch (const std::exception& e) {
      std::cerr << "mlo router: cannot record the event: " << e.what() << std::endl;
    }
  }

  // Drops the candidate from routing and state (a failed or bad canary/shadow).
  void auto_rollback(const std::string& reason) {
    EnvState s;
    {
      std::lock_guard lock(apply_mu_);
      s = applied_;
    }
    if (!s.candidate) return;
    Backend cand = *s.candidate;
    s.candidate.reset();
    s.weight = 0;
    s.strategy = "replace";
    set_routing(s);
    std::shared_ptr<LiveBackend> lb;
    {
      std::lock_guard lock(live_mu_);
      auto it = live_.find(cand.id);
      if (it != live_.end()) {
        lb = it->second;
        live_.erase(it);
      }
    }
    if (lb) stop_backend(*lb, 2000);
    {
      std::lock_guard lock(apply_mu_);
      applied_ = s;
    }
    write_state();
    notice("rolled back " + cand.model + " version " + cand.version + ": " + reason);
    event("auto-rollback", cand, {{"reason", reason}});
    notify_rollback(cand, reason);
  }

  // An automatic rollback is news for mlo.yaml's notify: targets; sent off
  // the routing and supervising threads, so a slow hook delays nothing.
  void notify_rollback(const Backend& cand, const std::string& reason) {
    notify::Event e;
    e.kind = notify::kAutoRollback;
    e.subject = env_;
    e.summary = "deployment " + env_ + ": " + cand.model + "@" + cand.version + " rolled back automatically: " + reason;
    e.detail = {{"env", env_}, {"model", cand.model}, {"version", cand.version}, {"reason", reason}};
    e.dedup_key = cand.id + reason;
    std::thread([root = repo_.root(), e] { notify::send(root, e); }).detach();
  }

  void supervise() {
    // Reap runners that exited; restart them a bounded number of times.
    for (;;) {
      int st = 0;
      pid_t pid = ::waitpid(-1, &st, WNOHANG);
      if (pid <= 0) break;
      std::shared_ptr<LiveBackend> b;
      {
        std::lock_guard lock(live_mu_);
        for (auto& [id, lb] : live_)
          if (lb->pid == pid) b = lb;
      }
      if (!b) continue;
      b->pid = 0;
      b->ready = false;
      std::string how = WIFEXITED(st) ? "exited with status " + std::to_string(WEXITSTATUS(st))
                                      : "was killed by signal " + std::to_string(WTERMSIG(st));
      int max_restarts;
      {
        std::lock_guard lock(apply_mu_);
        max_restarts = applied_.max_restarts;
      }
      if (b->restarts < max_restarts) {
        ++b->restarts;
        notice("runner for " + b->spec.model + " version " + b->spec.version + " " + how + "; restarting (" +
               std::to_string(b->restarts) + " of " + std::to_string(max_restarts) + ")");
        try {
          spawn(*b);
        } catch (const std::exception& e) {
          b->state = "failed";
        }
      } else {
        b->state = "failed";
        std::string msg = "runner for " + b->spec.model + " version " + b->spec.version + " " + how + " after " +
                          std::to_string(b->restarts) + " restarts; giving up" + log_tail(*b);
        notice(msg);
        event("runner-failed", b->spec, {{"reason", msg}, {"restarts", b->restarts}});
        if (b->role == "canary" || b->role == "shadow") auto_rollback("its runner failed");
      }
    }
    // Restarted runners: poll readiness without blocking the loop.
    std::vector<std::shared_ptr<LiveBackend>> starting;
    {
      std::lock_guard lock(live_mu_);
      for (auto& [id, lb] : live_)
        if (lb->state == "starting" && lb->pid > 0) starting.push_back(lb);
    }
    for (auto& b : starting) {
      HttpResult r = http_request("127.0.0.1", b->port, "GET", "/v2/health/ready", {}, 200);
      if (r.status == 200) {
        b->ready = true;
        b->state = "ready";
      } else if (ms_since(b->started) > 30000) {
        ::kill(b->pid, SIGKILL);  // reaped above next tick; counts as a crash
      }
    }
    // Judge the canary/shadow against the thresholds.
    EnvState s;
    {
      std::lock_guard lock(apply_mu_);
      if (!applied_.candidate) return;
      s = applied_;
    }
    std::shared_ptr<LiveBackend> cand;
    {
      std::lock_guard lock(live_mu_);
      auto it = live_.find(s.candidate->id);
      if (it != live_.end()) cand = it->second;
    }
    if (!cand) return;
    long n = cand->stats.requests.load();
    if (n < std::max(1L, s.thresholds.min_requests)) return;
    double rate = static_cast<double>(cand->stats.errors.load()) / static_cast<double>(n);
    if (s.thresholds.max_error_rate >= 0 && rate > s.thresholds.max_error_rate) {
      std::ostringstream why;
      why << "error rate " << rate << " is above max_error_rate " << s.thresholds.max_error_rate << " after " << n
          << " requests";
      auto_rollback(why.str());
      return;
    }
    double p99 = cand->stats.p99();
    if (s.thresholds.max_p99_ms >= 0 && p99 > s.thresholds.max_p99_ms) {
      std::ostringstream why;
      why << "p99 latency " << p99 << " ms is above max_p99_ms " << s.thresholds.max_p99_ms;
      auto_rollback(why.str());
    }
  }

  Repo& repo_;
  std::string env_;
  fs::path dir_;
  std::string host_;
  HttpServer server_;
  int port_ = 0;
  std::string token_;

  mutable std::mutex routing_mu_;
  std::shared_ptr<const Routing> routing_;
  std::atomic<unsigned long> counter_{0};

  std::mutex live_mu_;
  std::map<std::string, std::shared_ptr<LiveBackend>> live_;

  std::mutex apply_mu_;
  std::deque<std::pair<EnvState, long>> pending_;
  EnvState applied_;
  long requested_generation_ = 0;
  long applied_generation_ = 0;
  json last_result_ = nullptr;
  json notices_ = json::array();

  std::atomic<bool> shutdown_{false};
  std::atomic<bool> stop_threads_{false};

  std::mutex log_mu_;
  std::condition_variable log_cv_;  // a first entry queued, or stopping
  std::vector<LogEntry> log_q_;
  LogTime log_time_;  // the log writer's
  std::atomic<long> log_dropped_{0};
  RequestCounts request_counts_;
  std::string validate_mode_;  // guarded by apply_mu_
  UniqueFd log_fd_;
  std::thread logger_;

  std::atomic<long> shadow_dropped_{0};  // mirrored requests the shadow's queue could not take

  // Last: stopped (and destroyed) first, while what its callbacks use is still alive.
  Forwarder forwarder_;
};

}  // namespace

int serve_router(Repo& repo, const std::string& env, const std::string& host, int port, int threads) {
  fs::create_directories(env_dir(repo, env));
  raise_open_file_limit();  // each client connection holds a descriptor
  Router router(repo, env, host, port, threads);
  return router.run();
}

}  // namespace mlo::deploy
