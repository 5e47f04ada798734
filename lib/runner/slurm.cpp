#include "runner/slurm.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/fs.h"
#include "core/interrupt.h"
#include "core/process.h"
#include "runner/output.h"
#include "runner/exec.h"

namespace mlo {

using namespace runner;

namespace {

// The value of " Key=" in scontrol's one-line output, up to the next space.
std::string field(const std::string& text, const std::string& key) {
  std::string needle = key + "=";
  size_t pos = 0;
  while ((pos = text.find(needle, pos)) != std::string::npos) {
    if (pos == 0 || text[pos - 1] == ' ' || text[pos - 1] == '\n') {
      size_t start = pos + needle.size();
      size_t end = text.find_first_of(" \n", start);
      return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    }
    pos += needle.size();
  }
  return {};
}

void parse_exit(const std::string& value, SlurmJob& job) {
  auto colon = value.find(':');
  try {
    job.exit_code = std::stoi(value.substr(0, colon));
    if (colon != std::string::npos) job.signal = std::stoi(value.substr(colon + 1));
  } catch (const std::exception&) {
  }
}

ProcessResult slurm_cmd(std::vector<std::string> argv) { return run_process(ProcessSpec{std::move(argv)}); }

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  size_t b = s.find_first_not_of(" \n");
  return b == std::string::npos ? std::string() : s.substr(b);
}

}  // namespace

std::optional<SlurmJob> parse_scontrol_job(const std::string& text) {
  SlurmJob job;
  job.state = field(text, "JobState");
  if (job.state.empty()) return std::nullopt;
  parse_exit(field(text, "ExitCode"), job);
  job.node = field(text, "BatchHost");
  if (job.node.empty() || job.node == "(null)") job.node = field(text, "NodeList");
  if (job.node == "(null)") job.node.clear();
  job.partition = field(text, "Partition");
  job.reason = field(text, "Reason");
  if (job.reason == "None") job.reason.clear();
  return job;
}

std::optional<SlurmJob> parse_sacct_line(const std::string& line) {
  std::vector<std::string> f;
  std::stringstream in(trim(line));
  std::string part;
  while (std::getline(in, part, '|')) f.push_back(part);
  if (f.size() < 2 || f[0].empty()) return std::nullopt;
  SlurmJob job;
  job.state = f[0].substr(0, f[0].find(' '));  // "CANCELLED by 0"
  parse_exit(f[1], job);
  if (f.size() > 2 && f[2] != "None assigned") job.node = f[2];
  if (f.size() > 3) job.partition = f[3];
  return job;
}

bool slurm_state_final(const std::string& s) {
  for (const char* f : {"COMPLETED", "FAILED", "TIMEOUT", "CANCELLED", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED",
                        "BOOT_FAIL", "DEADLINE", "REVOKED", "SPECIAL_EXIT"})
    if (s == f) return true;
  return false;
}

JobResult map_slurm_state(const SlurmJob& job, bool cancelled_by_us) {
  JobResult r;
  r.exit_code = job.exit_code;
  r.signal = job.signal;
  r.host = job.node;
  const std::string& s = job.state;
  if (s == "COMPLETED" && job.exit_code == 0 && job.signal == 0) {
    r.status = "succeeded";
  } else if (s == "CANCELLED" && cancelled_by_us) {
    r.status = "interrupted";
    r.message = "interrupted by the user; the Slurm job was cancelled (scancel)";
  } else if (s == "CANCELLED") {
    r.status = "killed";
    r.message = "the Slurm job was cancelled outside mlo (scancel or an administrator)";
  } else if (s == "TIMEOUT" || s == "DEADLINE") {
    r.status = "timeout";
    r.message = "Slurm stopped the job at its time limit (" + s + ")";
  } else if (s == "OUT_OF_MEMORY") {
    r.status = "killed";
    r.message = "the job ran out of memory (Slurm OUT_OF_MEMORY): raise resources.memory";
  } else if (s == "PREEMPTED") {
    r.status = "killed";
    r.message = "the job was preempted by Slurm";
  } else if (s == "NODE_FAIL" || s == "BOOT_FAIL") {
    r.status = "error";
    r.message = "the Slurm node failed (" + s + ")" + (job.node.empty() ? "" : " on " + job.node) +
                "; run it again";
  } else if (s == "FAILED" || s == "COMPLETED") {
    if (job.signal) {
      r.status = "killed";
      r.message = "killed by signal " + std::to_string(job.signal);
    } else {
      r.status = "failed";
      r.message = "exited with status " + std::to_string(job.exit_code);
    }
  } else {
    r.status = "error";
    r.message = "unexpected Slurm job state " + s;
  }
  if (!job.reason.empty() && r.status != "succeeded") r.message += " (reason: " + job.reason + ")";
  return r;
}

