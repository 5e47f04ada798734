// The container runner (`runner: container`, `image:` on the stage): the
// stage runs in a podman or docker container. The repository is mounted at
// its own path, the command runs as the invoking uid:gid with the stage's
// env (through an env file, never argv), resources map to --cpus/--memory,
// gpus to CDI devices (podman) or --gpus (docker). The image is resolved to
// its digest before the stage runs; the pipeline records it and keys on it,
// and the container runs that exact image (by id). Kill, timeout and Ctrl-C
// remove the container (`ENGINE rm -f`), and so does the job's guard when
// mlo itself dies: no container is left running.
#pragma once
#include <string>
#include <vector>

#include "runner/runner.h"

namespace mlo {

// An image as resolved on this machine.
struct ContainerImage {
  std::string engine;  // the engine's path
  std::string image;   // as the stage names it
  std::string digest;  // sha256:... (podman: manifest digest; docker: image id)
  std::string id;      // the local image id the container runs
  nlohmann::json to_json() const;
};

// The engine: runners.container.engine (a name or path), else podman, else
// docker on PATH. Throws RunnerError (exit 5) when none is installed.
std::string container_engine(const nlohmann::json& config);
// Resolves `image` (pulling it when it is not here). Throws RunnerError
// when the engine cannot find or read it.
ContainerImage resolve_image(const nlohmann::json& config, const std::string& image);

class ContainerRunner : public Runner {
 public:
  // config: runners.container (engine, kill_grace_s, gpu_flag: cdi|gpus, run_args: [...]).
  explicit ContainerRunner(nlohmann::json config);
  std::string name() const override { return "container"; }
  int capacity() const override;
  nlohmann::json describe() const override;
  // spec.runner_config holds `image` (and `image_id`/`digest` when the
  // pipeline resolved it); the container is named mlo-RUN_ID.
  JobResult run(const JobSpec& spec) override;

  // The engine's argv for a job (exposed for tests): run --rm --name ... IMAGE CMD...
  static std::vector<std::string> run_argv(const std::string& engine, const JobSpec& spec, const nlohmann::json& config,
                                           const std::string& container, const std::string& image_ref,
                                           const std::string& env_file);

 private:
  nlohmann::json config_;
};

}  // namespace mlo
