#include "core/error.h"
#include "runner/runner.h"

namespace mlo {

nlohmann::json JobSpec::to_json() const {
  nlohmann::json r = nlohmann::json::object();
  if (resources.cpus) r["cpus"] = *resources.cpus;
  if (resources.gpus) r["gpus"] = resources.gpus;
  if (resources.memory_bytes) r["memory_bytes"] = *resources.memory_bytes;
  if (resources.time_limit_s) r["time_limit_s"] = *resources.time_limit_s;
  nlohmann::json j = {{"version", 1},
                      {"run_id", run_id},
                      {"stage", stage},
                      {"workdir", workdir.string()},
                      {"env", env},
                      {"resources", r},
                      {"runner", runner},
                      {"runner_config", runner_config},
                      {"log_path", log_path.string()},
                      {"outs", outs}};
  if (argv.empty()) j["shell"] = shell;
  else j["argv"] = argv;
  return j;
}

JobSpec JobSpec::from_json(const nlohmann::json& j) {
  try {
    JobSpec s;
    if (j.at("version").get<int>() != 1) throw InputError("job spec: unsupported version");
    s.run_id = j.at("run_id").get<std::string>();
    s.stage = j.at("stage").get<std::string>();
    if (j.contains("argv")) s.argv = j["argv"].get<std::vector<std::string>>();
    else s.shell = j.at("shell").get<std::string>();
    s.workdir = j.at("workdir").get<std::string>();
    s.env = j.value("env", std::map<std::string, std::string>{});
    const auto& r = j.value("resources", nlohmann::json::object());
    if (r.contains("cpus")) s.resources.cpus = r["cpus"].get<double>();
    s.resources.gpus = r.value("gpus", 0);
    if (r.contains("memory_bytes")) s.resources.memory_bytes = r["memory_bytes"].get<std::uint64_t>();
    if (r.contains("time_limit_s")) s.resources.time_limit_s = r["time_limit_s"].get<double>();
    s.runner = j.value("runner", "local");
    s.runner_config = j.value("runner_config", nlohmann::json::object());
    s.log_path = j.value("log_path", "");
    s.outs = j.value("outs", std::vector<std::string>{});
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string("job spec: ") + e.what());
  }
}

nlohmann::json JobResult::to_json() const {
  return {{"version", 1},         {"status", status}, {"exit_code", exit_code},   {"signal", signal},
          {"started_at", started_at}, {"finished_at", finished_at}, {"host", host}, {"message", message},
          {"info", info}};
}

JobResult JobResult::from_json(const nlohmann::json& j) {
  try {
    JobResult r;
    r.status = j.at("status").get<std::string>();
    r.exit_code = j.value("exit_code", -1);
    r.signal = j.value("signal", 0);
    r.started_at = j.value("started_at", 0.0);
    r.finished_at = j.value("finished_at", 0.0);
    r.host = j.value("host", "");
    r.message = j.value("message", "");
    r.info = j.value("info", nlohmann::json::object());
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string("job result: ") + e.what());
  }
}

}  // namespace mlo
