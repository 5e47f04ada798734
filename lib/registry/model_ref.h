// Naming a model version anywhere in mlo (deploy, monitor, registry commands):
//   NAME                the latest registered version
//   NAME@v1.2.0         that version
//   NAME@latest         the most recently registered active version
//   NAME@greatest       the highest semantic version among the active ones
//   NAME@ALIAS          the version a mutable alias (champion, challenger) names
//   NAME#STAGE          the version that holds a stage (the newest, if several)
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mlo {
class Repo;
}

namespace mlo::registry {

struct ModelState;

struct ModelRef {
  enum class Kind { name_only, version, latest, greatest, alias, stage };
  std::string name;
  Kind kind = Kind::name_only;
  std::string selector;  // the version, alias or stage ("" for name_only/latest/greatest)
  std::string text;      // as written
};

// Parses a reference; throws InputError naming the rule that was broken.
ModelRef parse_model_ref(const std::string& text);

struct ResolvedModel {
  std::string name;
  std::string version;        // "v1.2.0"
  std::string tag;            // the registration tag, "NAME@v1.2.0"
  std::string commit;         // the commit the version's tag points at
  std::string artifact_sha256;  // "" for a version registered by GTO without mlo
  std::string artifact_type;    // "file" or "dir" (sha256 then names the manifest)
  std::uint64_t artifact_size = 0;
  std::string path;           // where the artifact lived in the work tree when registered
  std::string run_id;
  std::string model_type;     // e.g. "sklearn", "onnx", "torch"
  nlohmann::json environment; // the training run's environment, when registered with one
  std::vector<std::string> input_names;  // its signature's inputs, in order (empty: none recorded)
  std::vector<std::string> stages;
  std::vector<std::string> aliases;
};

// The input column names of a signature, in order: MLflow's
// {"inputs": [{"name": ...}, ...]} or {"inputs": ["a", "b"]}; empty when none.
std::vector<std::string> signature_input_names(const nlohmann::json& signature);

// Resolves against the registry (refreshing the index from the tags when they
// changed). Throws InputError when the model, version, stage or alias is unknown.
ResolvedModel resolve_model(Repo& repo, const ModelRef& ref);
ResolvedModel resolve_model(Repo& repo, const std::string& ref);
// The same against a model state already loaded (one index read for callers
// that need both the state and the resolved version).
ResolvedModel resolve_model(const ModelState& model, const ModelRef& ref);

}  // namespace mlo::registry
