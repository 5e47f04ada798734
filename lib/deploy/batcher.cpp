#include "deploy/batcher.h"

#include <algorithm>
#include <chrono>

namespace mlo::deploy {

using nlohmann::json;

AdaptiveBatcher::AdaptiveBatcher(ComputeOutputs compute, std::size_t max_rows, int max_time_ms)
    : compute_(std::move(compute)), max_rows_(std::max<std::size_t>(1, max_rows)), max_time_ms_(std::max(0, max_time_ms)) {
  thread_ = std::thread([this] { loop(); });
}

AdaptiveBatcher::~AdaptiveBatcher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void AdaptiveBatcher::submit(Table table, std::vector<std::string> names, Done done) {
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(Job{std::move(table), std::move(names), std::move(done), std::chrono::steady_clock::now()});
  }
  cv_.notify_one();
}

AdaptiveBatcher::Stats AdaptiveBatcher::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::size_t AdaptiveBatcher::queued() const {
  std::lock_guard lock(mu_);
  return jobs_.size();
}

void AdaptiveBatcher::loop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, and everything queued was answered
    std::vector<Job> batch = take(lock);
    lock.unlock();
    run(batch);
    lock.lock();
  }
}

// The first queued request and those queued behind it that fit: same
// columns, within max_rows. The model is idle here, so an empty queue ends
// the batch at once unless it holds fewer requests than the previous call
// did: those clients' next requests are on their way (a closed loop of N
// clients makes batches of N), and are waited for until max_time_ms after the
// first one arrived. A request that does not fit stays first in line.
std::vector<AdaptiveBatcher::Job> AdaptiveBatcher::take(std::unique_lock<std::mutex>& lock) {
  std::vector<Job> batch;
  batch.push_back(std::move(jobs_.front()));
  jobs_.pop_front();
  std::size_t rows = batch[0].table.rows.size();
  auto deadline = batch[0].arrived + std::chrono::milliseconds(max_time_ms_);
  while (rows < max_rows_) {
    if (jobs_.empty()) {
      if (batch.size() >= last_requests_) break;
      if (!cv_.wait_until(lock, deadline, [&] { return stop_ || !jobs_.empty(); }) || jobs_.empty()) break;
    }
    Job& next = jobs_.front();
    if (next.table.columns != batch[0].table.columns || rows + next.table.rows.size() > max_rows_) break;
    rows += next.table.rows.size();
    batch.push_back(std::move(next));
    jobs_.pop_front();
  }
  last_requests_ = batch.size();
  return batch;
}

namespace {
// One request's rows [start, start + n) of each output it asked for.
std::vector<json> slice_outputs(const std::vector<json>& values, const std::vector<std::string>& all_names,
                                const std::vector<std::string>& names, std::size_t start, std::size_t n) {
  std::vector<json> out;
  out.reserve(names.size());
  for (const auto& name : names) {
    const auto& v = values[static_cast<std::size_t>(std::find(all_names.begin(), all_names.end(), name) - all_names.begin())];
    const auto& arr = v.get_ref<const json::array_t&>();
    out.emplace_back(json::array_t(arr.begin() + static_cast<std::ptrdiff_t>(start),
                                   arr.begin() + static_cast<std::ptrdiff_t>(start + n)));
  }
  return out;
}
}  // namespace

// One model call for the whole batch, split back per request. False when the
// merged call failed (one request's rows broke it): then each request is
// computed on its own, so only the bad one gets the error.
bool AdaptiveBatcher::run_merged(std::vector<Job>& batch, std::vector<std::vector<json>>& answers) {
  Table all{batch[0].table.columns, {}};
  std::vector<std::string> names;  // every output asked for, in first-asked order
  for (const auto& job : batch) {
    all.rows.insert(all.rows.end(), job.table.rows.begin(), job.table.rows.end());
    for (const auto& n : job.names)
      if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  }
  std::vector<json> values;
  try {
    values = compute_(all, names);
  } catch (const std::exception&) {
    return false;
  }
  for (const auto& v : values)
    if (!v.is_array() || v.size() != all.rows.size()) return false;  // not one entry a row: cannot split
  std::size_t start = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    std::size_t n = batch[i].table.rows.size();
    answers[i] = slice_outputs(values, names, batch[i].names, start, n);
    start += n;
  }
  return true;
}

void AdaptiveBatcher::run(std::vector<Job>& batch) {
  std::vector<std::vector<json>> answers(batch.size());
  std::vector<std::exception_ptr> errors(batch.size());
  std::size_t rows = 0;
  for (const auto& job : batch) rows += job.table.rows.size();
  std::uint64_t calls = 1;
  if (batch.size() == 1 || !run_merged(batch, answers)) {
    calls = batch.size() == 1 ? 1 : batch.size() + 1;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      try {
        answers[i] = compute_(batch[i].table, batch[i].names);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    }
  }
  {
    std::lock_guard lock(mu_);
    stats_.requests += batch.size();
    stats_.calls += calls;
    stats_.largest = std::max<std::uint64_t>(stats_.largest, rows);
  }
  for (std::size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(answers[i]), errors[i]);
}

AsyncHandler batched_handler(const ModelServer& server, AdaptiveBatcher& batcher) {
  return [&server, &batcher](HttpRequest& req, HttpResponse& resp, Reply& reply) {
    std::optional<PendingPredict> p = server.route(req, resp);
    if (!p) return true;
    auto pending = std::make_shared<PendingPredict>(std::move(*p));
    Table table = std::move(pending->table);
    batcher.submit(std::move(table), pending->names, [pending, reply](std::vector<json> values, std::exception_ptr error) {
      reply(pending->answer(std::move(values), error));
    });
    return false;
  };
}

}  // namespace mlo::deploy
