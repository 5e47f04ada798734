// mlo runners ls | exec: what runners this machine has, and running one
// command through a runner (to try a runner before writing a pipeline).
#include <unistd.h>

#include <cstdio>
#include <iomanip>
#include <sstream>

#include "command.h"
#include "core/interrupt.h"
#include "runner/cuda.h"
#include "runner/exec.h"
#include "runner/runner.h"

namespace mlo::cli {
namespace {


// Settings and temp folder: the repository's when there is one, else defaults.
std::unique_ptr<Runner> open_runner(Context& ctx, const std::string& name) {
  Repo* repo = nullptr;
  try {
    repo = &ctx.repo();
  } catch (const InputError&) {
  }
  if (repo) return make_runner(name, *repo);
  auto tmp = std::filesystem::temp_directory_path() / ("mlo-" + std::to_string(::getuid()));
  return make_runner(name, nlohmann::json::object(), tmp);
}

std::string gib(long mib) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(mib >= 10240 ? 0 : 1) << mib / 1024.0 << " GiB";
  return s.str();
}

nlohmann::json list_runners(Context& ctx) {
  nlohmann::json list = nlohmann::json::array();
  for (auto& info : available_runners()) {
    nlohmann::json j = {{"name", info.name}, {"kind", info.kind}, {"available", false}};
    if (!info.path.empty()) j["path"] = info.path.string();
    try {
      auto r = open_runner(ctx, info.name);
      j["details"] = r->describe();
      j["capacity"] = r->capacity();
      j["available"] = !(info.name == "slurm" && !j["details"].value("reachable", false));
      if (!j["available"].get<bool>()) j["error"] = j["details"].value("error", "not reachable");
    } catch (const Error& e) {
      j["error"] = e.what();
      if (!e.hint().empty()) j["hint"] = e.hint();
    }
    list.push_back(j);
  }
  return list;
}

std::string summary(const nlohmann::json& r) {
  const auto& d = r.value("details", nlohmann::json::object());
  if (!r["available"].get<bool>()) return "unavailable: " + r.value("error", std::string("?"));
  std::string name = r["name"];
  if (name == "local") return std::to_string(d.value("cpus", 0)) + " CPUs on " + d.value("host", std::string());
  if (name == "cuda") {
    std::string s;
    for (auto& g : d["gpus"]) {
      s += (s.empty() ? "" : "; ") + std::string("GPU ") + std::to_string(g.value("index", -1)) + ": " +
           g.value("name", std::string());
      if (g["memory_total_mib"].is_number()) s += " (" + gib(g["memory_total_mib"].get<long>()) + ")";
    }
    return s;
  }
  if (name == "slurm") {
    std::string s = "reachable";
    for (auto& p : d["partitions"])
      s += std::string(s == "reachable" ? ": " : ", ") + "partition " + p.value("partition", std::string()) + " (" +
           p.value("avail", std::string()) + ", " + p.value("nodes", std::string()) + " nodes " +
           p.value("state", std::string()) + ")";
    return s;
  }
  if (name == "container") return "engine " + d.value("engine", std::string());
  std::string s = "plugin " + r.value("path", std::string());
  if (d.contains("description") && d["description"].is_string()) s += ": " + d["description"].get<std::string>();
  return s;
}

struct ExecOptions {
  std::string runner = "local";
  std::string cpus, memory, time, log, workdir, stage = "exec", image;
  int gpus = 0;
  bool shell = false;
  std::vector<std::string> env;
  std::vector<std::string> command;
};

void register_runners(CLI::App& app, Context& ctx) {
  auto* group = add_command(app, "runners");
  group->require_subcommand(1);

  auto* ls = add_command(*group, "ls", "List the runners: built-in ones and mlo-runner-NAME plugins on PATH");
  ctx.on_run(ls, [&ctx] {
    auto list = list_runners(ctx);
    if (ctx.global.json) {
      ctx.print_json({{"runners", list}});
      return;
    }
    for (auto& r : list) {
      bool ok = r["available"].get<bool>();
      std::string name = r["name"];
      std::cout << ctx.paint(name, ok ? "green" : "dim") << std::string(name.size() < 10 ? 10 - name.size() : 1, ' ')
                << std::left << std::setw(9) << r["kind"].get<std::string>() << summary(r) << "\n";
    }
  });

  auto opts = std::make_shared<ExecOptions>();
  auto* ex = add_command(*group, "exec", "Run one command through a runner, as a pipeline stage would");
  ex->add_option("-r,--runner", opts->runner, "Runner name (default: local)");
  ex->add_option("--cpus", opts->cpus, "CPUs (thread-count variables, Slurm --cpus-per-task)");
  ex->add_option("--gpus", opts->gpus, "GPUs (cuda: CUDA_VISIBLE_DEVICES; slurm: --gres=gpu:N)")->check(CLI::NonNegativeNumber);
  ex->add_option("--memory", opts->memory, "Memory limit, e.g. 512M, 4G");
  ex->add_option("--time", opts->time, "Time limit, e.g. 90s, 5m, 2h");
  ex->add_option("--log", opts->log, "Append the output to this file too");
  ex->add_option("-e,--env", opts->env, "KEY=VALUE added to the environment (repeatable)")->expected(1)->allow_extra_args(false);
  ex->add_option("--workdir", opts->workdir, "Working folder (default: the current one)");
  ex->add_option("--stage", opts->stage, "Stage name in the job spec (default: exec)");
  ex->add_flag("--shell", opts->shell, "Run the command as one /bin/sh -c string");
  ex->add_option("--image", opts->image, "container: the image to run in (NAME[:TAG] or NAME@sha256:DIGEST)");
  ex->add_option("command", opts->command, "The command and its arguments (after --)")->required();
  ctx.on_run(ex, [&ctx, opts] {
    JobSpec spec;
    spec.stage = opts->stage;
    spec.run_id = "exec-" + std::to_string(::getpid());
    spec.runner = opts->runner;
    if (opts->shell) {
      for (auto& w : opts->command) spec.shell += (spec.shell.empty() ? "" : " ") + w;
    } else {
      spec.argv = opts->command;
    }
    spec.workdir = std::filesystem::absolute(opts->workdir.empty() ? "." : opts->workdir);
    if (!opts->cpus.empty()) {
      try {
        size_t used = 0;
        double c = std::stod(opts->cpus, &used);
        if (used != opts->cpus.size() || !(c > 0)) throw std::invalid_argument("");
        spec.resources.cpus = c;
      } catch (const std::exception&) {
        throw UsageError("--cpus: '" + opts->cpus + "' is not a positive number");
      }
    }
    spec.resources.gpus = opts->gpus;
    if (!opts->memory.empty()) spec.resources.memory_bytes = runner::parse_memory_size(opts->memory, "--memory");
    if (!opts->time.empty()) spec.resources.time_limit_s = runner::parse_duration(opts->time, "--time");
    for (auto& kv : opts->env) {
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) throw UsageError("--env: '" + kv + "' is not KEY=VALUE");
      spec.env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    if (!opts->log.empty()) spec.log_path = std::filesystem::absolute(opts->log);
    if (!opts->image.empty()) spec.runner_config["image"] = opts->image;
    spec.stream_output = !ctx.global.quiet;
    auto runner = open_runner(ctx, opts->runner);
    JobResult r = runner->run(spec);
    if (ctx.global.json) ctx.print_json(r.to_json());
    else if (!ctx.global.quiet || !r.ok()) {
      std::ostringstream s;
      s << std::fixed << std::setprecision(2) << (r.finished_at - r.started_at);
      std::string line = "mlo: " + runner->name() + ": " + r.status + " in " + s.str() + " s" +
                         (r.message.empty() ? "" : ": " + r.message);
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    ctx.exit_code = r.ok() ? 0 : r.status == "interrupted" ? 130 : 5;
  });
}

}  // namespace
MLO_REGISTER_COMMANDS(70, register_runners,
                      {"runners", "List runners and try one with a command"});
}  // namespace mlo::cli
