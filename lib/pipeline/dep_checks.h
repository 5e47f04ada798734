// Data contracts before a stage: `mlo run` checks a stage's deps against
// their contracts (checks: in mlo.yaml) before it runs or is restored from
// the run cache. The checker lives in lib/contracts, above pipeline, and
// installs itself here (the way registry/fairness.h is filled by monitor).
#pragma once
#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace mlo {

class Repo;

// For a repo-relative dep: nullopt when it has no contract or passes it;
// otherwise {"dataset", "result" (stored result id), "failed_checks",
// "summary" (one line naming the failed checks)}. Throws InputError for a
// contract that is wrong.
using DepChecker = std::optional<nlohmann::json> (*)(Repo& repo, const std::string& dep);
void set_dep_checker(DepChecker checker);
DepChecker dep_checker();  // null when no checker is linked in

}  // namespace mlo
