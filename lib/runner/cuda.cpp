#include "runner/cuda.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/interrupt.h"
#include "core/process.h"
#include "runner/output.h"

namespace mlo {

using namespace runner;

namespace {

std::string trim(std::string s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return {};
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(trim(cur));
  return out;
}

// nvidia-smi prints "[N/A]" or "[Not Supported]" (or "N/A") for what a GPU cannot report.
template <typename T>
std::optional<T> number(const std::string& field, const std::string& line) {
  if (field.empty() || field[0] == '[' || field == "N/A") return std::nullopt;
  try {
    size_t used = 0;
    long long v = std::stoll(field, &used);
    if (used == field.size()) return static_cast<T>(v);
  } catch (const std::exception&) {
  }
  throw RunnerError("cannot read nvidia-smi output: '" + field + "' is not a number in line '" + line + "'",
                    "check that nvidia-smi works: nvidia-smi --query-gpu=index,memory.used --format=csv");
}

std::string lock_name(const GpuInfo& gpu) {
  std::string id = gpu.uuid.empty() ? "index-" + std::to_string(gpu.index) : gpu.uuid;
  for (char& c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
  return "gpu-" + id + ".lock";
}

}  // namespace

nlohmann::json GpuInfo::to_json() const {
  nlohmann::json j = {{"index", index}, {"uuid", uuid}, {"name", name}, {"driver", driver}};
  j["memory_total_mib"] = memory_total_mib ? nlohmann::json(*memory_total_mib) : nlohmann::json(nullptr);
  j["memory_used_mib"] = memory_used_mib ? nlohmann::json(*memory_used_mib) : nlohmann::json(nullptr);
  j["utilization"] = utilization ? nlohmann::json(*utilization) : nlohmann::json(nullptr);
  return j;
}

std::vector<std::string> nvidia_smi_query_args() {
  return {"--query-gpu=index,uuid,name,driver_version,memory.total,memory.used,utilization.gpu",
          "--format=csv,noheader,nounits"};
}

std::vector<GpuInfo> parse_nvidia_smi(const std::string& text) {
  std::vector<GpuInfo> gpus;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty()) continue;
    auto f = split_csv(line);
    if (f.size() < 7)
      throw RunnerError("cannot read nvidia-smi output: expected 7 comma-separated fields, got " +
                            std::to_string(f.size()) + " in line '" + line + "'",
                        "check that nvidia-smi works: nvidia-smi -L");
    // A name with a comma in it: the fields around it are fixed.
    if (f.size() > 7) {
      std::string name = f[2];
      for (size_t i = 3; i + 4 < f.size(); ++i) name += ", " + f[i];
      f = {f[0], f[1], name, f[f.size() - 4], f[f.size() - 3], f[f.size() - 2], f[f.size() - 1]};
    }
    GpuInfo g;
    auto idx = number<int>(f[0], line);
    if (!idx) throw RunnerError("cannot read nvidia-smi output: no GPU index in line '" + line + "'");
    g.index = *idx;
    g.uuid = f[1];
    g.name = f[2];
    g.driver = f[3];
    g.memory_total_mib = number<long>(f[4], line);
    g.memory_used_mib = number<long>(f[5], line);
    g.utilization = number<int>(f[6], line);
    gpus.push_back(std::move(g));
  }
  return gpus;
}

std::vector<GpuInfo> discover_gpus(const std::string& program) {
  const std::string hint =
      "the cuda runner needs an NVIDIA GPU and its driver (nvidia-smi); on this machine use 'runner: local', "
      "or set runners.cuda.nvidia_smi to nvidia-smi's path";
  if (!find_program(program))
    throw RunnerError("no NVIDIA GPU found: '" + program + "' is not installed or not on PATH", hint);
  ProcessSpec ps;
  ps.argv = {program};
  for (auto& a : nvidia_smi_query_args()) ps.argv.push_back(a);
  ProcessResult pr = run_process(ps);
  if (!pr.ok()) {
    std::string why = trim(pr.out + " " + pr.err);
    if (why.size() > 300) why = why.substr(0, 300) + "...";
    throw RunnerError("no usable NVIDIA GPU: nvidia-smi failed (exit status " + std::to_string(pr.exit_code) + ")" +
                          (why.empty() ? "" : ": " + why),
                      hint);
  }
  auto gpus = parse_nvidia_smi(pr.out);
  if (gpus.empty()) throw RunnerError("no NVIDIA GPU found: nvidia-smi lists none", hint);
  return gpus;
}

