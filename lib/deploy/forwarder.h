// Non-blocking forwarding from the router to its runners. One event-loop
// thread owns every upstream connection: keep-alive connections are pooled per
// runner, at most `max_inflight` requests are on the way to one runner at a
// time, up to `max_queue` more wait in order, and the rest are refused at once
// (the router answers 503). The number of client connections the router
// serves is therefore not capped by any thread count.
#pragma once
#include <sys/socket.h>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/fs.h"
#include "deploy/http_server.h"

namespace mlo::deploy {

struct UpstreamLimits {
  int max_inflight = 64;    // requests sent to the runner and not yet answered
  int max_queue = 1024;     // requests waiting for one of those slots
  int timeout_ms = 60000;   // from submit to the whole response
};

// `refused`: the runner's slots and queue were full; nothing was sent.
using ForwardDone = std::function<void(HttpResult&& result, bool refused)>;

// One runner as the forwarder sees it. Everything but the constructor's
// arguments belongs to the forwarder's thread.
class Upstream {
 public:
  Upstream(std::string host, int port, UpstreamLimits limits);
  int port() const { return port_; }
  const UpstreamLimits& limits() const { return limits_; }

 private:
  friend class Forwarder;
  struct Job {
    std::string wire;
    ForwardDone done;
    std::chrono::steady_clock::time_point deadline;
    bool retried = false;
  };
  std::string host_;
  int port_;
  UpstreamLimits limits_;
  int inflight_ = 0;
  std::vector<int> idle_;  // pooled connections, most recently used last
  std::deque<Job> queue_;
};

class Forwarder {
 public:
  Forwarder();
  ~Forwarder();  // stop()
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // Sends `wire` (one whole HTTP/1.1 request) to the runner. `done` runs exactly
  // once, on the forwarder's thread: with the response, with status 0 and an
  // error, or refused. Safe from any thread.
  void submit(const std::shared_ptr<Upstream>& up, std::string wire, ForwardDone done);
  // Answers every pending request with an error and joins the thread. Idempotent.
  void stop();

 private:
  struct Conn;
  using Job = Upstream::Job;
  struct Submitted {
    std::shared_ptr<Upstream> up;
    Job job;
  };

  void loop();
  void take_submitted();
  void admit(const std::shared_ptr<Upstream>& up, Job job);
  void dispatch(const std::shared_ptr<Upstream>& up, Job job, bool fresh);
  Conn* open(const std::shared_ptr<Upstream>& up, std::string& error);
  void on_event(int fd, std::uint32_t events);
  bool write_some(Conn& c);
  void read_some(Conn& c);
  void answered(Conn& c, HttpResult&& res, bool keep);
  void broken(Conn& c, const std::string& error);
  void release(const std::shared_ptr<Upstream>& up);
  void close(Conn& c);
  void sweep();
  void watch(int fd, std::uint32_t events, int op);

  UniqueFd ep_, wake_;
  std::mutex mu_;
  std::vector<Submitted> submitted_;
  bool stopping_ = false;
  std::unordered_map<int, std::unique_ptr<Conn>> conns_;
  std::chrono::steady_clock::time_point next_sweep_;
  std::thread thread_;
};

}  // namespace mlo::deploy
