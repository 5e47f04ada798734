// The local CPU runner: the stage runs as a child process group on this
// machine with its resources applied (see runner/exec.h).
#pragma once
#include <mutex>
#include <set>

#include "runner/exec.h"
#include "runner/runner.h"

namespace mlo {

class LocalRunner : public Runner {
 public:
  // config: runners.local from .mlo/config.yaml (kill_grace_s, pin_cpus, nice).
  explicit LocalRunner(nlohmann::json config = nlohmann::json::object());
  std::string name() const override { return "local"; }
  // One job a core.
  int capacity() const override;
  // cores / cpus requested (at least 1).
  int capacity_for(const Resources& resources) const override;
  nlohmann::json describe() const override;
  JobResult run(const JobSpec& spec) override;

  // The child options for a spec (shared with the cuda runner).
  runner::ChildOptions child_options(const JobSpec& spec, const nlohmann::json& config) const;

 protected:
  nlohmann::json config_;

 private:
  // Disjoint CPU sets for concurrent pinned jobs (pin_cpus: true).
  std::vector<int> reserve_cpus(int count);
  void release_cpus(const std::vector<int>& cpus);
  std::mutex cpu_mutex_;
  std::set<int> cpus_in_use_;
};

}  // namespace mlo
