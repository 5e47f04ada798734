#include "runner/plugin.h"

#include <unistd.h>

#include "core/error.h"
#include "core/fs.h"
#include "core/process.h"
#include "runner/exec.h"

namespace mlo {

using namespace runner;

std::string plugin_program(const std::string& runner_name) { return "mlo-runner-" + runner_name; }

PluginRunner::PluginRunner(std::string name, std::filesystem::path program, nlohmann::json config,
                           std::filesystem::path tmp_dir)
    : name_(std::move(name)),
      program_(std::move(program)),
      config_(config.is_object() ? std::move(config) : nlohmann::json::object()),
      tmp_dir_(std::move(tmp_dir)) {}

int PluginRunner::capacity() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (capacity_) return *capacity_;
  capacity_ = 1;
  try {
    ProcessResult pr = run_process(ProcessSpec{{program_.string(), "capacity"}});
    if (pr.ok()) {
      size_t used = 0;
      int n = std::stoi(pr.out, &used);
      if (n > 0) capacity_ = n;
    }
  } catch (const std::exception&) {
  }
  return *capacity_;
}

nlohmann::json PluginRunner::describe() const {
  nlohmann::json d = nlohmann::json::object();
  try {
    ProcessResult pr = run_process(ProcessSpec{{program_.string(), "describe"}});
    if (pr.ok()) {
      auto j = nlohmann::json::parse(pr.out, nullptr, false);
      if (j.is_object()) d = j;
    }
  } catch (const std::exception&) {
  }
  d["path"] = program_.string();
  d["capacity"] = capacity();
  return d;
}

JobResult PluginRunner::run(const JobSpec& spec) {
  nlohmann::json config = merged_config(config_, spec);
  std::error_code ec;
  std::filesystem::create_directories(tmp_dir_, ec);
  auto spec_path = unique_temp_name(tmp_dir_, name_ + "-spec");
  auto result_path = unique_temp_name(tmp_dir_, name_ + "-result");
  nlohmann::json doc = spec.to_json();
  doc["runner"] = name_;
  doc["runner_config"] = config;
  doc["result_path"] = result_path.string();
  write_file_atomic(spec_path, doc.dump(2) + "\n", false);

  ChildOptions o;
  o.argv = {program_.string(), "run", spec_path.string()};
  o.env = {{"MLO_JOB_SPEC", spec_path.string()}, {"MLO_JOB_RESULT", result_path.string()}};
  o.kill_grace_s = config_number(config, "kill_grace_s", 10);
  o.term_leader_only = true;
  o.log_path = spec.log_path;
  o.stream_output = spec.stream_output;
  o.output_key = spec.run_id;
  ChildOutcome outcome;
  try {
    outcome = run_child(o);
  } catch (...) {
    std::filesystem::remove(spec_path, ec);
    throw;
  }
  std::filesystem::remove(spec_path, ec);
  auto text = read_file_if_exists(result_path);
  std::filesystem::remove(result_path, ec);

  JobResult r;
  if (text) {
    try {
      r = JobResult::from_json(nlohmann::json::parse(*text));
    } catch (const std::exception& e) {
      r = JobResult{};
      r.status = "error";
      r.message = "runner plugin " + program_.filename().string() + " wrote an unreadable result: " + e.what();
    }
  } else {
    r.status = "error";
    r.message = "runner plugin " + program_.filename().string() + " exited " +
                (outcome.signal ? "on signal " + std::to_string(outcome.signal)
                                : "with status " + std::to_string(outcome.exit_code)) +
                " without writing a job result (see man mlo-runners)";
  }
  static const std::vector<std::string> known = {"succeeded", "failed", "killed", "timeout", "interrupted", "error"};
  if (std::find(known.begin(), known.end(), r.status) == known.end()) {
    r.message = "runner plugin " + program_.filename().string() + " reported an unknown status '" + r.status + "'";
    r.status = "error";
  }
  if (outcome.interrupted && r.status != "interrupted") {
    r.status = "interrupted";
    r.message = "interrupted by the user";
  }
  if (r.started_at == 0) r.started_at = outcome.started_at;
  if (r.finished_at == 0) r.finished_at = outcome.finished_at;
  if (r.host.empty()) r.host = hostname();
  r.info["plugin"] = program_.string();
  if (outcome.exit_code != 0 || outcome.signal) {
    r.info["plugin_exit_code"] = outcome.exit_code;
    if (outcome.signal) r.info["plugin_signal"] = outcome.signal;
  }
  return r;
}

}  // namespace mlo
