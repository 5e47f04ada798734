// `mlo exp show` and `mlo exp apply` (like `dvc exp show` / `dvc exp
// apply`): the runs of one `mlo run` invocation, or of one sweep point, are
// one experiment, shown with the params and metrics of all its stages side by
// side. Built on the runs index (runs.h, column `experiment`); a run indexed
// before that column existed is an experiment of its own until
// `mlo index rebuild`.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace mlo {

class Repo;

struct Experiment {
  std::string id;     // the invocation's id, or SWEEP-N for point N of a sweep
  std::string sweep;  // the sweep, for a sweep point
  double started_at = 0;
  std::string git_commit;
  std::string status;  // "succeeded" when every run did, else the first other status
  std::vector<std::string> stages, runs;  // in the order they started
  nlohmann::json params = nlohmann::json::object();   // display key -> value, all stages
  nlohmann::json metrics = nlohmann::json::object();  // name -> value, all stages
  nlohmann::json to_json() const;
};

struct ExperimentQuery {
  // A metric or param name ("acc", "train.C"), or "metrics.X" / "params.X"
  // to choose; empty: newest first. Rows lacking the value come last.
  std::string sort;
  bool ascending = false;  // with sort: smallest first
  long limit = 0;          // 0: all
};

// UsageError for a sort key no experiment has (with the closest one).
std::vector<Experiment> list_experiments(Repo& repo, const ExperimentQuery& query);
// One page of mlo ui's experiments table, in list_experiments' order
// (order.sort and order.ascending; no sort: newest first), order.limit rows,
// read from the index's per-experiment tables: only the page's runs are read.
// Keyset pages: a cursor is a row's place in the order (its value and its
// first run), and a page seeks to it however deep it is. The page holds the
// rows after `after`, or the rows just before `before`, or, with neither,
// the rows from `offset` (old page=N links).
struct ExperimentPageQuery {
  ExperimentQuery order;
  std::string after, before;
  long offset = 0;
};
// `first`/`last`: the cursors of its first and last row; `more`: there are
// rows past the page in the direction read. UsageError for an unknown sort
// key or a malformed cursor.
struct ExperimentPage {
  std::vector<Experiment> rows;
  std::string first, last;
  bool more = false;
};
ExperimentPage experiment_page(Repo& repo, const ExperimentPageQuery& query);

struct AppliedParam {
  std::string file, key;  // "params.yaml", "train.C"
  nlohmann::json old_value, value;  // old_value null when the key was not there
};

struct AppliedExperiment {
  std::string id;  // the full id
  std::vector<AppliedParam> changed;
};

// Writes the experiment's params (by id or unique prefix) into their params
// files, keeping every other key, the keys' order and comments. Returns the
// values that changed. UsageError (exit 2) for an unknown or ambiguous id.
AppliedExperiment apply_experiment(Repo& repo, const std::string& id_or_prefix);

// Sets `key` (dotted: "train.C") to `value` in a YAML params text: the value
// is replaced in place on its line when the key is written in block style,
// else the document is re-emitted (key order kept, comments lost). `where`
// names the file in errors.
std::string set_yaml_param(const std::string& text, const std::string& key, const nlohmann::json& value,
                           const std::string& where);

}  // namespace mlo
