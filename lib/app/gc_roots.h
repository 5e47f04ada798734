// The roots `mlo gc` and `mlo fsck` keep besides pointer files. lib/app is the
// top layer of lib/ and may call every domain module: each module whose
// objects live in the cache (pipeline outputs recorded in mlo.lock, run
// records, registry artifacts, ...) adds one line to the list in
// gc_roots.cpp, a function that adds what it needs to a References.
#pragma once
#include <string>
#include <vector>

#include "data/references.h"

namespace mlo::app {

std::vector<ReferenceSource> reference_sources();

// What open deployments serve (and may roll back to): .mlo/deploy/ENV/state.json.
void add_deployment_references(Repo& repo, const std::string& rev, References& refs);

}  // namespace mlo::app
