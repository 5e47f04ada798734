#include "registry/fairness.h"

#include <algorithm>
#include <regex>

#include "core/error.h"

namespace mlo::registry {

namespace {
FairnessEvaluator g_evaluator = nullptr;
}

const std::vector<std::string>& fairness_metric_names() {
  static const std::vector<std::string> names = {
      "demographic_parity_ratio", "demographic_parity_difference", "equal_opportunity_ratio",
      "equal_opportunity_difference", "accuracy_difference", "f1_difference", "min_accuracy", "min_f1",
      "rmse_ratio", "rmse_difference", "max_rmse"};
  return names;
}

FairnessGate parse_fairness_gate(const std::string& text, const std::string& where) {
  static const std::regex re(R"(^\s*([a-z_0-9]+)\s*\(\s*([^()]+?)\s*\)\s*(>=|<=|==|!=|>|<)\s*([-+0-9.eE]+)\s*$)");
  std::smatch m;
  std::string names;
  for (const auto& n : fairness_metric_names()) names += (names.empty() ? "" : ", ") + n;
  if (!std::regex_match(text, m, re))
    throw InputError(where + ": bad fairness gate '" + text + "'",
                     "write METRIC(COLUMN) OP NUMBER, e.g. \"demographic_parity_ratio(gender) >= 0.8\"");
  FairnessGate g{m[1], m[2], m[3], 0, text};
  const auto& known = fairness_metric_names();
  if (std::find(known.begin(), known.end(), g.metric) == known.end())
    throw InputError(where + ": unknown fairness metric '" + g.metric + "' in '" + text + "'", "known: " + names);
  try {
    std::size_t used = 0;
    g.value = std::stod(m[4].str(), &used);
    if (used != m[4].str().size()) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    throw InputError(where + ": bad number in fairness gate '" + text + "'", "e.g. >= 0.8");
  }
  return g;
}

void set_fairness_evaluator(FairnessEvaluator f) { g_evaluator = f; }
FairnessEvaluator fairness_evaluator() { return g_evaluator; }

}  // namespace mlo::registry