std::string GpuLease::visible_devices() const {
  std::string s;
  for (auto& g : gpus_) s += (s.empty() ? "" : ",") + std::to_string(g.index);
  return s;
}

std::optional<GpuLease> try_acquire_gpus(const std::vector<GpuInfo>& gpus, int want,
                                         const std::filesystem::path& lock_dir, long busy_memory_mib) {
  if (want <= 0) return GpuLease{};
  std::error_code ec;
  std::filesystem::create_directories(lock_dir, ec);
  std::vector<const GpuInfo*> order;
  for (auto& g : gpus) order.push_back(&g);
  std::stable_sort(order.begin(), order.end(), [](const GpuInfo* a, const GpuInfo* b) {
    return a->memory_used_mib.value_or(0) < b->memory_used_mib.value_or(0);
  });
  GpuLease lease;
  int got = 0;
  for (const GpuInfo* g : order) {
    if (got == want) break;
    if (busy_memory_mib >= 0 && g->memory_used_mib && *g->memory_used_mib > busy_memory_mib) continue;
    auto path = lock_dir / lock_name(*g);
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd) throw_errno("cannot open the GPU lock " + path.string(), errno);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) continue;  // another mlo job has it
    std::string owner = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd.get(), 0) == 0) {
      ssize_t ignored = ::pwrite(fd.get(), owner.data(), owner.size(), 0);
      (void)ignored;
    }
    lease.add(*g, std::move(fd));
    ++got;
  }
  if (got < want) return std::nullopt;  // the lease's destructor unlocks what it took
  return lease;
}

std::optional<GpuLease> wait_for_gpus(const GpuQueue& q, std::vector<GpuInfo> current, std::string* why,
                                      bool* waited) {
  auto since = std::chrono::steady_clock::now();
  bool said = false;
  for (;;) {
    if (auto lease = try_acquire_gpus(current, q.want, q.lock_dir, q.busy_memory_mib)) {
      if (waited) *waited = said;
      return lease;
    }
    if (!said && q.on_wait) q.on_wait();
    said = true;
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
    if (interrupted() || (q.timeout_s >= 0 && elapsed >= q.timeout_s)) {
      if (why) *why = interrupted() ? "interrupted" : "timeout";
      if (waited) *waited = said;
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<long long>(q.poll_s * 1000)));
    if (q.discover) {
      try {
        current = q.discover();  // fresh memory figures
      } catch (const RunnerError&) {
      }
    }
  }
}

CudaRunner::CudaRunner(nlohmann::json config, std::filesystem::path lock_dir)
    : LocalRunner(std::move(config)), lock_dir_(std::move(lock_dir)) {
  nvidia_smi_ = config_string(config_, "nvidia_smi", "nvidia-smi");
  std::string dir = config_string(config_, "lock_dir", "");
  if (!dir.empty()) lock_dir_ = dir;
  gpus_ = discover_gpus(nvidia_smi_);
}

int CudaRunner::capacity() const { return std::max<int>(1, static_cast<int>(gpus_.size())); }

int CudaRunner::capacity_for(const Resources& resources) const {
  int want = std::max(1, resources.gpus);
  return std::max(1, static_cast<int>(gpus_.size()) / want);
}

nlohmann::json CudaRunner::describe() const {
  nlohmann::json list = nlohmann::json::array();
  for (auto& g : gpus_) list.push_back(g.to_json());
  return {{"gpus", list}, {"lock_dir", lock_dir_.string()}};
}

