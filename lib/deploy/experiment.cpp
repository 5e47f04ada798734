#include "deploy/experiment.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "core/error.h"
#include "core/fs.h"
#include "deploy/deploy.h"
#include "monitor/labels.h"
#include "monitor/stats.h"
#include "monitor/table.h"
#include "repo/repo.h"

namespace mlo::deploy {
namespace {

using json = nlohmann::json;

fs::path plan_path(Repo& repo, const std::string& env) {
  check_env_name(env);
  return repo.root() / "deploy" / env / "experiment.json";
}

// t with P(T > t) = p for Student's t with df degrees of freedom (bisection).
double student_t_isf(double p, double df) {
  double lo = 0, hi = 1e3;
  for (int i = 0; i < 200; ++i) {
    double mid = (lo + hi) / 2;
    (monitor::student_t_sf(mid, df) > p ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

struct Arm {
  std::map<std::string, long> versions;
  double n = 0, sum = 0, sumsq = 0;
  void add(double v) { n += 1; sum += v; sumsq += v * v; }
  double mean() const { return n ? sum / n : 0; }
  double var() const { return n > 1 ? (sumsq - sum * sum / n) / (n - 1) : 0; }  // ddof 1
  std::string version() const {
    std::string best;
    long most = -1;
    for (auto& [v, c] : versions)
      if (c > most) { best = v; most = c; }
    return best;
  }
  json to_json() const { return {{"version", version()}, {"n", static_cast<long>(n)}, {"mean", mean()}}; }
};

void check_plan_input(const PlanInput& in) {
  if (!(in.alpha > 0 && in.alpha < 1) || !(in.power > 0 && in.power < 1))
    throw UsageError("--alpha and --power must be in (0, 1)", "the usual values are --alpha 0.05 --power 0.8");
  if (!(in.mde > 0)) throw UsageError("--mde must be a positive difference", "e.g. --mde 0.02 (two points of conversion)");
  if (in.kind == "proportion" && (!(in.baseline > 0 && in.baseline < 1) || in.baseline + in.mde >= 1))
    throw UsageError("--baseline must be a rate in (0, 1) with baseline + mde below 1", "e.g. --baseline 0.10 --mde 0.02");
  if (in.kind == "mean" && !(in.sd > 0)) throw UsageError("a mean metric needs --sd (the outcome's standard deviation)");
  if (in.kind != "proportion" && in.kind != "mean") throw UsageError("--kind must be proportion or mean");
}

// Splits served rows into arms with their outcome values.
void fill_arms(Repo& repo, const StatusInput& in, Arm& a, Arm& b, long& skipped) {
  auto served = monitor::read_served(repo, in.env, {in.metric});
  std::map<std::string, std::string> labels;
  if (!in.from.empty()) labels = monitor::read_label_column(repo, in.from, in.key, in.metric);
  for (const auto& r : served) {
    std::string text;
    if (in.from.empty()) {
      auto f = r.fields.find(in.metric);
      if (f != r.fields.end()) text = f->second;
    } else if (auto l = labels.find(r.id); l != labels.end()) {
      text = l->second;
    }
    double v;
    if (text.empty() || !monitor::parse_number(text, v)) {
      ++skipped;
      continue;
    }
    Arm& arm = r.role == "canary" ? b : a;
    arm.add(v);
    ++arm.versions[r.version];
  }
}

// The plan is fixed before any outcome is seen, so it is part of the
// deployment's record (mlo deploy history, mlo audit), with the arm B it was
// made for when the environment serves one.
// The environment's applied state (state.json; null when never deployed).
json applied_state(Repo& repo, const std::string& env) {
  auto text = read_file_if_exists(env_dir(repo, env) / "state.json");
  json state = json::parse(text.value_or("null"), nullptr, false);
  return state.is_object() ? state : json();
}

void record_plan_event(Repo& repo, const json& plan) {
  DeployEvent e;
  e.env = plan["env"];
  e.action = "experiment-plan";
  json state = applied_state(repo, e.env);
  if (state.is_object() && state.value("candidate", json()).is_object()) {
    e.model = state["candidate"].value("model", "");
    e.version = state["candidate"].value("version", "");
  }
  e.detail = plan;
  record_deploy_event(repo, e);
}

}  // namespace

double normal_isf(double p) {
  double lo = -40, hi = 40;
  for (int i = 0; i < 200; ++i) {
    double mid = (lo + hi) / 2;
    (monitor::normal_sf(mid) > p ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

long sample_size_per_arm(const PlanInput& in) {
  check_plan_input(in);
  double za = normal_isf(in.alpha / 2), zb = normal_isf(1 - in.power);
  double n;
  if (in.kind == "proportion") {
    double p1 = in.baseline, p2 = in.baseline + in.mde, pbar = (p1 + p2) / 2;
    double t = za * std::sqrt(2 * pbar * (1 - pbar)) + zb * std::sqrt(p1 * (1 - p1) + p2 * (1 - p2));
    n = t * t / (in.mde * in.mde);
  } else {
    n = 2 * (za + zb) * (za + zb) * in.sd * in.sd / (in.mde * in.mde);
  }
  return static_cast<long>(std::ceil(n - 1e-9));
}

json plan_experiment(Repo* repo, const PlanInput& in) {
  long n = sample_size_per_arm(in);
  json plan = {{"env", in.env}, {"metric", in.metric}, {"kind", in.kind}, {"mde", in.mde}, {"alpha", in.alpha},
               {"power", in.power}, {"n_per_arm", n}, {"created_at", utc_now_iso()}};
  if (in.kind == "proportion") plan["baseline"] = in.baseline;
  else plan["sd"] = in.sd;
  if (repo && !in.env.empty()) {
    fs::path file = plan_path(*repo, in.env);
    fs::create_directories(file.parent_path());
    write_file_atomic(file, plan.dump(2) + "\n");
    plan["file"] = fs::relative(file, repo->root()).string();
    record_plan_event(*repo, plan);
  }
  return plan;
}

std::optional<json> load_plan(Repo& repo, const std::string& env) {
  fs::path file = plan_path(repo, env);
  auto text = read_file_if_exists(file);
  if (!text) return std::nullopt;
  json j = json::parse(*text, nullptr, false);
  bool ok = j.is_object() && j.contains("n_per_arm") && j["n_per_arm"].is_number_integer() && j["n_per_arm"] > 0 &&
            j.contains("metric") && j["metric"].is_string() && j.value("kind", json("proportion")).is_string() &&
            j.value("alpha", json(0.05)).is_number();
  if (!ok)
    throw InputError(file.string() + ": not an experiment plan", "write it again with 'mlo deploy experiment plan'");
  return j;
}

TestResult two_proportion_z(double na, double xa, double nb, double xb, double alpha) {
  TestResult r;
  r.method = "two-proportion z-test";
  double pa = xa / na, pb = xb / nb, p = (xa + xb) / (na + nb);
  double se0 = std::sqrt(p * (1 - p) * (1 / na + 1 / nb));
  r.diff = pb - pa;
  r.statistic = se0 > 0 ? r.diff / se0 : 0;
  r.p_value = se0 > 0 ? 2 * monitor::normal_sf(std::abs(r.statistic)) : 1;
  double se = std::sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb), z = normal_isf(alpha / 2);
  r.ci_low = r.diff - z * se;
  r.ci_high = r.diff + z * se;
  return r;
}

TestResult welch_t(double na, double ma, double va, double nb, double mb, double vb, double alpha) {
  TestResult r;
  r.method = "Welch t-test";
  double qa = va / na, qb = vb / nb, se = std::sqrt(qa + qb);
  r.diff = mb - ma;
  r.df = se > 0 ? (qa + qb) * (qa + qb) / (qa * qa / (na - 1) + qb * qb / (nb - 1)) : na + nb - 2;
  r.statistic = se > 0 ? r.diff / se : 0;
  r.p_value = se > 0 ? 2 * monitor::student_t_sf(std::abs(r.statistic), r.df) : 1;
  double t = student_t_isf(alpha / 2, r.df);
  r.ci_low = r.diff - t * se;
  r.ci_high = r.diff + t * se;
  return r;
}

json experiment_status(Repo& repo, const StatusInput& in) {
  auto plan = load_plan(repo, in.env);
  if (!plan)
    throw InputError("no experiment plan for '" + in.env + "' (deploy/" + in.env + "/experiment.json)",
                     "declare it before reading outcomes: mlo deploy experiment plan --env " + in.env +
                         " --metric NAME --baseline RATE --mde DIFF");
  if ((*plan)["metric"] != in.metric)
    throw UsageError("the plan for '" + in.env + "' is on metric '" + (*plan)["metric"].get<std::string>() + "', not '" +
                         in.metric + "'", "an experiment is judged on the metric it planned for");
  Arm a, b;
  long skipped = 0;
  fill_arms(repo, in, a, b, skipped);
  long need = (*plan)["n_per_arm"];
  double alpha = in.alpha > 0 ? in.alpha : plan->value("alpha", 0.05);
  json out = {{"env", in.env}, {"metric", in.metric}, {"plan", *plan}, {"a", a.to_json()}, {"b", b.to_json()},
              {"without_outcome", skipped}, {"alpha", alpha}};
  if (a.n < need || b.n < need) {
    out["ready"] = false;
    out["reason"] = "arm A has " + std::to_string(static_cast<long>(a.n)) + " and arm B " + std::to_string(static_cast<long>(b.n)) +
                    " outcomes of the planned " + std::to_string(need) + " per arm: no verdict before the planned sample size";
    return out;
  }
  bool binary = plan->value("kind", "proportion") == "proportion";
  if (binary && (a.sumsq != a.sum || b.sumsq != b.sum))
    throw InputError("metric '" + in.metric + "' has values other than 0 and 1, but the plan is for a proportion",
                     "plan it with --kind mean --sd SD");
  TestResult t = binary ? two_proportion_z(a.n, a.sum, b.n, b.sum, alpha)
                        : welch_t(a.n, a.mean(), a.var(), b.n, b.mean(), b.var(), alpha);
  out["ready"] = true;
  out["test"] = {{"method", t.method}, {"statistic", t.statistic}, {"p_value", t.p_value}, {"diff", t.diff},
                 {"ci", {t.ci_low, t.ci_high}}, {"confidence", 1 - alpha}};
  if (!binary) out["test"]["df"] = t.df;
  out["verdict"] = t.p_value >= alpha ? "no significant difference" : t.diff > 0 ? "B is better" : "B is worse";
  return out;
}

double prob_b_better(double as, double af, double bs, double bf, long draws, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  // Beta(x, y) = X / (X + Y) with X ~ Gamma(x), Y ~ Gamma(y).
  auto beta = [&rng](double x, double y) {
    double g = std::gamma_distribution<double>(x, 1.0)(rng);
    return g / (g + std::gamma_distribution<double>(y, 1.0)(rng));
  };
  long wins = 0;
  for (long i = 0; i < draws; ++i) {
    double pa = beta(1 + as, 1 + af);
    if (beta(1 + bs, 1 + bf) > pa) ++wins;
  }
  return draws > 0 ? static_cast<double>(wins) / static_cast<double>(draws) : 0.5;
}

json bandit_update(Repo& repo, const BanditInput& in) {
  json state = applied_state(repo, in.env);
  if (!state.is_object() || state.value("strategy", "") != "bandit" || !state.value("candidate", json()).is_object()) {
    std::string now = state.is_object() ? "strategy " + state.value("strategy", std::string("?")) : "not deployed";
    throw InputError("'" + in.env + "' runs no bandit (" + now + ")",
                     "deploy the challenger with: mlo deploy MODEL@VERSION --env " + in.env + " --strategy bandit");
  }
  if (in.draws < 100 || in.draws > 10'000'000) throw UsageError("--draws must be 100..10000000");
  if (in.min_share < 0 || in.min_share > 50) throw UsageError("--min-share must be 0..50 (percent)");
  StatusInput si{in.env, in.metric, in.from, in.key};
  Arm a, b;
  long skipped = 0;
  fill_arms(repo, si, a, b, skipped);
  if (a.sumsq != a.sum || b.sumsq != b.sum)
    throw InputError("metric '" + in.metric + "' has values other than 0 and 1", "a bandit learns from a 0/1 reward (converted, clicked, correct)");
  std::uint64_t seed = in.seed ? in.seed : std::random_device{}();
  double p = prob_b_better(a.sum, a.n - a.sum, b.sum, b.n - b.sum, in.draws, seed);
  int weight = std::clamp(static_cast<int>(std::lround(100 * p)), in.min_share, 100 - in.min_share);
  auto arm_json = [](const Arm& x) {
    json j = x.to_json();
    j["successes"] = static_cast<long>(x.sum);
    j["posterior"] = {1 + x.sum, 1 + x.n - x.sum};
    return j;
  };
  json out = {{"env", in.env}, {"metric", in.metric}, {"method", "Thompson sampling (Beta posteriors, batched)"},
              {"a", arm_json(a)}, {"b", arm_json(b)}, {"without_outcome", skipped}, {"p_b_better", p},
              {"draws", in.draws}, {"seed", seed}, {"weight_before", state.value("weight", 0)}, {"weight", weight},
              {"applied", false}};
  if (in.apply && weight != out["weight_before"].get<int>()) {
    set_traffic(repo, in.env, weight);
    out["applied"] = true;
  }
  return out;
}

}  // namespace mlo::deploy
