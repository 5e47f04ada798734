// How the registry finds the runs that produced models. Runs are recorded by
// the pipeline module (lib/pipeline); the registry only needs to look one up,
// so it depends on this small interface, and the pipeline plugs its
// implementation in (make_run_lookup).
#pragma once
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlo {
class Repo;
}

namespace mlo::registry {

struct RunArtifact {
  std::string path;  // repo-relative
  std::string sha256;
  std::string type = "file";  // file or dir (sha256 of the manifest)
  std::uint64_t size = 0;
};

struct RunInfo {
  std::string id;
  std::string stage;               // the pipeline stage that ran
  std::string git_commit;          // the commit the run started from
  std::string author_name, author_email;
  double started_at = 0;           // unix seconds
  nlohmann::json params = nlohmann::json::object();
  nlohmann::json metrics = nlohmann::json::object();
  std::vector<RunArtifact> deps;   // data and code it read
  std::vector<RunArtifact> outs;   // what it wrote
  nlohmann::json environment;      // what it ran on (lib/environment); null for older records
};

struct LockedOutput {
  std::string stage, run_id;
  RunArtifact out;
};

class RunLookup {
 public:
  virtual ~RunLookup() = default;
  virtual std::optional<RunInfo> find(const std::string& run_id) = 0;
  // The latest run of a pipeline stage that wrote `out` (a stage output path
  // or "STAGE" / "STAGE:OUT"); nullopt when none.
  virtual std::optional<RunInfo> latest_for_output(const std::string& stage_out) = 0;
  // Runs that read (deps) or wrote (outs) an object with this hash.
  virtual std::vector<RunInfo> runs_using(const std::string& sha256) = 0;
  // The outputs mlo.lock records, with the stage and run that wrote each
  // (the pipeline state committed with the code); empty without a lock.
  virtual std::vector<LockedOutput> locked_outputs() = 0;
  // The newest succeeded run (of `stage` when non-empty) that wrote an
  // object with this hash; nullopt when none did.
  virtual std::optional<RunInfo> newest_writer(const std::string& sha256, const std::string& stage) = 0;
};

// The run lookup of this build: the pipeline's run records (runs_pipeline.cpp).
std::unique_ptr<RunLookup> make_run_lookup(Repo& repo);

}  // namespace mlo::registry