JobResult CudaRunner::run(const JobSpec& spec) {
  nlohmann::json config = merged_config(config_, spec);
  int want = std::max(1, spec.resources.gpus);
  JobResult result;
  result.host = hostname();
  result.started_at = now_seconds();
  if (want > static_cast<int>(gpus_.size())) {
    result.status = "error";
    result.finished_at = now_seconds();
    result.message = "stage " + spec.stage + " asks for " + std::to_string(want) + " GPUs; this machine has " +
                     std::to_string(gpus_.size());
    return result;
  }
  long busy = static_cast<long>(config_number(config, "busy_memory_mib", 1024));
  double poll_s = config_number(config, "poll_s", 1.0);
  double queue_timeout_s = config_number(config, "queue_timeout_s", -1);
  GpuQueue queue;
  queue.want = want;
  queue.lock_dir = lock_dir_;
  queue.busy_memory_mib = busy;
  queue.poll_s = poll_s;
  queue.timeout_s = queue_timeout_s;
  queue.discover = [this] { return discover_gpus(nvidia_smi_); };
  bool said = false;
  queue.on_wait = [&] {
    if (!spec.stream_output) return;
    std::string msg = "mlo: " + spec.stage + ": waiting for " + std::to_string(want) + " free GPU(s)\n";
    write_job_output(spec.run_id, msg);
  };
  std::string why;
  std::optional<GpuLease> lease = wait_for_gpus(queue, gpus_, &why, &said);
  if (!lease) {
    result.status = why == "interrupted" ? "interrupted" : "timeout";
    result.message = why == "interrupted" ? "interrupted while waiting for a free GPU"
                                          : "no GPU became free within queue_timeout_s";
    result.finished_at = now_seconds();
    return result;
  }

  ChildOptions o = child_options(spec, config);
  // The CUDA driver reserves far more address space than it uses, so RLIMIT_AS
  // breaks CUDA programs; the memory limit applies only when asked for.
  if (!config_bool(config, "limit_address_space", false)) o.memory_bytes.reset();
  o.env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID";  // nvidia-smi's numbering
  o.env["CUDA_VISIBLE_DEVICES"] = lease->visible_devices();
  o.env["MLO_GPUS"] = std::to_string(want);
  // Memory in use, sampled while the job runs; the peak is recorded.
  std::map<int, long> peak_mem;
  std::map<int, int> peak_util;
  std::string ids = lease->visible_devices();
  o.tick_s = config_number(config, "sample_s", 2.0);
  auto sample = [&] {
    ProcessSpec ps;
    ps.argv = {nvidia_smi_, "-i", ids};
    for (auto& a : nvidia_smi_query_args()) ps.argv.push_back(a);
    try {
      ProcessResult pr = run_process(ps);
      if (!pr.ok()) return;
      for (auto& g : parse_nvidia_smi(pr.out)) {
        if (g.memory_used_mib) peak_mem[g.index] = std::max(peak_mem[g.index], *g.memory_used_mib);
        if (g.utilization) peak_util[g.index] = std::max(peak_util[g.index], *g.utilization);
      }
    } catch (const Error&) {
    }
  };
  o.on_tick = sample;
  ChildOutcome outcome = run_child(o);
  JobResult r = classify(outcome, spec.resources.time_limit_s);
  nlohmann::json gpus = nlohmann::json::array();
  std::string model;
  for (auto& g : lease->gpus()) {
    nlohmann::json j = g.to_json();
    j.erase("memory_used_mib");
    j.erase("utilization");
    j["memory_used_max_mib"] = peak_mem.count(g.index) ? nlohmann::json(peak_mem[g.index]) : nlohmann::json(nullptr);
    j["utilization_max"] = peak_util.count(g.index) ? nlohmann::json(peak_util[g.index]) : nlohmann::json(nullptr);
    gpus.push_back(j);
    if (model.find(g.name) == std::string::npos) model += (model.empty() ? "" : ", ") + g.name;
  }
  r.info["gpus"] = gpus;
  r.info["gpu_model"] = model;
  r.info["driver"] = lease->gpus().empty() ? "" : lease->gpus()[0].driver;
  r.info["cuda_visible_devices"] = ids;
  if (said) r.info["queued_s"] = outcome.started_at - result.started_at;
  return r;
}

}  // namespace mlo
