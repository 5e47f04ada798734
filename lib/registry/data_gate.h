// The data_valid gate: a version is promoted only when its training data (the
// deps of the run that made it, recorded at registration) passed its
// contract (`checks:` in mlo.yaml). The contracts module computes the
// verdicts and plugs its checker in here: the registry does not depend on it.
#pragma once
#include <nlohmann/json.hpp>

namespace mlo {
class Repo;
}

namespace mlo::registry {

// For each entry of `data` ([{path, sha256, type}], a version's "data") that
// has a contract: {path, sha256, contract, contract_digest, passed (bool, or
// null when undecided), failed_checks, failed [names], source, detail}.
// `recorded` is the version's "data_validation" (verdicts kept at
// registration; reused while the contract is unchanged). With `compute`, a
// verdict found nowhere is computed from the data in the local cache.
// Throws InputError for a malformed contract.
using DataChecker = nlohmann::json (*)(Repo& repo, const nlohmann::json& data, const nlohmann::json& recorded,
                                       bool compute);
void set_data_checker(DataChecker f);
DataChecker data_checker();

}  // namespace mlo::registry
