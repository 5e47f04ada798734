// Before a model is served: does the serving python have the package
// versions the model was trained with? A pickled scikit-learn model loaded
// under another scikit-learn is the classic silent failure.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "deploy/model_source.h"

namespace mlo::deploy {

// Compares the training run's packages (the model's registered
// environment) with the serving python's (the inference runner's "#!"
// interpreter) for each distribution the model's pickle needs. Returns the
// differences ({package, trained, serving}); each is a warning, or with
// `strict` an Error with exit 1 (a check that said no). Nothing to compare
// (no recorded environment, a native runner, not a pickle): [].
nlohmann::json check_serving_python(const DeployModel& m, const std::filesystem::path& runner_path, bool strict);

}  // namespace mlo::deploy
