#include "deploy/env_check.h"

#include "core/error.h"
#include "core/log.h"
#include "environment/environment.h"

namespace mlo::deploy {

using json = nlohmann::json;

json check_serving_python(const DeployModel& m, const std::filesystem::path& runner_path, bool strict) {
  json diffs = json::array();
  const json& env = m.environment;
  if (!env.is_object() || !env.contains("python") || !env["python"].is_object()) return diffs;
  const json& trained = env["python"].value("packages", json::object());
  auto python = environment::script_python(runner_path);
  if (!python || !trained.is_object()) return diffs;
  std::map<std::string, std::pair<std::string, std::string>> train;  // normalized -> (name, version)
  for (auto it = trained.begin(); it != trained.end(); ++it)
    if (it.value().is_string()) train[environment::normalized_package(it.key())] = {it.key(), it.value().get<std::string>()};
  json serving = environment::model_packages(*python, m.path);
  for (auto it = serving.begin(); it != serving.end(); ++it) {
    auto t = train.find(environment::normalized_package(it.key()));
    std::string now = it.value().is_string() ? it.value().get<std::string>() : "";
    if (t == train.end() || t->second.second == now) continue;
    diffs.push_back({{"package", t->second.first}, {"trained", t->second.second}, {"serving", now}});
  }
  if (diffs.empty()) return diffs;
  std::string what;
  for (const auto& d : diffs)
    what += (what.empty() ? "" : ", ") + d["package"].get<std::string>() + " " + d["trained"].get<std::string>() +
            " (training) vs " + d["serving"].get<std::string>() + " (serving)";
  std::string msg = m.name + (m.version.empty() ? "" : "@" + m.version) + " was trained with other package versions than " +
                    python->string() + " serves it with: " + what;
  std::string hint = "serve it from an environment with the training versions (see 'mlo models card'), or retrain";
  if (strict) throw Error(Exit::check_failed, msg, hint);
  log::warn(msg + "; " + hint + " (--strict-env makes this an error)");
  return diffs;
}

}  // namespace mlo::deploy