std::vector<std::string> sbatch_args(const JobSpec& spec, const nlohmann::json& config,
                                     const std::filesystem::path& output_file) {
  std::vector<std::string> a = {"sbatch", "--parsable", "--job-name=mlo-" + (spec.stage.empty() ? "job" : spec.stage),
                                "--output=" + output_file.string(), "--open-mode=append"};
  if (!spec.workdir.empty()) a.push_back("--chdir=" + spec.workdir.string());
  const auto& r = spec.resources;
  if (r.cpus) a.push_back("--cpus-per-task=" + std::to_string(whole_cpus(*r.cpus)));
  if (r.memory_bytes) {
    auto mib = (*r.memory_bytes + (1 << 20) - 1) >> 20;
    a.push_back("--mem=" + std::to_string(std::max<std::uint64_t>(1, mib)) + "M");
  }
  if (r.time_limit_s) {
    long minutes = std::max(1L, static_cast<long>(std::ceil(*r.time_limit_s / 60.0)));
    a.push_back("--time=" + std::to_string(minutes));
  }
  if (r.gpus > 0) a.push_back("--gres=gpu:" + std::to_string(r.gpus));
  for (const char* key : {"partition", "account", "qos"}) {
    std::string v = config_string(config, key, "");
    if (!v.empty()) a.push_back(std::string("--") + key + "=" + v);
  }
  if (config.is_object() && config.contains("extra_args")) {
    const auto& extra = config["extra_args"];
    if (extra.is_array()) {
      for (auto& e : extra) a.push_back(e.is_string() ? e.get<std::string>() : e.dump());
    } else if (extra.is_string()) {
      std::istringstream in(extra.get<std::string>());
      std::string w;
      while (in >> w) a.push_back(w);
    } else {
      throw InputError("runners.slurm.extra_args must be a list of sbatch arguments, got " + extra.dump(),
                       "e.g. extra_args: [\"--constraint=a100\", \"--exclusive\"]");
    }
  }
  return a;
}

std::string sbatch_script(const JobSpec& spec) {
  std::ostringstream s;
  s << "#!/bin/sh\n# mlo job: run " << spec.run_id << ", stage " << spec.stage << "\n";
  std::map<std::string, std::string> env = spec.env;
  for (auto& [k, v] : thread_env(spec.resources, spec.env)) env[k] = v;
  env["MLO_RUNNER"] = "slurm";
  if (!spec.run_id.empty() && !env.count("MLO_RUN_ID")) env["MLO_RUN_ID"] = spec.run_id;
  if (!spec.stage.empty() && !env.count("MLO_STAGE")) env["MLO_STAGE"] = spec.stage;
  for (auto& [k, v] : env) s << "export " << k << "=" << shell_quote(v) << "\n";
  if (!spec.workdir.empty()) s << "cd " << shell_quote(spec.workdir.string()) << " || exit 126\n";
  s << "exec";
  for (auto& a : job_argv(spec)) s << " " << shell_quote(a);
  s << "\n";
  return s.str();
}

SlurmRunner::SlurmRunner(nlohmann::json config, std::filesystem::path spool_dir)
    : config_(config.is_object() ? std::move(config) : nlohmann::json::object()), spool_dir_(std::move(spool_dir)) {
  std::string dir = config_string(config_, "spool_dir", "");
  if (!dir.empty()) spool_dir_ = dir;
  if (!find_program("sbatch"))
    throw RunnerError("Slurm is not available here: sbatch is not installed or not on PATH",
                      "run mlo on a Slurm login node, install Slurm's client tools, or use 'runner: local'");
}

int SlurmRunner::capacity() const { return std::max(1, static_cast<int>(config_number(config_, "max_jobs", 64))); }

nlohmann::json SlurmRunner::describe() const {
  nlohmann::json d = {{"reachable", false}};
  try {
    ProcessResult pr = slurm_cmd({"sinfo", "-h", "-o", "%P|%a|%D|%T"});
    if (!pr.ok()) {
      std::string err = trim(pr.err.empty() ? pr.out : pr.err);
      d["error"] = err.substr(err.rfind('\n') == std::string::npos ? 0 : err.rfind('\n') + 1);
      return d;
    }
    nlohmann::json parts = nlohmann::json::array();
    std::istringstream in(pr.out);
    std::string line;
    while (std::getline(in, line)) {
      std::vector<std::string> f;
      std::stringstream ls(line);
      std::string p;
      while (std::getline(ls, p, '|')) f.push_back(p);
      if (f.size() >= 4) parts.push_back({{"partition", f[0]}, {"avail", f[1]}, {"nodes", f[2]}, {"state", f[3]}});
    }
    d["reachable"] = true;
    d["partitions"] = parts;
  } catch (const Error& e) {
    d["error"] = e.what();
  }
  return d;
}

