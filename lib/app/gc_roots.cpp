#include "app/gc_roots.h"

namespace mlo::app {

std::vector<ReferenceSource> reference_sources() {
  return {
      // Pointer files are read by collect_references itself.
      // Other modules add one line each, e.g.:
      //   {"pipeline", pipeline::add_lock_references},
  };
}

}  // namespace mlo::app
