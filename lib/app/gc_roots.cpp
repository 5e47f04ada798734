#include "app/gc_roots.h"

#include "pipeline/runs.h"
#include "registry/gc_refs.h"

namespace mlo::app {

std::vector<ReferenceSource> reference_sources() {
  return {
      // Pointer files are read by collect_references itself.
      // Other modules add one line each, e.g.:
      //   {"pipeline", pipeline::add_lock_references},
      {"registry", registry::add_registry_references},
      {"pipeline", add_pipeline_references},
  };
}

}  // namespace mlo::app
