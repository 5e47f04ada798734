// The cuda runner: local NVIDIA GPUs. Discovers them with nvidia-smi, gives a
// job the number of GPUs it asks for from the free ones (CUDA_VISIBLE_DEVICES),
// queues while none are free, and records model, driver and memory used.
// "Free" means: no mlo job holds the GPU's lock (an flock per GPU, so every
// mlo process on the machine that uses the same lock folder agrees), and its
// memory in use is below busy_memory_mib (work started outside mlo).
#pragma once
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/fs.h"
#include "runner/local.h"

namespace mlo {

struct GpuInfo {
  int index = -1;
  std::string uuid;
  std::string name;
  std::string driver;
  std::optional<long> memory_total_mib;
  std::optional<long> memory_used_mib;
  std::optional<int> utilization;  // percent
  nlohmann::json to_json() const;
};

// The query mlo runs, and the parser of its output (one GPU a line:
// index, uuid, name, driver_version, memory.total, memory.used, utilization.gpu;
// "[N/A]" / "[Not Supported]" become empty optionals). Throws RunnerError on a
// line it cannot read.
std::vector<std::string> nvidia_smi_query_args();
std::vector<GpuInfo> parse_nvidia_smi(const std::string& text);
// Runs nvidia-smi (`program`, looked up on PATH). Throws RunnerError with a
// hint when it is missing, fails, or finds no GPU.
std::vector<GpuInfo> discover_gpus(const std::string& program = "nvidia-smi");

// GPUs held for one job: their lock files stay flocked until destruction.
class GpuLease {
 public:
  GpuLease() = default;
  GpuLease(GpuLease&&) = default;
  GpuLease& operator=(GpuLease&&) = default;
  const std::vector<GpuInfo>& gpus() const { return gpus_; }
  std::string visible_devices() const;  // "0,2"
  void add(GpuInfo gpu, UniqueFd lock) {
    gpus_.push_back(std::move(gpu));
    locks_.push_back(std::move(lock));
  }

 private:
  std::vector<GpuInfo> gpus_;
  std::vector<UniqueFd> locks_;
};

// Takes `want` GPUs among `gpus` that are free: unlocked under lock_dir and
// (busy_memory_mib >= 0) using at most busy_memory_mib. Prefers the least used.
// All or nothing: nullopt (and no lock kept) when fewer are free.
std::optional<GpuLease> try_acquire_gpus(const std::vector<GpuInfo>& gpus, int want,
                                         const std::filesystem::path& lock_dir, long busy_memory_mib);

// Waiting for GPUs: try_acquire_gpus every poll_s seconds (re-reading the GPUs
// through `discover`, for fresh memory figures) until it succeeds, Ctrl-C, or
// timeout_s (< 0: forever). on_wait is called once, when the first try fails.
struct GpuQueue {
  int want = 1;
  std::filesystem::path lock_dir;
  long busy_memory_mib = 1024;
  double poll_s = 1.0;
  double timeout_s = -1;
  std::function<std::vector<GpuInfo>()> discover;
  std::function<void()> on_wait;
};
// nullopt with *why = "interrupted" or "timeout"; *waited: whether it had to wait.
std::optional<GpuLease> wait_for_gpus(const GpuQueue& queue, std::vector<GpuInfo> current, std::string* why,
                                      bool* waited);

class CudaRunner : public LocalRunner {
 public:
  // Discovers the GPUs; throws RunnerError (exit 5) when there are none.
  // config: runners.cuda (nvidia_smi, busy_memory_mib, poll_s, sample_s,
  // queue_timeout_s, lock_dir, and the local runner's settings).
  CudaRunner(nlohmann::json config, std::filesystem::path lock_dir);
  std::string name() const override { return "cuda"; }
  int capacity() const override;
  int capacity_for(const Resources& resources) const override;
  nlohmann::json describe() const override;
  JobResult run(const JobSpec& spec) override;
  const std::vector<GpuInfo>& gpus() const { return gpus_; }

 private:
  std::string nvidia_smi_;
  std::filesystem::path lock_dir_;
  std::vector<GpuInfo> gpus_;
};

}  // namespace mlo
