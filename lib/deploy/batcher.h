// Adaptive batching for a runner (serving.max_batch_size, max_batch_time_ms),
// continuous as in Triton's dynamic batcher: requests that queued while the
// model was busy are merged into its next call, up to max_rows rows, and each
// gets its own rows' answers back. A request that finds the model idle and no
// other queued is computed at once; a batch waits for more only until it is
// as large as the previous one (that many clients were being served) and at
// most max_time_ms after its first request arrived.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

#include "deploy/inference.h"

namespace mlo::deploy {

class AdaptiveBatcher {
 public:
  // Called once per request from the batcher's thread: the request's outputs
  // (one array per name), or the exception computing them threw.
  using Done = std::function<void(std::vector<nlohmann::json> values, std::exception_ptr error)>;
  struct Stats {
    std::uint64_t requests = 0, calls = 0, largest = 0;  // largest: rows in one call
  };

  AdaptiveBatcher(ComputeOutputs compute, std::size_t max_rows, int max_time_ms);
  ~AdaptiveBatcher();  // answers what is queued, then joins
  AdaptiveBatcher(const AdaptiveBatcher&) = delete;
  AdaptiveBatcher& operator=(const AdaptiveBatcher&) = delete;

  // Queues one request; returns at once. Requests merge only with requests
  // whose columns are the same (so the model aligns them alike).
  void submit(Table table, std::vector<std::string> names, Done done);
  Stats stats() const;
  std::size_t queued() const;  // requests waiting for the model

 private:
  struct Job {
    Table table;
    std::vector<std::string> names;
    Done done;
    std::chrono::steady_clock::time_point arrived;
  };
  void loop();
  std::vector<Job> take(std::unique_lock<std::mutex>& lock);
  void run(std::vector<Job>& batch);
  bool run_merged(std::vector<Job>& batch, std::vector<std::vector<nlohmann::json>>& answers);

  ComputeOutputs compute_;
  std::size_t max_rows_;
  int max_time_ms_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool stop_ = false;
  std::size_t last_requests_ = 1;  // requests in the previous call: how many a batch waits for
  Stats stats_;
  std::thread thread_;
};

// Serves every route of `server`; predictions go through `batcher` and are
// answered later (HttpServer::start_async), so a worker thread never waits on
// a batch and any number of requests can wait in one.
AsyncHandler batched_handler(const ModelServer& server, AdaptiveBatcher& batcher);

}  // namespace mlo::deploy
