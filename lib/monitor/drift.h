// Drift methods with Evidently's names, default thresholds and verdict
// directions, and Evidently's default choice of method per column.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "monitor/profile.h"

namespace mlo::monitor {

struct ColumnDrift;

// Computes a method's score (and statistic, chart) into `out`; the caller sets
// the verdict from the table entry. Throws InputError for data the method cannot take.
using DriftFn = void (*)(const ColumnProfile& ref, const ColumnProfile& cur, ColumnDrift& out);

// One registered method, the way Evidently registers its stattests.
struct MethodInfo {
  std::string name;
  bool p_value;               // true: score is a p-value (drift when small); false: a distance
  bool numerical, categorical;  // column types it accepts
  double default_threshold;
  // Evidently's comparison: "<", "<=" (p-values) or ">=", ">" (distances)
  std::string drift_when;
  DriftFn compute;
};

// The method table: adding a method is one entry here (drift.cpp) plus its
// row in man mlo-monitor and the schema's enum (a unit test checks both).
const std::vector<MethodInfo>& drift_methods();
// Looks a method up by name (accepts Evidently's aliases "ed" and "TVD"). Throws InputError.
const MethodInfo& find_method(const std::string& name);

struct MethodChoice {
  std::optional<std::string> method;
  std::optional<double> threshold;
};

struct DriftOptions {
  MethodChoice all;                          // global override
  std::map<ColumnType, MethodChoice> per_type;
  std::map<std::string, MethodChoice> per_column;
  double drift_share = 0.5;
};

struct ColumnDrift {
  std::string column;
  ColumnType type = ColumnType::numerical;
  std::string method;
  double threshold = 0;
  double score = 0;           // p-value or distance (Evidently's drift_score)
  std::optional<double> statistic;
  bool drifted = false;
  bool approximate = false;   // computed on a sketch (see man mlo-monitor)
  std::string error;          // set when the column could not be tested (empty data ...)
  std::uint64_t reference_n = 0, current_n = 0;
  nlohmann::json chart;       // {"kind":"hist","edges":[..],"reference":[shares],"current":[shares]} or categories
};

// The part a column plays, for Evidently's type rules.
enum class ColumnRole { feature, target, prediction };
// Evidently's _get_column_type (NUMBER_UNIQUE_AS_CATEGORICAL = 5) for a column
// read as numbers: an integer column (every current value an integer literal,
// none missing: pandas' int dtype) with at most 5 distinct reference values
// is categorical; so is a target with at most 5 unless the task is regression,
// and a prediction by Evidently's prediction rules. `task` is the declared
// one ("" when not given). `cur` may be null (column absent).
ColumnType evidently_column_type(const ColumnProfile& ref, const ColumnProfile* cur, ColumnRole role,
                                 const std::string& task);

// Evidently's _get_default_stattest.
std::string default_method(const ColumnProfile& ref, const ColumnProfile& cur);
// Tests one column (types must agree; the reference's type wins).
ColumnDrift column_drift(const ColumnProfile& ref, const ColumnProfile& cur, const DriftOptions& options);

}  // namespace mlo::monitor
