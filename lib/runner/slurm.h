// The slurm runner: submits the job with sbatch, follows it with scontrol
// (sacct when the controller has forgotten it), streams its output file into
// the run log as it grows, maps Slurm's final state to a JobResult, and
// cancels the job with scancel on Ctrl-C. The job's working folder and the
// spool folder (script + output) must be on a file system the nodes share.
#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "runner/runner.h"

namespace mlo {

// What `scontrol show job -o ID` (or sacct) says about a job.
struct SlurmJob {
  std::string state;      // PENDING, RUNNING, COMPLETED, FAILED, TIMEOUT, CANCELLED, OUT_OF_MEMORY, NODE_FAIL, ...
  int exit_code = 0;      // ExitCode=N:S
  int signal = 0;
  std::string node;       // BatchHost or NodeList
  std::string partition;
  std::string reason;
};
std::optional<SlurmJob> parse_scontrol_job(const std::string& text);
// One line of `sacct -n -P -X -o State,ExitCode,NodeList,Partition`.
std::optional<SlurmJob> parse_sacct_line(const std::string& line);
bool slurm_state_final(const std::string& state);
// The JobResult status and message for a final Slurm state. `cancelled_by_us`:
// mlo ran scancel (Ctrl-C), so CANCELLED means interrupted.
JobResult map_slurm_state(const SlurmJob& job, bool cancelled_by_us);

// The sbatch command line (without the script) and the batch script for a spec.
std::vector<std::string> sbatch_args(const JobSpec& spec, const nlohmann::json& config,
                                     const std::filesystem::path& output_file);
std::string sbatch_script(const JobSpec& spec);

class SlurmRunner : public Runner {
 public:
  // config: runners.slurm (partition, account, qos, extra_args, poll_s,
  // max_jobs, spool_dir). Throws RunnerError when sbatch is not installed.
  SlurmRunner(nlohmann::json config, std::filesystem::path spool_dir);
  std::string name() const override { return "slurm"; }
  int capacity() const override;
  nlohmann::json describe() const override;  // {"reachable": bool, "partitions": [...], "error": ...}
  JobResult run(const JobSpec& spec) override;

 private:
  std::optional<SlurmJob> query(const std::string& job_id) const;
  nlohmann::json config_;
  std::filesystem::path spool_dir_;
};

}  // namespace mlo
