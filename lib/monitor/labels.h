// Late labels: ground truth that arrives days after the predictions it judges.
// The router gives every request an id (X-Request-Id, honoured or generated,
// logged as "request_id" in .mlo/deploy/ENV/requests.jsonl); `mlo monitor
// labels ENV --from FILE --key request_id --target y` joins labels to the
// served predictions by that id and computes performance per time window of
// the requests, so decay shows window by window. Each join is kept as a git
// ref to its JSON, refs/mlo/labels/ENV/<recorded ns>-<id> (the history), and
// is what performance triggers read; --push/--fetch share the joins through
// the registry's git remote, so every clone computes on the same windows
// (README.md: why refs). Joins recorded before that, in the clone-local
// .mlo/monitor/labels/ENV.jsonl, are still read (and pushed by --push).
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mlo {
class Repo;
}

namespace mlo::monitor {

struct LabelsOptions {
  std::string env;
  std::vector<std::string> from;   // label files (csv, tsv, jsonl) or tracked paths
  std::string key = "request_id";  // the label file's column holding the request id
  std::string target = "y";        // the label file's column holding the truth
  std::string prediction = "prediction";  // the request log's column with the served prediction
  double window_s = 86400;         // window width over the request time
  std::string task;                // classification | regression | "" (inferred from the labels)
  std::optional<double> threshold; // classification of scores: prediction >= threshold is class 1
};

// One answered request of the environment's log (shadow copies and failed
// requests left out); a request of n rows gives n entries, ids "ID:0".."ID:n-1".
struct ServedRow {
  std::string id, version, role;
  double ts = 0;
  std::string prediction;
  std::map<std::string, std::string> fields;  // the other scalar columns asked for
};
std::vector<ServedRow> read_served(Repo& repo, const std::string& env, const std::vector<std::string>& fields = {});
// key -> value of `column` in label files (csv, tsv, jsonl; tracked paths too).
// InputError naming the file when a column is missing.
std::map<std::string, std::string> read_label_column(Repo& repo, const std::vector<std::string>& from,
                                                     const std::string& key, const std::string& column);

// Joins and computes; the result ({env, task, metric, windows: [{start, end,
// requests, labelled, metric values, by_version}], overall, unmatched_labels}).
// InputError for a missing log, key or target column.
nlohmann::json join_labels(Repo& repo, const LabelsOptions& options);
// Where the joins live: refs/mlo/labels/ENV/...
inline constexpr const char* kLabelsRefs = "refs/mlo/labels/";
// Adds a result to the environment's labels history (a new ref).
void record_labels(Repo& repo, const nlohmann::json& result);
// The environment's labels results, oldest first (empty when none): the
// refs and the legacy local file, each join once (by id).
std::vector<nlohmann::json> labels_history(Repo& repo, const std::string& env);
// The joins other clones pushed for `env`, from the registry's git remote.
// RemoteError when the remote cannot be reached.
void fetch_labels(Repo& repo, const std::string& env);
// Pushes the environment's joins (legacy local ones made refs first) to the
// registry's git remote; returns the remote's name. RemoteError on failure.
std::string push_labels(Repo& repo, const std::string& env);

// Whether a larger value of the metric is better (accuracy) or worse (errors).
bool higher_is_better(const std::string& metric);

}  // namespace mlo::monitor
