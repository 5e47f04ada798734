#include "runner/container.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/process.h"
#include "runner/exec.h"

namespace mlo {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace runner;

namespace {

std::string trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

bool is_podman(const std::string& engine) { return fs::path(engine).filename().string().find("podman") != std::string::npos; }

// `ENGINE image inspect`: "DIGEST ID", or nullopt when the image is not here.
std::optional<std::pair<std::string, std::string>> inspect(const std::string& engine, const std::string& image) {
  std::string format = is_podman(engine) ? "{{.Digest}} {{.Id}}" : "{{.Id}} {{.Id}}";
  ProcessResult r = run_process({{engine, "image", "inspect", "--format", format, image}});
  if (!r.ok()) return std::nullopt;
  std::istringstream in(r.out);
  std::string digest, id;
  if (!(in >> digest >> id)) return std::nullopt;
  if (digest.rfind("sha256:", 0) != 0) digest = "sha256:" + digest;
  return std::make_pair(digest, id);
}

// The repository the job belongs to: the folder above the .mlo/ its log
// lives in (a sweep point's tree lies inside it), else MLO_REPO.
fs::path repo_root_of(const JobSpec& spec) {
  for (fs::path p = spec.log_path; !p.empty() && p != p.parent_path(); p = p.parent_path())
    if (p.filename() == ".mlo") return p.parent_path();
  auto it = spec.env.find("MLO_REPO");
  return it != spec.env.end() ? fs::path(it->second) : spec.workdir;
}

std::string number_text(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// The GPU request: CDI devices for podman (nvidia.com/gpu=N), --gpus for docker.
void add_gpu_args(std::vector<std::string>& argv, const std::string& engine, const json& config, int gpus) {
  if (gpus <= 0) return;
  std::string flag = config_string(config, "gpu_flag", is_podman(engine) ? "cdi" : "gpus");
  if (flag == "gpus") {
    argv.insert(argv.end(), {"--gpus", std::to_string(gpus)});
  } else if (flag == "cdi") {
    for (int i = 0; i < gpus; ++i) argv.insert(argv.end(), {"--device", "nvidia.com/gpu=" + std::to_string(i)});
  } else {
    throw InputError("runners.container.gpu_flag must be 'cdi' or 'gpus', not '" + flag + "'",
                     "cdi: --device nvidia.com/gpu=N (podman with the NVIDIA CDI spec); gpus: --gpus N (docker)");
  }
}

// The stage's environment as an engine env file (NAME=value lines, 0600):
// values stay out of argv, where `ps` would show them.
void write_env_file(const fs::path& file, const std::map<std::string, std::string>& env) {
  std::string text;
  for (const auto& [k, v] : env) {
    if (v.find('\n') != std::string::npos)
      throw InputError("env " + k + ": a value with a line break cannot be passed into a container");
    text += k + "=" + v + "\n";
  }
  write_file_atomic(file, text, false);
  ::chmod(file.c_str(), 0600);
}

// Removes a container at once, whatever state it is in (docker's rm has no --time).
std::vector<std::string> remove_argv(const std::string& engine, const std::string& container) {
  if (is_podman(engine)) return {engine, "rm", "--force", "--time", "0", container};
  return {engine, "rm", "--force", container};
}

}  // namespace

json ContainerImage::to_json() const {
  return {{"engine", fs::path(engine).filename().string()}, {"image", image}, {"digest", digest}, {"id", id}};
}

std::string container_engine(const json& config) {
  std::string wanted = config_string(config, "engine", "");
  for (const std::string& name : wanted.empty() ? std::vector<std::string>{"podman", "docker"} : std::vector<std::string>{wanted}) {
    if (name.find('/') != std::string::npos && ::access(name.c_str(), X_OK) == 0) return name;
    if (auto p = find_program(name)) return p->string();
  }
  throw RunnerError(wanted.empty() ? "the container runner needs podman or docker, and neither is on PATH"
                                   : "container engine '" + wanted + "' (runners.container.engine) is not installed",
                    "install podman (apt-get install podman runc) or docker, or set runners.container.engine");
}

ContainerImage resolve_image(const json& config, const std::string& image) {
  ContainerImage out;
  out.engine = container_engine(config);
  out.image = image;
  auto found = inspect(out.engine, image);
  if (!found) {
    ProcessResult pulled = run_process({{out.engine, "pull", "--quiet", image}});
    if (pulled.ok()) found = inspect(out.engine, image);
    if (!found)
      throw RunnerError("image '" + image + "' is not on this machine and could not be pulled: " +
                            trimmed(pulled.err).substr(0, 300),
                        "build or pull it first (" + fs::path(out.engine).filename().string() + " images lists what is here)");
  }
  out.digest = found->first;
  out.id = found->second;
  auto at = image.find("@sha256:");
  if (at != std::string::npos && is_podman(out.engine) && image.substr(at + 1) != out.digest)
    throw RunnerError("image '" + image + "' resolved to digest " + out.digest + ", not the one it names");
  return out;
}

ContainerRunner::ContainerRunner(json config) : config_(config.is_object() ? std::move(config) : json::object()) {
  container_engine(config_);  // fail early: a missing engine is a runner error
}

int ContainerRunner::capacity() const { return std::max(1, online_cpus()); }

json ContainerRunner::describe() const { return {{"engine", container_engine(config_)}, {"host", hostname()}}; }

std::vector<std::string> ContainerRunner::run_argv(const std::string& engine, const JobSpec& spec, const json& config,
                                                   const std::string& container, const std::string& image_ref,
                                                   const std::string& env_file) {
  fs::path repo = repo_root_of(spec);
  std::string workdir = spec.workdir.lexically_normal().string();  // "/repo/." -> "/repo"
  while (workdir.size() > 1 && workdir.back() == '/') workdir.pop_back();
  std::vector<std::string> argv = {engine, "run", "--rm", "--name", container, "--user",
                                   std::to_string(::getuid()) + ":" + std::to_string(::getgid()),
                                   "--volume", repo.string() + ":" + repo.string(), "--workdir", workdir,
                                   "--env-file", env_file};
  if (spec.resources.cpus) argv.insert(argv.end(), {"--cpus", number_text(*spec.resources.cpus)});
  if (spec.resources.memory_bytes) argv.insert(argv.end(), {"--memory", std::to_string(*spec.resources.memory_bytes) + "b"});
  add_gpu_args(argv, engine, config, spec.resources.gpus);
  if (config.contains("run_args") && config["run_args"].is_array())
    for (const auto& a : config["run_args"])
      if (a.is_string()) argv.push_back(a.get<std::string>());
  argv.push_back(image_ref);
  for (auto& a : job_argv(spec)) argv.push_back(a);
  return argv;
}

JobResult ContainerRunner::run(const JobSpec& spec) {
  json config = merged_config(config_, spec);
  std::string image = config_string(config, "image", "");
  if (image.empty()) throw InputError("stage '" + spec.stage + "' runs in a container but names no image", "add image: NAME[:TAG]");
  std::string engine = container_engine(config);
  std::string image_id = config_string(config, "image_id", "");
  if (image_id.empty()) image_id = resolve_image(config, image).id;
  std::string container = "mlo-" + (spec.run_id.empty() ? std::to_string(::getpid()) : spec.run_id);
  fs::path env_file = spec.log_path.empty() ? fs::temp_directory_path() / (container + ".env")
                                            : fs::path(spec.log_path.string() + ".env");
  std::map<std::string, std::string> env = spec.env;
  for (auto& [k, v] : thread_env(spec.resources, spec.env)) env[k] = v;
  env["MLO_RUNNER"] = "container";
  write_env_file(env_file, env);

  ChildOptions o;
  o.argv = run_argv(engine, spec, config, container, image_id, env_file.string());
  o.time_limit_s = spec.resources.time_limit_s;
  o.kill_grace_s = config_number(config, "kill_grace_s", 5);
  o.log_path = spec.log_path;
  o.stream_output = spec.stream_output;
  o.output_key = spec.run_id;
  // If mlo dies (kill -9), the job's guard removes the container.
  o.orphan_cleanup = remove_argv(engine, container);
  ChildOutcome outcome;
  try {
    outcome = run_child(o);
  } catch (...) {
    std::error_code ec;
    fs::remove(env_file, ec);
    throw;
  }
  // Stopped by Ctrl-C, a timeout or a signal: the engine's client is gone, the container may not be.
  ProcessResult removed = run_process({remove_argv(engine, container)});
  (void)removed;
  std::error_code ec;
  fs::remove(env_file, ec);
  JobResult r = classify(outcome, spec.resources.time_limit_s);
  r.info["container"] = container;
  r.info["image"] = image;
  r.info["image_id"] = image_id;
  return r;
}

}  // namespace mlo
