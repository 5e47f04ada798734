// The runner protocol: how a pipeline stage executes. lib/pipeline builds a
// JobSpec and hands it to a Runner; the runner starts the command (locally,
// on GPUs, through Slurm, or through an mlo-runner-NAME plugin), streams its
// output to the terminal and into the run's log, and returns a JobResult.
// The JSON form of JobSpec/JobResult is the plugin protocol: see
// schemas/job-spec.schema.json, schemas/job-result.schema.json, man mlo-runners(7).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlo {

class Repo;

struct Resources {
  std::optional<double> cpus;                 // cores; local: OMP_NUM_THREADS etc., slurm: --cpus-per-task
  int gpus = 0;                               // cuda: CUDA_VISIBLE_DEVICES; slurm: --gres=gpu:N
  std::optional<std::uint64_t> memory_bytes;  // local: RLIMIT_AS/cgroup; slurm: --mem
  std::optional<double> time_limit_s;         // local: kill after; slurm: --time
};

struct JobSpec {
  std::string run_id;
  std::string stage;
  // argv form runs as is; shell form (argv empty) runs under /bin/sh -c exactly as written.
  std::vector<std::string> argv;
  std::string shell;
  std::filesystem::path workdir;              // absolute
  std::map<std::string, std::string> env;     // added to the environment (MLO_RUN_ID, MLO_METRICS_FILE, ...)
  Resources resources;
  std::string runner = "local";
  nlohmann::json runner_config = nlohmann::json::object();  // config.yaml runners.NAME
  std::filesystem::path log_path;             // combined stdout+stderr is appended here
  std::vector<std::string> outs;              // declared outputs, relative to workdir
  bool stream_output = true;                  // also copy output to the terminal (stderr)

  nlohmann::json to_json() const;
  static JobSpec from_json(const nlohmann::json& j);  // throws InputError on a bad document
};

struct JobResult {
  // "succeeded", "failed" (non-zero exit), "killed" (signal), "timeout",
  // "interrupted" (Ctrl-C), "error" (the runner itself failed).
  std::string status;
  int exit_code = -1;
  int signal = 0;
  double started_at = 0;   // unix seconds
  double finished_at = 0;
  std::string host;
  std::string message;     // why, when not succeeded
  nlohmann::json info = nlohmann::json::object();  // runner facts: gpu model/driver/memory, slurm job id/node, ...

  bool ok() const { return status == "succeeded"; }
  nlohmann::json to_json() const;
  static JobResult from_json(const nlohmann::json& j);
};

class Runner {
 public:
  virtual ~Runner() = default;
  virtual std::string name() const = 0;
  // How many jobs this runner can run at once (sweeps and `mlo run -j` use it).
  virtual int capacity() const { return 1; }
  // How many jobs that each need `resources` can run at once (local: cores /
  // cpus; cuda: GPUs / gpus). Defaults to capacity().
  virtual int capacity_for(const Resources& resources) const {
    (void)resources;
    return capacity();
  }
  // Facts for `mlo runners ls --json` (GPUs found, Slurm reachable, plugin path).
  virtual nlohmann::json describe() const { return nlohmann::json::object(); }
  // Runs one job to completion. Ctrl-C (mlo::interrupted()) must stop the job
  // and everything it started, and return status "interrupted".
  virtual JobResult run(const JobSpec& spec) = 0;
};

// "local", "cuda", "slurm", "container", or a plugin: an executable mlo-runner-NAME on
// PATH. Throws InputError for an unknown runner (naming the ones available).
// Settings come from `runners.NAME` in .mlo/config.yaml. The cuda runner
// throws RunnerError (exit 5) on a machine without NVIDIA GPUs, the slurm
// runner when sbatch is not installed.
std::unique_ptr<Runner> make_runner(const std::string& name, Repo& repo);
// The same with explicit settings (no repository needed); `lock_dir` is where
// the cuda runner keeps its per-GPU lock files (normally .mlo/tmp/gpu-locks).
std::unique_ptr<Runner> make_runner(const std::string& name, const nlohmann::json& config,
                                    const std::filesystem::path& lock_dir);

// A runner mlo can use here: a built-in one or a plugin found on PATH.
struct RunnerInfo {
  std::string name;
  std::string kind;             // "builtin" or "plugin"
  std::filesystem::path path;   // plugins: the executable
};
// local, cuda, slurm, then every mlo-runner-NAME on PATH (first one wins, as git does).
std::vector<RunnerInfo> available_runners();

}  // namespace mlo
