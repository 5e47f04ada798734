// Fairness gates: `fairness: ["demographic_parity_ratio(gender) >= 0.8"]` in
// a stage's gates, evaluated on the evaluation data a model version names.
// The disparity metrics are computed by the monitor module (segments), which
// plugs its evaluator in here: the registry does not depend on monitor.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "registry/runs.h"

namespace mlo {
class Repo;
}

namespace mlo::registry {

// The disparity metrics a gate can name (computed per segment column).
const std::vector<std::string>& fairness_metric_names();

struct FairnessGate {
  std::string metric, column, op;
  double value = 0;
  std::string text;  // as written
};
// "METRIC(COLUMN) OP NUMBER". Throws InputError naming `where`.
FairnessGate parse_fairness_gate(const std::string& text, const std::string& where);

// Which columns of the evaluation data hold the label and the prediction, and
// (optionally) which of the version's files is the evaluation data.
struct FairnessColumns {
  std::string target = "target", prediction = "prediction", data;
};

// Computes {COLUMN: {"disparities": {metric: value|null}, "segments": [...]}}
// for each column over one tabular artifact. Throws InputError when the data
// lacks a column or is not in the local cache.
using FairnessEvaluator = nlohmann::json (*)(Repo& repo, const RunArtifact& data, const FairnessColumns& columns,
                                             const std::vector<std::string>& segment_columns);
void set_fairness_evaluator(FairnessEvaluator f);
FairnessEvaluator fairness_evaluator();

}  // namespace mlo::registry
