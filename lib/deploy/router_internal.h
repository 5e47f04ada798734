// The router's runtime pieces (internal to lib/deploy; unit tests use them).
#pragma once
#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "deploy/deploy.h"
#include "deploy/forwarder.h"
#include "deploy/request_checks.h"

namespace mlo::deploy {

inline constexpr std::size_t kLatencyBuckets = 14;
extern const std::array<double, kLatencyBuckets> kBucketBoundsMs;

// Per-version counters: cumulative counts, a latency histogram (Prometheus
// buckets) and the last 4096 latencies for percentiles.
struct Stats {
  std::atomic<long> requests{0}, errors{0}, client_errors{0};
  std::array<std::atomic<long>, kLatencyBuckets + 1> buckets{};
  std::atomic<long long> sum_us{0};
  mutable std::mutex mu;
  std::vector<float> recent = std::vector<float>(4096);
  std::size_t pos = 0, filled = 0;

  // status 0 = no answer; >= 500 counts as an error.
  void add(double ms, int status);
  nlohmann::json summary() const;
  double p99() const;
};

// In a forked child before exec: stdout and stderr append to log_file, stdin
// is /dev/null, every other descriptor is closed.
void child_stdio_to_log(const char* log_file);

// One running inference runner.
struct LiveBackend {
  Backend spec;
  int port = 0;
  pid_t pid = 0;
  std::atomic<bool> ready{false};
  std::atomic<int> inflight{0};
  int restarts = 0;
  std::string state = "starting";  // starting | ready | failed | stopped
  std::string role;                // primary | canary | shadow | standby
  ServeSettings serving;           // handed to the runner in its spec
  std::shared_ptr<Upstream> upstream;  // the forwarder's pool and limits for this runner
  std::shared_ptr<const RequestGuard> guard;  // validate_requests for this version (null: off)
  // The class order of per-class outputs (a JSON array from the runner's
  // metadata, "" when it has none): logged beside MLflow answers, which carry none.
  std::string classes;
  std::chrono::steady_clock::time_point started;
  Stats stats;
};

// What the HTTP workers route by; replaced whole, never edited in place.
struct Routing {
  std::shared_ptr<LiveBackend> primary, candidate;
  int weight = 0;
  bool shadow = false;
  bool random = false;
  std::string sticky;  // ab: the header or body field whose hash picks the arm
};

}  // namespace mlo::deploy
