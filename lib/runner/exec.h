// Supervising one job process, shared by the local, cuda and plugin runners:
// the child runs in its own process group with its resources applied (thread
// counts, RLIMIT_AS, CPU affinity, nice), its stdout+stderr are copied into
// the run log and to the terminal as they arrive, and on Ctrl-C or when the
// time limit passes the group gets SIGTERM, a grace period, then SIGKILL.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runner/runner.h"

namespace mlo::runner {

struct ChildOptions {
  std::vector<std::string> argv;              // argv[0] is looked up on the child's PATH
  std::filesystem::path workdir;              // empty: inherit
  std::map<std::string, std::string> env;     // added to / overriding the environment
  std::optional<std::uint64_t> memory_bytes;  // RLIMIT_AS of every process of the job
  std::vector<int> cpu_set;                   // sched_setaffinity; empty: inherit
  int nice = 0;                               // added niceness (>= 0)
  std::optional<double> time_limit_s;         // SIGTERM the group after this long
  double kill_grace_s = 5;                    // SIGTERM -> SIGKILL delay
  // Plugins get SIGTERM alone (not their group) so they can cancel their
  // remote job and still write a result; the group gets SIGKILL after the grace.
  bool term_leader_only = false;
  std::filesystem::path log_path;             // appended to; empty: none
  bool stream_output = true;                  // copy output to write_job_output()
  std::string output_key;                     // the job's run id, for write_job_output()
  // Started (in a session of its own) by the job's guard when mlo dies
  // before the job ends: what the group kill cannot reach (a container).
  std::vector<std::string> orphan_cleanup;
  std::function<void()> on_tick;              // called about every tick_s while the child runs
  double tick_s = 1.0;
};

struct ChildOutcome {
  int exit_code = -1;
  int signal = 0;
  bool timed_out = false;
  bool interrupted = false;
  bool exec_failed = false;  // the program could not be started (exit 127/126)
  double started_at = 0;
  double finished_at = 0;
};

// Runs the child to completion (or until stopped). Throws InputError when the
// log cannot be opened, RunnerError when fork/pipe fail.
ChildOutcome run_child(const ChildOptions& options);

// The JobResult status for an outcome: interrupted > timeout > killed (signal)
// > failed (exit != 0) > succeeded. Fills status, exit_code, signal, message, times.
JobResult classify(const ChildOutcome& outcome, std::optional<double> time_limit_s);

// The argv a spec runs: spec.argv, or {"/bin/sh", "-c", spec.shell}.
std::vector<std::string> job_argv(const JobSpec& spec);
// Thread-count variables for a cpus request (OMP_NUM_THREADS, MKL_NUM_THREADS,
// OPENBLAS_NUM_THREADS, NUMEXPR_NUM_THREADS, ...), none that env already sets.
std::map<std::string, std::string> thread_env(const Resources& resources,
                                              const std::map<std::string, std::string>& env);
// Whole threads for a cpus request: ceil, at least 1.
int whole_cpus(double cpus);

// POSIX shell single-quoting of one word: as is when every character is one
// the shell takes literally, else in single quotes.
std::string shell_quote(const std::string& word);
// The same, always in single quotes (generated scripts read uniformly).
std::string shell_quote_always(const std::string& word);
std::string hostname();
double now_seconds();
int online_cpus();  // CPUs this process may run on (sched_getaffinity)

// A runner setting from the runner's config merged with spec.runner_config (spec wins).
nlohmann::json merged_config(const nlohmann::json& runner_config, const JobSpec& spec);
// Reads a number/bool/string setting that may be given as YAML-ish text ("2", "true").
double config_number(const nlohmann::json& config, const std::string& key, double fallback);
bool config_bool(const nlohmann::json& config, const std::string& key, bool fallback);
std::string config_string(const nlohmann::json& config, const std::string& key, const std::string& fallback);

}  // namespace mlo::runner

namespace mlo::runner {
// "512M", "2G", "1.5GiB", "1000000" (bytes). Throws InputError naming `what`.
std::uint64_t parse_memory_size(const std::string& text, const std::string& what);
// "90", "90s", "5m", "2h", "1h30m" (seconds). Throws InputError naming `what`.
double parse_duration(const std::string& text, const std::string& what);
}  // namespace mlo::runner
