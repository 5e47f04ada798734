// The run lookup until the pipeline module provides run records: it knows no
// runs, so `mlo register --run` reports the id as unknown. The pipeline module
// replaces this file's make_run_lookup with one that reads its run records.
#include "registry/runs.h"

namespace mlo::registry {

namespace {
class NoRuns : public RunLookup {
 public:
  std::optional<RunInfo> find(const std::string&) override { return std::nullopt; }
  std::optional<RunInfo> latest_for_output(const std::string&) override { return std::nullopt; }
  std::vector<RunInfo> runs_using(const std::string&) override { return {}; }
};
}  // namespace

std::unique_ptr<RunLookup> make_run_lookup(Repo&) { return std::make_unique<NoRuns>(); }

}  // namespace mlo::registry
