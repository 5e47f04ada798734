// Internal to lib/pipeline: the runs index's per-experiment tables, so that
// mlo ui's experiments view sorts by a value reading only one page.
//   experiments        (key, first_started, first_id): one row per experiment
//                      with its first run's start and id (newest-first order)
//   experiment_values  (kind 0 params / 1 metrics, name, experiment, cat,
//                      num, txt, first_started, first_id): the value `mlo exp
//                      show` shows, kept as its sort compares it: cat 0 a
//                      number (num), 1 anything else (txt: its JSON text),
//                      NULL a null value (sorted with the missing ones)
// Filled whenever runs are indexed (a run changes only its own experiment,
// and the one it belonged to before).
#pragma once
#include <nlohmann/json.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "index/database.h"
#include "pipeline/experiments.h"

namespace mlo {

// A run's experiment key in SQL (its experiment id, else its own id).
extern const char* const kExperimentKey;

// Index rows (newest first) grouped by experiment, newest experiment first.
std::vector<Experiment> group_runs(const std::vector<nlohmann::json>& rows);

// The experiments with these keys (their runs grouped), newest first.
std::vector<Experiment> experiments_of(Database& db, const std::vector<std::string>& keys);

// UsageError: no experiment has `key` (names the closest known one).
[[noreturn]] void unknown_sort_key(const std::string& key, const std::set<std::string>& metrics,
                                   const std::set<std::string>& params);

// Rewrites the rows of these experiments from their runs.
void index_experiments(Database& db, const std::set<std::string>& keys);

// A run just written to the runs table, as its experiment's rows need it.
struct IndexedRun {
  std::string id;
  double started = 0;
  nlohmann::json params, metrics;  // as indexed (params with its sweep point's)
};
// The experiments a batch of written runs touched (one transaction).
struct ExperimentChanges {
  std::map<std::string, std::vector<IndexedRun>> runs;  // experiment key -> its runs written now
  std::set<std::string> left;  // the experiments rewritten runs belonged to before
};
// Writes their rows and clears `changes`: an experiment first seen in the
// batch from its runs in memory (an import reads nothing back), the others
// rewritten from all their runs in the index.
void index_experiments(Database& db, ExperimentChanges& changes);
// Every experiment, once, after the upgrade that added the tables.
void fill_pending_experiments(Database& db);

}  // namespace mlo
