// The software and hardware a stage runs on, recorded in every run record
// (`environment`, schemas/run-record.schema.json): OS, kernel, libc, CPU,
// memory, GPUs, the python interpreter the stage runs and its installed
// distributions, lock-file hashes, an allow-list of env vars, and for
// container stages the image and its digest. Capture is cheap when cached:
// the machine facts once per process, an interpreter's packages once per
// (path, mtime, site folders' mtimes) in CACHE/env/. Pure helpers turn two
// environments into a list of differences and a stage's choice
// (mlo.yaml `environment:`) into the fingerprint its cache key holds.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mlo::environment {

// What to capture for one stage.
struct CaptureRequest {
  std::filesystem::path root;                  // the tree the stage runs in (lock files are looked for here)
  std::string wdir = ".";                      // repo-relative folder of the stage
  std::vector<std::string> argv;               // the stage's cmd (argv form) ...
  std::string shell;                           // ... or its shell form
  std::map<std::string, std::string> env;      // the stage's env (PATH and PYTHONPATH count)
  std::vector<std::string> lock_files;         // repo-relative lock files the stage names (hashed even if unusual)
  std::filesystem::path cache_dir;             // CACHE/env; empty: no disk cache
  bool python = true;                          // look for the stage's interpreter
};

// OS, kernel, libc, arch, cpu {model, cores}, memory_bytes, gpus: read once per process.
nlohmann::json system_facts();
// GPUs from `nvidia-smi` ([] when it is not installed), cached in `cache_dir`
// by the driver version and the GPU list the kernel reports.
nlohmann::json gpu_facts(const std::filesystem::path& cache_dir);
// `nvidia-smi --query-gpu=name,memory.total,driver_version,uuid
// --format=csv,noheader,nounits` and the CUDA version in nvidia-smi's banner ->
// [{name, memory_mib, driver, uuid, cuda}].
nlohmann::json parse_gpu_query(const std::string& query_csv, const std::string& banner);

// The python a stage runs: the first word of its cmd that names python
// (python, python3, python3.11, a path to one), else `python3` on PATH.
// Relative paths are taken from the stage's folder. nullopt: none found.
std::optional<std::filesystem::path> find_python(const CaptureRequest& request);
// The python a program's "#!" line names (a script such as an inference
// runner); nullopt for a binary or another interpreter.
std::optional<std::filesystem::path> script_python(const std::filesystem::path& program);
// The distributions a pickled model needs, as installed in `python`: the
// modules its pickle stream references (read with pickletools, never
// unpickled) mapped to their distributions: {name: version}. Empty when
// the file is not a pickle or the interpreter cannot say.
nlohmann::json model_packages(const std::filesystem::path& python, const std::filesystem::path& artifact);
// {path, version, implementation, packages {name: version}}; {path, error} when it cannot be asked.
nlohmann::json python_facts(const std::filesystem::path& python, const std::map<std::string, std::string>& env,
                            const std::filesystem::path& cache_dir);

// {repo-relative path: sha256} of the lock files in the root and the stage's
// folder (requirements*.txt, uv.lock, poetry.lock, Pipfile.lock,
// environment.yml, conda-lock.yml) and of `extra`.
nlohmann::json lock_file_hashes(const std::filesystem::path& root, const std::string& wdir,
                                const std::vector<std::string>& extra);

// A name that may hold a secret (TOKEN, SECRET, KEY, PASSWORD, CREDENTIAL, any case): never recorded.
bool secret_name(const std::string& name);
// The allow-listed variables that change results (CUDA_VISIBLE_DEVICES,
// OMP_NUM_THREADS, PYTHONHASHSEED, ...) as the stage sees them.
nlohmann::json result_env_vars(const std::map<std::string, std::string>& stage_env);

// Everything above, as the run record's `environment`.
nlohmann::json capture(const CaptureRequest& request);

// What a stage keys on: "python" -> {python: {version, packages}}; a path ->
// {lock_files: {path: sha256}}; a container stage's image digest always.
// Throws InputError (naming `where`) when a chosen part was not captured.
nlohmann::json fingerprint(const nlohmann::json& environment, const std::vector<std::string>& chosen,
                           const std::string& where);

// A distribution name as pip compares them: lower case, '_' and '.' as '-'.
std::string normalized_package(std::string name);

// The differences between two environments (or fingerprints), one object
// each: {field, change: added|removed|changed, old?, new?}; fields are
// "os", "kernel", "libc", "cpu", "memory_bytes", "gpus", "python",
// "package NAME", "lock_file PATH", "env_var NAME", "image".
nlohmann::json diff(const nlohmann::json& a, const nlohmann::json& b);
// "scikit-learn 1.3.2 → 1.4.0, numpy added (1.26.4)" for at most `max` changes.
std::string describe(const nlohmann::json& changes, size_t max = 4);

}  // namespace mlo::environment
