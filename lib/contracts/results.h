// Validation results kept: each dataset's result is a JSON object in the
// content-addressed store, named by a line in .mlo/cache/contracts/results.log;
// the index table `data_validations` is derived from them (mlo index rebuild).
// Lineage shows the latest result next to each data version.
#pragma once
#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "contracts/validate.h"

namespace mlo {
class Repo;
}

namespace mlo::contracts {

struct StoredValidation {
  std::string id;  // the result object's sha256
  std::string dataset, version, contract_digest;
  bool passed = false;
  std::uint64_t failed_checks = 0, rows = 0;
  double created_at = 0;
};

// Stores one dataset's result and indexes it; returns its id.
std::string record_validation(Repo& repo, const DatasetResult& result);
// The newest stored result for a data version (a sha256, or its first 12+
// hex digits as lineage labels show it) of `dataset`; nullopt when none.
std::optional<StoredValidation> latest_validation(Repo& repo, const std::string& dataset, const std::string& version);
// Recreates the index table from results.log and the store (mlo index rebuild).
void rebuild_contracts_index(Repo& repo);

}  // namespace mlo::contracts
