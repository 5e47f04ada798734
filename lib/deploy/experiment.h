// A/B experiments on a deployment (`mlo deploy REF --env E --strategy ab
// --split 50 [--sticky-key K]`): arm A is the primary, arm B the candidate
// (logged with role "canary"). The plan (`mlo deploy experiment plan`) fixes
// the metric, the minimum detectable effect and so the sample size per arm
// before any outcome is seen; `mlo deploy experiment status` reads outcomes
// (a field of labels that arrive later, joined by request id, or a field the
// router logged) and gives a verdict only once both arms have the planned
// sample: a two-proportion z-test for 0/1 outcomes, Welch's t-test otherwise,
// with the confidence interval of B - A. The plan is tracked:
// deploy/ENV/experiment.json. Man page: mlo-deploy(1).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mlo {
class Repo;
}

namespace mlo::deploy {

struct PlanInput {
  std::string env, metric;
  std::string kind = "proportion";  // proportion (0/1 outcomes) | mean
  double baseline = 0;              // arm A's expected rate (proportion)
  double sd = 0;                    // outcome standard deviation (mean)
  double mde = 0;                   // smallest absolute difference worth detecting
  double alpha = 0.05, power = 0.8;
};

// Sample size per arm for a two-sided test (normal approximation):
// proportions: (z_a*sqrt(2*pbar*(1-pbar)) + z_b*sqrt(p1(1-p1)+p2(1-p2)))^2 / mde^2;
// means: 2*(z_a+z_b)^2*sd^2 / mde^2. UsageError for impossible inputs.
long sample_size_per_arm(const PlanInput& in);
// The plan document (inputs, n_per_arm, created_at); saved when env is set.
nlohmann::json plan_experiment(Repo* repo, const PlanInput& in);
std::optional<nlohmann::json> load_plan(Repo& repo, const std::string& env);

struct TestResult {
  std::string method;  // two-proportion z-test | Welch t-test
  double statistic = 0, p_value = 1, diff = 0, ci_low = 0, ci_high = 0, df = 0;
};
TestResult two_proportion_z(double n_a, double x_a, double n_b, double x_b, double alpha);
TestResult welch_t(double n_a, double mean_a, double var_a, double n_b, double mean_b, double var_b, double alpha);
// Inverse of the standard normal's upper tail: z with P(Z > z) = p.
double normal_isf(double p);

struct StatusInput {
  std::string env, metric;
  std::vector<std::string> from;    // label files; empty: the logged field `metric`
  std::string key = "request_id";
  double alpha = -1;                // <0: the plan's
};
// The arms' counts and means, and the verdict or why there is none yet
// ("ready": false when below the plan's sample size).
nlohmann::json experiment_status(Repo& repo, const StatusInput& in);

// Multi-armed bandit (`mlo deploy REF --env E --strategy bandit`, then
// `mlo deploy experiment bandit E --metric M --from labels`): batched
// Thompson sampling on a 0/1 reward. Each arm's reward rate has the
// posterior Beta(1 + successes, 1 + failures); arm B's traffic share becomes
// the posterior probability that B's rate is the higher one (estimated from
// `draws` paired samples), kept within [min_share, 100 - min_share] so
// neither arm stops learning. Recorded as a traffic event.
struct BanditInput {
  std::string env, metric;
  std::vector<std::string> from;  // label files; empty: the logged field `metric`
  std::string key = "request_id";
  std::uint64_t seed = 0;         // 0: a random seed (reported)
  long draws = 20000;
  int min_share = 5;              // percent
  bool apply = true;              // false: report only
};
// P(B's rate > A's) under independent Beta posteriors, by `draws` samples.
double prob_b_better(double a_success, double a_fail, double b_success, double b_fail, long draws, std::uint64_t seed);
nlohmann::json bandit_update(Repo& repo, const BanditInput& in);

}  // namespace mlo::deploy
