// Verdicts on a model version's training data for the registry: kept in the
// register tag ("data_validation") and checked by the data_valid gate
// (registry/data_gate.h, man mlo-registry).
#pragma once
#include <nlohmann/json.hpp>

namespace mlo {
class Repo;
}

namespace mlo::contracts {

// registry::DataChecker: see registry/data_gate.h for the shape. A verdict is
// taken, in this order, from `recorded` (the register tag), from the results
// stored locally, or (with `compute`) by validating the data in the local
// cache; each only when it was made under the contract as it is now.
nlohmann::json data_verdicts(Repo& repo, const nlohmann::json& data, const nlohmann::json& recorded, bool compute);

}  // namespace mlo::contracts
