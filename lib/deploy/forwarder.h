// Non-blocking forwarding from the router to its runners. A forwarder owns
// the connections it opens: keep-alive connections are pooled per runner, at
// most `max_inflight` requests are on the way to one runner at a time (across
// every forwarder), up to `max_queue` more wait in order, and the rest are
// refused at once (the router answers 503). The number of client connections
// the router serves is therefore not capped by any thread count.
//
// A forwarder runs on its own thread, or inside an HttpServer worker's event
// loop (LoopAttachment): then a request goes to the runner and its answer back
// to the client on one thread, with no hand-over between threads.
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

// One runner: its limits, and the slots and queue every forwarder shares.
class Upstream {
 public:
  Upstream(std::string host, int port, UpstreamLimits limits);
  int port() const { return port_; }
  const UpstreamLimits& limits() const { return limits_; }
  // Answers every queued request with `error` (a router that stops).
  void fail_queued(const std::string& error);

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
  std::mutex mu_;  // inflight_ and queue_
  int inflight_ = 0;
  std::deque<Job> queue_;
};

class Forwarder : public LoopAttachment {
 public:
  Forwarder();  // on its own thread
  // On the calling thread's event loop `epoll_fd` (an HttpServer worker's):
  // its descriptors are registered there with kAttachedTag, and the loop
  // hands their events to on_event().
  explicit Forwarder(int epoll_fd);
  ~Forwarder() override;  // stop()
  Forwarder(const Forwarder&) = delete;
  Forwarder& operator=(const Forwarder&) = delete;

  // Sends `wire` (one whole HTTP/1.1 request) to the runner. `done` runs exactly
  // once, on this forwarder's thread or (for a request that waited in the
  // runner's queue) on the thread of the forwarder whose slot it took: with the
  // response, with status 0 and an error, or refused. Safe from any thread; on
  // the forwarder's own thread it sends at once.
  void submit(const std::shared_ptr<Upstream>& up, std::string wire, ForwardDone done);
  // Answers every request this forwarder carries with an error, and joins its
  // thread. Idempotent.
  void stop();

  void on_event(int fd, std::uint32_t events) override;
  void tick() override;

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
  bool write_some(Conn& c);
  void read_some(Conn& c);
  void answered(Conn& c, HttpResult&& res, bool keep);
  void broken(Conn& c, const std::string& error);
  void release(const std::shared_ptr<Upstream>& up);
  void close(Conn& c);
  void sweep();
  void watch(int fd, std::uint32_t events, int op);
  void poll_for(Conn& c, std::uint32_t events);  // no system call when unchanged

  UniqueFd own_ep_;  // threaded: the loop's epoll
  int ep_;           // the epoll the connections are registered in
  std::uint64_t tag_ = 0;  // kAttachedTag when on a worker's loop
  UniqueFd wake_;
  std::thread::id owner_;  // the thread that runs the loop
  std::mutex mu_;
  std::vector<Submitted> submitted_;
  bool stopping_ = false, stopped_ = false;
  std::unordered_map<int, std::unique_ptr<Conn>> conns_;
  // Pooled connections, most recently used last, and taken from the back:
  // a warm runner worker keeps the work. Taking the least recently used
  // (spreading one-at-a-time requests over every worker) was measured slower
  // with the sklearn runner: 1 connection 2,450-2,710 vs 3,490-3,670 req/s,
  // 16 batched 6,740-7,530 vs 8,970-9,670 (tests/bench/serve_sklearn.sh).
  std::unordered_map<const Upstream*, std::vector<int>> idle_;
  std::chrono::steady_clock::time_point next_sweep_;
  std::thread thread_;
};

}  // namespace mlo::deploy
