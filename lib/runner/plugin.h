// Plugin runners: any executable mlo-runner-NAME on PATH (as git finds
// git-NAME). The protocol is in man mlo-runners(7): mlo writes the job spec
// to a JSON file, runs `mlo-runner-NAME run SPEC_FILE`, copies the plugin's
// stdout/stderr into the run log and the terminal, and reads the job result
// JSON from the spec's result_path. SIGTERM asks the plugin to cancel.
#pragma once
#include <filesystem>
#include <mutex>
#include <optional>

#include "runner/runner.h"

namespace mlo {

class PluginRunner : public Runner {
 public:
  PluginRunner(std::string name, std::filesystem::path program, nlohmann::json config, std::filesystem::path tmp_dir);
  std::string name() const override { return name_; }
  // `mlo-runner-NAME capacity` (an integer on stdout); 1 if it has none.
  int capacity() const override;
  // `mlo-runner-NAME describe` (a JSON object on stdout), plus the path.
  nlohmann::json describe() const override;
  JobResult run(const JobSpec& spec) override;

 private:
  std::string name_;
  std::filesystem::path program_;
  nlohmann::json config_;
  std::filesystem::path tmp_dir_;
  mutable std::mutex mutex_;
  mutable std::optional<int> capacity_;
};

// The plugin program name for a runner name ("mlo-runner-" + name).
std::string plugin_program(const std::string& runner_name);

}  // namespace mlo
