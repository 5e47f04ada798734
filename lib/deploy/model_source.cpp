#include "deploy/model_source.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "deploy/deploy.h"
#include "repo/repo.h"
#include "registry/model_ref.h"

namespace mlo::deploy {

ParsedRef parse_deploy_ref(const std::string& ref) {
  ParsedRef p;
  std::size_t at = ref.find_first_of("#@");
  p.name = ref.substr(0, at);
  if (at != std::string::npos) {
    p.kind = ref[at];
    p.value = ref.substr(at + 1);
    if (p.value.empty())
      throw UsageError("model reference '" + ref + "' has nothing after '" + std::string(1, p.kind) + "'",
                       "write NAME#STAGE (e.g. iris#production) or NAME@VERSION (e.g. iris@3)");
  }
  if (p.name.empty() || p.name.find_first_of(" /\\") != std::string::npos)
    throw UsageError("bad model reference '" + ref + "'", "write NAME#STAGE or NAME@VERSION");
  return p;
}

// Resolve through the model registry, and serve the exact
// registered bytes (from the cache, under the artifact's file name so its type
// can be told), not whatever the work tree holds now.
DeployModel resolve_deploy_model(Repo& repo, const std::string& ref) {
  parse_deploy_ref(ref);
  registry::ResolvedModel r = registry::resolve_model(repo, ref);
  DeployModel m;
  m.name = r.name;
  m.version = r.version;
  m.sha256 = r.artifact_sha256;
  m.run_id = r.run_id;
  m.model_type = r.model_type;
  m.environment = r.environment;
  std::string file = std::filesystem::path(r.path).filename().string();
  if (file.empty()) file = "model";
  if (r.artifact_type == "dir")
    throw InputError(ref + " is a folder artifact; local serving needs a single model file",
                     "register the model file itself, or deploy a file with --artifact PATH");
  // A clone that did not register the version fetches the bytes from the
  // remote; if that fails, a work-tree file with the same hash still serves.
  std::string fetch_error;
  if (!m.sha256.empty() && !repo.cache().has(m.sha256)) {
    try {
      repo.ensure_objects({m.sha256}, "the artifact of " + ref);
    } catch (const Error& e) {
      fetch_error = std::string(e.what()) + (e.hint().empty() ? "" : " (" + e.hint() + ")");
    }
  }
  m.source = r.path;
  if (!m.sha256.empty() && repo.cache().has(m.sha256)) {
    std::filesystem::path artifacts = repo.mlo_dir() / "deploy" / kArtifactsDir;
    m.path = artifacts / m.sha256 / file;
    std::error_code ec;
    if (!std::filesystem::exists(m.path, ec)) {
      std::filesystem::create_directories(m.path.parent_path());
      // local copies of registered bytes: never for git (as each environment's folder)
      if (!std::filesystem::exists(artifacts / ".gitignore", ec)) write_file_atomic(artifacts / ".gitignore", "*\n", false);
      repo.cache().materialize(m.sha256, m.path, repo.link_modes());
    }
  } else {
    m.path = repo.root() / r.path;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(m.path, ec))
      throw InputError("the artifact of " + ref + " (" + r.path + ") is neither in the cache nor in the work tree" +
                           (fetch_error.empty() ? "" : "; fetching it failed: " + fetch_error),
                       "run 'mlo push' in the clone that registered it, or deploy a file with --artifact PATH");
    std::string actual = sha256_file(m.path);
    if (!m.sha256.empty() && actual != m.sha256)
      throw InputError(r.path + " in the work tree differs from the bytes registered as " + ref +
                           ", which are not in the cache" + (fetch_error.empty() ? "" : " (" + fetch_error + ")"),
                       "run 'mlo push' in the clone that registered it, then deploy again");
    m.sha256 = actual;
  }
  m.artifact_type = detect_artifact_type(m.path);
  if (m.artifact_type == "unknown" && m.model_type == "sklearn") m.artifact_type = "sklearn";
  return m;
}

std::string detect_artifact_type(const std::filesystem::path& artifact) {
  std::string ext = artifact.extension().string();
  if (ext == ".pkl" || ext == ".joblib" || ext == ".pickle") return "sklearn";
  if (ext == ".json") {
    auto doc = nlohmann::json::parse(read_file(artifact), nullptr, false);
    if (doc.is_object() && doc.value("format", "") == "mlo-linear") return "mlo-linear";
  }
  return "unknown";
}

std::string default_runner_for(const std::string& artifact_type) {
  if (artifact_type == "mlo-linear") return "native";
  if (artifact_type == "sklearn") return "sklearn";
  return "";
}

DeployModel model_from_artifact(const std::filesystem::path& artifact, const std::string& ref) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(artifact, ec))
    throw InputError("model artifact '" + artifact.string() + "' does not exist or is not a file",
                     "pass the path of a model file to --artifact");
  DeployModel m;
  m.path = std::filesystem::absolute(artifact).lexically_normal();
  m.sha256 = sha256_file(m.path);
  m.artifact_type = detect_artifact_type(m.path);
  if (!ref.empty()) {
    ParsedRef p = parse_deploy_ref(ref);
    m.name = p.name;
    if (p.kind == '@') m.version = p.value;
  } else {
    m.name = artifact.stem().string();
  }
  if (m.version.empty()) m.version = m.sha256.substr(0, 12);
  return m;
}

}  // namespace mlo::deploy