std::optional<SlurmJob> SlurmRunner::query(const std::string& id) const {
  ProcessResult pr = slurm_cmd({"scontrol", "show", "job", "-o", id});
  if (pr.ok()) {
    if (auto j = parse_scontrol_job(pr.out)) return j;
  }
  // The controller forgets finished jobs after MinJobAge; accounting remembers.
  if (find_program("sacct")) {
    ProcessResult sa = slurm_cmd({"sacct", "-n", "-P", "-X", "-j", id, "-o", "State,ExitCode,NodeList,Partition"});
    if (sa.ok()) {
      std::istringstream in(sa.out);
      std::string line;
      if (std::getline(in, line))
        if (auto j = parse_sacct_line(line)) return j;
    }
  }
  return std::nullopt;
}

JobResult SlurmRunner::run(const JobSpec& spec) {
  nlohmann::json config = merged_config(config_, spec);
  JobResult result;
  result.started_at = now_seconds();
  std::error_code ec;
  std::filesystem::create_directories(spool_dir_, ec);
  std::string base = (spec.run_id.empty() ? std::string("job") : spec.run_id) + "-" + std::to_string(::getpid()) +
                     "-" + std::to_string(static_cast<long long>(result.started_at * 1000) % 100000000);
  auto script = spool_dir_ / (base + ".sh");
  auto output = spool_dir_ / (base + ".out");
  write_file_atomic(script, sbatch_script(spec), false);
  std::filesystem::permissions(script, std::filesystem::perms::owner_all, ec);

  auto args = sbatch_args(spec, config, output);
  args.push_back(script.string());
  ProcessResult sb = slurm_cmd(args);
  if (!sb.ok()) {
    std::filesystem::remove(script, ec);
    result.status = "error";
    result.finished_at = now_seconds();
    result.message = "sbatch failed: " + trim(sb.err.empty() ? sb.out : sb.err) +
                     " (check the cluster with sinfo, and runners.slurm in .mlo/config.yaml)";
    result.info["sbatch"] = args;
    return result;
  }
  std::string job_id = trim(sb.out);
  job_id = job_id.substr(0, job_id.find(';'));
  result.info["slurm_job_id"] = job_id;
  if (spec.stream_output) {
    write_job_output(spec.run_id, "mlo: " + spec.stage + ": submitted Slurm job " + job_id + "\n");
  }

  UniqueFd log;
  if (!spec.log_path.empty()) {
    log.reset(::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!log) throw_errno("cannot open the run log " + spec.log_path.string(), errno);
  }
  UniqueFd out_fd;
  auto follow = [&] {
    if (!out_fd) out_fd.reset(::open(output.c_str(), O_RDONLY | O_CLOEXEC));
    if (!out_fd) return;
    char buf[65536];
    ssize_t n;
    while ((n = ::read(out_fd.get(), buf, sizeof buf)) > 0) {
      std::string_view chunk(buf, static_cast<size_t>(n));
      if (log) write_all(log.get(), chunk, spec.log_path.string());
      if (spec.stream_output) write_job_output(spec.run_id, chunk);
    }
  };

  double poll_s = config_number(config, "poll_s", 1.0);
  bool cancelled = false;
  std::optional<SlurmJob> job;
  int unknown = 0;
  auto cancel_deadline = std::chrono::steady_clock::time_point::max();
  for (int round = 0;; ++round) {
    follow();
    if (interrupted() && !cancelled) {
      slurm_cmd({"scancel", job_id});
      cancelled = true;
      cancel_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    }
    job = query(job_id);
    if (job && slurm_state_final(job->state)) break;
    if (!job && ++unknown >= 5) break;
    if (cancelled && std::chrono::steady_clock::now() > cancel_deadline) break;
    // Short sleeps at first (quick jobs), then poll_s; wake early on Ctrl-C.
    double wait = round < 10 ? std::min(poll_s, 0.2) : poll_s;
    for (double slept = 0; slept < wait && (cancelled || !interrupted()); slept += 0.05)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  follow();
  std::filesystem::remove(script, ec);

  if (job && slurm_state_final(job->state)) {
    JobResult mapped = map_slurm_state(*job, cancelled);
    mapped.started_at = result.started_at;
    mapped.info = result.info;
    result = std::move(mapped);
  } else if (cancelled) {
    result.status = "interrupted";
    result.message = "interrupted by the user; scancel " + job_id + " was sent (Slurm did not confirm in 30 s)";
  } else {
    result.status = "error";
    result.message = "lost track of Slurm job " + job_id + ": scontrol and sacct no longer know it";
  }
  result.finished_at = now_seconds();
  if (job) {
    result.info["slurm_state"] = job->state;
    result.info["node"] = job->node;
    if (!job->partition.empty()) result.info["partition"] = job->partition;
  }
  if (config_bool(config, "keep_output", false)) result.info["slurm_output"] = output.string();
  else std::filesystem::remove(output, ec);
  return result;
}

}  // namespace mlo
