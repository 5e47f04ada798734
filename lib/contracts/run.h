// `mlo data validate` and `mlo data schema infer` as library calls: which
// contracts the named paths select, validating each dataset once, keeping
// the results; and a starting contract written from the data.
#pragma once
#include <string>
#include <vector>

#include "contracts/validate.h"

namespace mlo::contracts {

struct RunOptions {
  ValidateOptions validate;
  bool skip_unchecked = false;  // paths without checks are skipped (the pre-commit hook) instead of an error
  bool record = true;           // store the results (lineage, the registry's data_valid gate)
};

struct RunResult {
  std::vector<DatasetResult> datasets;
  std::vector<std::string> skipped;  // named paths that have no checks
  bool passed() const;
};

// Validates the datasets that `paths` name (files, folders, PATH.mlo pointer
// files; a path inside a checked folder selects that folder), or every
// dataset under `checks:` when `paths` is empty. Throws InputError for a path
// without checks (unless skip_unchecked) and for bad contracts.
RunResult validate_paths(Repo& repo, const std::vector<std::string>& paths, const RunOptions& options);

// Makes `mlo run` check stage deps against their contracts (pipeline/dep_checks.h)
// and gives the registry its data_valid checker (registry/data_gate.h).
// Done at start-up when this file is linked; tests call it to be sure.
void install_dep_checker();

// A starting contract for the data at `path` (repo-relative `dataset`):
// the `checks:` YAML for mlo.yaml with types, ranges, categories, missing
// shares and unique columns as the data has them, for a person to edit.
std::string infer_contract(Repo* repo, const std::string& dataset, const std::vector<monitor::Source>& sources);

}  // namespace mlo::contracts
