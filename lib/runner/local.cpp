// The local CPU runner: runs the stage as a child process in its own process
// group, applies its resources, tees its output into the run log (and the
// terminal), and stops the whole group on Ctrl-C or at its time limit.
#include "runner/local.h"

#include <sched.h>

#include "core/error.h"
#include "core/parse.h"

namespace mlo {

using namespace runner;

LocalRunner::LocalRunner(nlohmann::json config) : config_(config.is_object() ? std::move(config) : nlohmann::json::object()) {}

int LocalRunner::capacity() const { return std::max(1, online_cpus()); }

int LocalRunner::capacity_for(const Resources& resources) const {
  double want = resources.cpus && *resources.cpus > 0 ? *resources.cpus : 1.0;
  return std::max(1, static_cast<int>(online_cpus() / want));
}

nlohmann::json LocalRunner::describe() const {
  return {{"cpus", online_cpus()}, {"host", hostname()}};
}

ChildOptions LocalRunner::child_options(const JobSpec& spec, const nlohmann::json& config) const {
  ChildOptions o;
  o.argv = job_argv(spec);
  o.workdir = spec.workdir;
  o.env = spec.env;
  for (auto& [k, v] : thread_env(spec.resources, spec.env)) o.env[k] = v;
  o.env["MLO_RUNNER"] = spec.runner.empty() ? "local" : spec.runner;
  if (!spec.run_id.empty() && !o.env.count("MLO_RUN_ID")) o.env["MLO_RUN_ID"] = spec.run_id;
  if (!spec.stage.empty() && !o.env.count("MLO_STAGE")) o.env["MLO_STAGE"] = spec.stage;
  o.memory_bytes = spec.resources.memory_bytes;
  o.time_limit_s = spec.resources.time_limit_s;
  o.kill_grace_s = config_number(config, "kill_grace_s", 5);
  o.nice = static_cast<int>(config_number(config, "nice", 0));
  if (o.nice < 0 || o.nice > 19)
    throw InputError("runners.local.nice must be between 0 and 19, got " + std::to_string(o.nice));
  o.log_path = spec.log_path;
  o.stream_output = spec.stream_output;
  o.output_key = spec.run_id;
  return o;
}

std::vector<int> LocalRunner::reserve_cpus(int count) {
  cpu_set_t allowed;
  if (::sched_getaffinity(0, sizeof allowed, &allowed) != 0) return {};
  std::lock_guard<std::mutex> lock(cpu_mutex_);
  std::vector<int> picked;
  for (int c = 0; c < CPU_SETSIZE && static_cast<int>(picked.size()) < count; ++c)
    if (CPU_ISSET(c, &allowed) && !cpus_in_use_.count(c)) picked.push_back(c);
  if (static_cast<int>(picked.size()) < count) return {};  // not enough free: do not pin
  cpus_in_use_.insert(picked.begin(), picked.end());
  return picked;
}

void LocalRunner::release_cpus(const std::vector<int>& cpus) {
  std::lock_guard<std::mutex> lock(cpu_mutex_);
  for (int c : cpus) cpus_in_use_.erase(c);
}

JobResult LocalRunner::run(const JobSpec& spec) {
  nlohmann::json config = merged_config(config_, spec);
  ChildOptions o = child_options(spec, config);
  std::vector<int> pinned;
  if (spec.resources.cpus && config_bool(config, "pin_cpus", false)) {
    pinned = reserve_cpus(whole_cpus(*spec.resources.cpus));
    o.cpu_set = pinned;
  }
  ChildOutcome outcome;
  try {
    outcome = run_child(o);
  } catch (...) {
    release_cpus(pinned);
    throw;
  }
  release_cpus(pinned);
  JobResult r = classify(outcome, spec.resources.time_limit_s);
  if (!pinned.empty()) r.info["cpu_set"] = pinned;
  if (spec.resources.memory_bytes) r.info["memory_limit_bytes"] = *spec.resources.memory_bytes;
  if (o.env.count("OMP_NUM_THREADS"))
    if (auto threads = parse_u64(o.env["OMP_NUM_THREADS"])) r.info["threads"] = *threads;
  return r;
}

}  // namespace mlo
