// make_runner: built-in runners by name, else a plugin mlo-runner-NAME on PATH.
#include <unistd.h>

#include <cstdlib>
#include <set>

#include "core/error.h"
#include "core/process.h"
#include "repo/repo.h"
#include "repo/yaml_block.h"
#include "runner/container.h"
#include "runner/cuda.h"
#include "runner/local.h"
#include "runner/plugin.h"
#include "runner/runner.h"
#include "runner/slurm.h"

namespace mlo {

namespace {

const std::vector<std::string> kBuiltins = {"local", "cuda", "slurm", "container"};

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  return name[0] != '-' && name[0] != '.';
}

std::string available_list() {
  std::string s;
  for (auto& r : available_runners()) s += (s.empty() ? "" : ", ") + r.name;
  return s;
}

}  // namespace

std::vector<RunnerInfo> available_runners() {
  std::vector<RunnerInfo> out;
  std::set<std::string> seen;
  for (auto& b : kBuiltins) {
    out.push_back({b, "builtin", {}});
    seen.insert(b);
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  std::vector<RunnerInfo> plugins;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    start = end + 1;
    if (dir.empty()) dir = ".";
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
         it.increment(ec)) {
      std::string file = it->path().filename().string();
      if (file.rfind("mlo-runner-", 0) != 0) continue;
      std::string name = file.substr(11);
      if (!valid_name(name) || seen.count(name)) continue;
      if (::access(it->path().c_str(), X_OK) != 0 || std::filesystem::is_directory(it->path(), ec)) continue;
      seen.insert(name);
      plugins.push_back({name, "plugin", it->path().lexically_normal()});
    }
  }
  std::sort(plugins.begin(), plugins.end(), [](auto& a, auto& b) { return a.name < b.name; });
  out.insert(out.end(), plugins.begin(), plugins.end());
  return out;
}

std::unique_ptr<Runner> make_runner(const std::string& name, const nlohmann::json& config,
                                    const std::filesystem::path& tmp_dir) {
  if (name == "local") return std::make_unique<LocalRunner>(config);
  if (name == "cuda") return std::make_unique<CudaRunner>(config, tmp_dir / "gpu-locks");
  if (name == "slurm") return std::make_unique<SlurmRunner>(config, tmp_dir / "slurm");
  if (name == "container") return std::make_unique<ContainerRunner>(config);
  if (valid_name(name)) {
    if (auto program = find_program(plugin_program(name)))
      return std::make_unique<PluginRunner>(name, std::filesystem::absolute(*program).lexically_normal(), config,
                                            tmp_dir / "plugins");
  }
  throw InputError("unknown runner '" + name + "'",
                   "available runners: " + available_list() +
                       "; a plugin runner is an executable mlo-runner-" + (valid_name(name) ? name : "NAME") +
                       " on PATH (see man mlo-runners)");
}

std::unique_ptr<Runner> make_runner(const std::string& name, Repo& repo) {
  nlohmann::json config = nlohmann::json::object();
  if (valid_name(name)) {
    nlohmann::json c = yaml_to_json(repo.config().node("runners." + name));
    if (c.is_object()) config = c;
    else if (!c.is_null())
      throw InputError(repo.config().path(ConfigScope::tracked).string() + ": runners." + name +
                           " must be a mapping of settings",
                       "e.g. runners:\n  " + name + ":\n    kill_grace_s: 5");
  }
  return make_runner(name, config, repo.tmp_dir());
}

}  // namespace mlo
