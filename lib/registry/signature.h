// Inferring a model's input signature at register (see signature.cpp).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "registry/runs.h"

namespace mlo {
class Repo;
}

namespace mlo::registry {

struct SignatureSource {
  std::string artifact_sha256, artifact_type;
  std::uint64_t artifact_size = 0;
  const RunInfo* run = nullptr;  // the run that wrote it, when known
  std::string target;           // --target: the data's column that is not an input
};

// {"inputs": [{"name": ...}, ...], "inferred_from": "..."}, or null when
// neither the model file nor its run's one data set names the inputs.
nlohmann::json infer_signature(Repo& repo, const SignatureSource& source);

}  // namespace mlo::registry
