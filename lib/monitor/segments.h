// Segments and fairness: the monitor's checks per value of a column
// (`--segment-by gender`, `segments:`), and disparity metrics between those
// segments (demographic parity, equal opportunity, per-segment accuracy, F1,
// RMSE). Also the registry's fairness gate evaluator (registry/fairness.h).
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "monitor/table.h"

namespace mlo::monitor {

struct MonitorSpec;

// At most this many segments a column (a column with more is refused).
constexpr std::size_t kMaxSegments = 100;

// Disparity metrics of one column over labelled, predicted rows:
// {"column", "task", "positive_label", "rows", "segments": [{"value", "rows",
// "selection_rate", "true_positive_rate", "accuracy", "f1" | "rmse", "mae"}],
// "disparities": {name: value|null}}. `task` is "" (inferred as the monitor
// does) or classification/regression. Throws InputError when a column is missing.
// Rows outside [since, until) on `timestamp` (when given) are left out.
nlohmann::json fairness(const std::vector<Source>& sources, const ReadOptions& read, const std::string& segment_column,
                        const std::string& target, const std::string& prediction, const std::string& task,
                        const std::string& timestamp = "", std::optional<double> since = std::nullopt,
                        std::optional<double> until = std::nullopt);

// The monitor's checks per segment of `column`: reference and current are
// split by the column's value and each pair is checked as its own monitor.
// [{"value", "reference_rows", "current_rows", "drift", "share_of_drifted_columns",
//   "drifted_columns", "quality", "failed_checks", "performance"} | {"value", ..., "error"}]
nlohmann::json segment_checks(const MonitorSpec& spec, const std::vector<Source>& reference,
                              const std::vector<Source>& current, const std::string& column);

}  // namespace mlo::monitor
