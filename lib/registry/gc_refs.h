// The registry's hooks into `mlo gc`/`fsck` (roots) and `mlo index rebuild`.
#pragma once
#include <string>

#include "data/references.h"

namespace mlo {
class Database;
class Repo;
}  // namespace mlo

namespace mlo::registry {

// Every registered version's artifact (and a folder's files) is needed.
void add_registry_references(Repo& repo, const std::string& rev, References& refs);
// The registry tables of a new index, filled from the tags.
void rebuild_registry_step(Repo& repo, Database& db);

}  // namespace mlo::registry
