// Where `mlo deploy` gets the model it serves. This is the one seam between
// deploy and the model registry: resolve_deploy_model() turns "NAME#STAGE" or
// "NAME@VERSION" into a file plus identity; an explicit artifact path (the
// --artifact option) works without the registry.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace mlo {
class Repo;
}

namespace mlo::deploy {

struct DeployModel {
  std::string name;
  std::string version;
  std::string sha256;         // of the artifact file
  std::string artifact_type;  // mlo-linear | sklearn | other
  std::string run_id;         // the run that produced it, when known
  std::string model_type;     // as registered, when known
  nlohmann::json environment; // the training run's environment, when registered with one
  std::filesystem::path path; // absolute path of the artifact file
  std::string source;         // what events record: the registered (repo-relative) path, never a local one
};

// "NAME#STAGE" / "NAME@VERSION" / "NAME" -> name, selector ('#' or '@' or 0), value.
struct ParsedRef {
  std::string name;
  char kind = 0;
  std::string value;
};
ParsedRef parse_deploy_ref(const std::string& ref);

// Resolves a registered model. Throws InputError ("unknown model", "no version
// in stage") naming the ref and what to do.
DeployModel resolve_deploy_model(Repo& repo, const std::string& ref);

// A model given by file: identity from the ref when there is one, else the
// file's stem; version from the ref, else the first 12 hex digits of its hash.
DeployModel model_from_artifact(const std::filesystem::path& artifact, const std::string& ref);

// "mlo-linear" for mlo-linear JSON, "sklearn" for .pkl/.joblib/.pickle, else "unknown".
std::string detect_artifact_type(const std::filesystem::path& artifact);
// The inference runner that serves an artifact type by default (native, sklearn).
std::string default_runner_for(const std::string& artifact_type);

}  // namespace mlo::deploy
