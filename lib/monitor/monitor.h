// mlo monitor: drift, data quality and model performance of a current batch
// against a reference, with results kept as a time series (index + store).
// Spec: man mlo-monitor(1); design: ARCHITECTURE.md "Monitoring".
#pragma once
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "monitor/drift.h"
#include "monitor/profile.h"
#include "monitor/table.h"

namespace mlo {

class Repo;

// Rebuilds the monitor tables of the index from the results kept in the store
// (for `mlo index rebuild`).
void rebuild_monitor_index(Repo& repo);

namespace monitor {

struct Roles {
  std::vector<std::string> features;       // empty: every column not otherwise assigned
  std::vector<std::string> numerical, categorical, ignored;
  std::string target, prediction, timestamp;
  std::string task;                         // classification | regression | "" (inferred)
};

struct QualityOptions {
  double missing_share_increase = 0.05;  // current missing share above reference share + this: FAIL
  double new_category_share = 0.01;      // share of current values in categories unseen in the reference
  double out_of_range_share = 0.05;      // share of current numbers outside the reference [min, max]
  double duplicate_share = 0.05;         // share of duplicated rows in the current data
};

struct PerformanceOptions {
  double degradation = 0.1;  // relative drop (or rise, for errors) from the reference that fails
};

struct OnDrift {
  std::vector<std::string> run;   // stages for `mlo run`
  std::string register_model;     // `mlo register NAME`
  std::string propose_stage;      // `mlo promote NAME --to STAGE`
  bool empty() const { return run.empty() && register_model.empty(); }
};

struct MonitorSpec {
  std::string name = "adhoc";
  std::vector<std::string> reference, current;  // reference {"auto"}: the model's training data
  std::string model;          // NAME#STAGE / NAME@VERSION for reference auto (lineage)
  std::string training_data;  // which of the training run's deps is the data (path), when several are tabular
  Roles roles;
  DriftOptions drift;
  QualityOptions quality;
  PerformanceOptions performance;
  OnDrift on_drift;
  std::optional<Format> format;
  std::optional<double> since, until;   // current window on the timestamp column
  std::uint64_t exact_limit = 100000;   // distinct values per column counted exactly (see man page)
  std::vector<std::string> segments;    // --segment-by / segments: checks and fairness per value of these columns
  bool use_profile_cache = true;
};

// Reads the `monitors:` key of mlo.yaml (other keys are left to their modules).
// Returns an empty map when the file or key is absent. Throws InputError with file:line.
std::map<std::string, MonitorSpec> load_monitors(const std::filesystem::path& mlo_yaml);

// Parses "1d", "12h", "30m", "2w", "45s" into seconds. Throws UsageError.
double parse_duration(const std::string& text);
// Parses an ISO 8601 time or epoch seconds. Throws UsageError.
double parse_time(const std::string& text);

// `--reference auto`: follows lineage from spec.model (registry version ->
// the run that produced it -> that run's deps) to the training data in the
// cache. Returns the sources and {"model","version","run","dataset","sha256"}.
// InputError (exit 3) when the version has no run, the run is not known here,
// no dep is tabular data (or several are and none is named), or the data is
// not in the local cache.
std::vector<Source> auto_reference(Repo& repo, const MonitorSpec& spec, nlohmann::json& lineage);

// Runs the checks. `repo` may be null (no tracked inputs, no profile cache).
// The result is the documented JSON document ({metrics, tests, summary, ...}).
nlohmann::json run_monitor(const MonitorSpec& spec, Repo* repo);

// Stores a result (store object + index rows); returns its id.
std::string record_result(Repo& repo, nlohmann::json& result);
// The id of the monitor's latest stored result when `result` repeats it (same
// inputs, settings and outcome; only the time it was computed differs), else
// "". Re-rendering a result (--html, --markdown) then adds no history row.
std::string repeated_result(Repo& repo, const nlohmann::json& result);
// Results of one monitor (or all when name is empty), oldest first.
nlohmann::json history(Repo& repo, const std::string& name, int limit);
// Records an action taken on a result (the audit trail of --act).
void record_action(Repo& repo, const std::string& result_id, const std::string& monitor, const nlohmann::json& action);

// Day-by-day drift matrix over the timestamp column of `sources`: entry (i, j)
// is the share of drifted columns between day i (as reference) and day j.
nlohmann::json daily_drift_matrix(const MonitorSpec& spec, Repo* repo);

}  // namespace monitor
}  // namespace mlo
