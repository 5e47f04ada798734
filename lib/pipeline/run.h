// `mlo run`: brings stages up to date (run, restore from the run cache, or
// skip), sweeps over param grids, and keeps mlo.lock. `mlo dag`.
#pragma once
#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/lock_file.h"
#include "pipeline/pipeline.h"

namespace mlo {

class Repo;

struct RunOptions {
  std::vector<std::string> targets;  // empty: all stages
  bool force = false;                // run the targets even when up to date
  bool dry_run = false;              // say what would happen and why
  int jobs = 0;                      // parallel stages/points; 0: 1, or the runner's capacity for sweeps
  std::vector<std::string> sets;     // KEY=VALUE param overrides
  std::vector<std::string> grid;     // KEY=V1,V2 | KEY=uniform(a,b) | loguniform(a,b) | randint(a,b) | choice(a,b)
  int random = 0;                    // sample this many points instead of the full grid
  unsigned seed = 0;                 // for --random (0: from the clock)
  bool stream_output = true;         // stage output to the terminal (stderr)
  bool strict = false;               // refuse deps that are tracked data with uncommitted changes
  std::function<void(std::size_t)> on_planned;  // how many stage runs a schedule holds (for a status line)
};

// One stage in one context (the work tree, or one sweep point).
struct StageOutcome {
  std::string stage;
  // "up-to-date", "restored" (from the run cache), "ran", "failed",
  // "skipped" (an upstream stage failed), "would-run", "would-restore", "interrupted"
  std::string action;
  std::string reason;                 // why it ran / would run
  std::string run_id;                 // for ran/failed/restored/up-to-date
  std::string status;                 // the run's status when it ran
  std::string message;                // failure detail
  bool contract_failed = false;       // "failed" because a dep failed its data contract (exit 1)
  nlohmann::json point = nlohmann::json::object();  // sweep point (display key -> value)
  nlohmann::json metrics = nlohmann::json::object();
  nlohmann::json to_json() const;
};

struct RunReport {
  std::string sweep;                  // sweep id, when sweeping
  bool lock_changed = false;          // mlo.lock was rewritten with different bytes
  std::vector<StageOutcome> stages;
  bool ok() const;
  nlohmann::json to_json() const;
};

// `on_event(outcome, started)` is called when a stage starts (started=true)
// and when it is done. Throws InterruptedError after Ctrl-C (runs recorded
// as interrupted), RunnerError when a stage failed (after finishing what it can).
RunReport run_pipeline(Repo& repo, const RunOptions& options,
                       const std::function<void(const StageOutcome&, bool started)>& on_event = {});


// `mlo dag`: text (one line per stage: "name <- upstream, ...") or Graphviz dot.
std::string dag_text(const Pipeline& p, const std::vector<std::string>& targets);
std::string dag_dot(const Pipeline& p, const std::vector<std::string>& targets);
nlohmann::json dag_json(const Pipeline& p, const std::vector<std::string>& targets);

}  // namespace mlo
