// Fuzz target: mlo.yaml, every section as the commands read it: stages
// (pipeline), registry and models, deployments, monitors. The file is written
// into a scratch work tree because the registry, deploy and monitor readers
// load it from the repository. A bad file must end in mlo::Error (exit 2/3),
// never another exception (exit 70) or a crash.
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "deploy/deploy.h"
#include "monitor/monitor.h"
#include "pipeline/pipeline.h"
#include "registry/registry.h"
#include "repo/config.h"
#include "repo/repo.h"
#include "scratch.h"

namespace {

// The environments the file names (the CLI passes one with --env).
std::vector<std::string> deployment_envs(const std::string& text) {
  std::vector<std::string> envs;
  try {
    YAML::Node root = mlo::load_yaml(text, "mlo.yaml");
    YAML::Node d = root.IsMap() ? root["deployments"] : YAML::Node();
    if (d.IsMap())
      for (const auto& kv : d)
        if (kv.first.IsScalar() && envs.size() < 8) envs.push_back(kv.first.Scalar());
  } catch (const mlo::Error&) {
  }
  return envs;
}

}  // namespace

using mlo::fuzz::expect_mlo_errors_only;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& dir = mlo::fuzz::scratch_dir();
  std::string text(mlo::fuzz::as_text(data, size));
  mlo::fuzz::write_file(dir / "mlo.yaml", text);
  expect_mlo_errors_only([&] {
    mlo::Pipeline p = mlo::parse_pipeline(text, "mlo.yaml");
    p.order();
    p.upstream();
  });
  mlo::Repo repo = mlo::Repo::open(dir);
  expect_mlo_errors_only([&] { mlo::registry::load_registry_config(repo).stage_names(); });
  expect_mlo_errors_only([&] { mlo::registry::load_model_decls(repo); });
  for (const auto& env : deployment_envs(text)) expect_mlo_errors_only([&] { mlo::deploy::load_deployment_config(repo, env); });
  expect_mlo_errors_only([&] { mlo::deploy::load_deployment_config(repo, "production"); });
  expect_mlo_errors_only([&] { mlo::monitor::load_monitors(dir / "mlo.yaml"); });
  return 0;
}
