// mlo deploy experiment plan|status: sample size up front, verdict only at it.
#include "deploy_experiment.h"

#include "deploy/experiment.h"
#include "pipeline/metrics.h"

namespace mlo::cli {
namespace {

using json = nlohmann::json;

void print_plan(const json& p) {
  std::cout << "Plan";
  if (!p.value("env", "").empty()) std::cout << " for '" << p["env"].get<std::string>() << "'";
  std::cout << ": metric " << p["metric"].get<std::string>() << " (" << p["kind"].get<std::string>() << "), minimum detectable effect "
            << value_text(p["mde"]);
  if (p.contains("baseline")) std::cout << " on a baseline of " << value_text(p["baseline"]);
  std::cout << ", alpha " << value_text(p["alpha"]) << ", power " << value_text(p["power"]) << "\n"
            << "Sample size: " << p["n_per_arm"].get<long>() << " outcomes per arm (" << 2 * p["n_per_arm"].get<long>()
            << " in all)" << (p.contains("file") ? "; saved in " + p["file"].get<std::string>() : "") << "\n";
}

void print_status(Context& ctx, const json& s) {
  for (const char* arm : {"a", "b"})
    std::cout << "Arm " << (arm[0] == 'a' ? "A" : "B") << " (" << s[arm]["version"].get<std::string>() << "): n "
              << s[arm]["n"].get<long>() << ", mean " << value_text(s[arm]["mean"]) << "\n";
  if (!s["ready"].get<bool>()) {
    std::cout << ctx.paint("No verdict yet", "yellow") << ": " << s["reason"].get<std::string>() << "\n";
    return;
  }
  const json& t = s["test"];
  std::cout << t["method"].get<std::string>() << ": B - A = " << value_text(t["diff"]) << ", "
            << value_text(json(100 * t["confidence"].get<double>())) << "% CI [" << value_text(t["ci"][0]) << ", "
            << value_text(t["ci"][1]) << "], p = " << value_text(t["p_value"]) << "\n"
            << "Verdict: " << ctx.paint(s["verdict"].get<std::string>(), "bold") << "\n";
}

void print_bandit(const json& r) {
  for (const char* arm : {"a", "b"}) {
    const json& x = r[arm];
    std::cout << "Arm " << (arm[0] == 'a' ? "A" : "B") << " (" << x["version"].get<std::string>() << "): "
              << x["successes"].get<long>() << " of " << x["n"].get<long>() << " rewarded\n";
  }
  std::cout << r["method"].get<std::string>() << ": P(B better) = " << value_text(r["p_b_better"]) << " over "
            << r["draws"].get<long>() << " draws (seed " << r["seed"].get<std::uint64_t>() << ")\n"
            << "Arm B's traffic: " << r["weight_before"].get<int>() << "% -> " << r["weight"].get<int>() << "%"
            << (r["applied"].get<bool>() ? "" : r["weight"] == r["weight_before"] ? " (unchanged)" : " (not applied: --dry-run)")
            << "\n";
}

}  // namespace

void register_deploy_experiment(CLI::App& deploy_cmd, Context& ctx) {
  auto* exp = add_command(deploy_cmd, "experiment", "A/B experiments: plan the sample size, then read the verdict");
  exp->require_subcommand(1);

  auto p = std::make_shared<deploy::PlanInput>();
  auto* plan = add_command(*exp, "plan", "Sample size per arm for a minimum detectable effect (saved with --env)");
  plan->add_option("--env", p->env, "Save the plan for this environment's experiment");
  plan->add_option("--metric", p->metric, "The outcome the experiment is judged on")->required();
  plan->add_option("--kind", p->kind, "proportion (0/1 outcomes, default) or mean")->check(CLI::IsMember({"proportion", "mean"}));
  plan->add_option("--baseline", p->baseline, "proportion: arm A's expected rate, e.g. 0.10");
  plan->add_option("--sd", p->sd, "mean: the outcome's standard deviation");
  plan->add_option("--mde", p->mde, "Minimum detectable effect: the smallest absolute difference worth finding")->required();
  plan->add_option("--alpha", p->alpha, "Significance level (default 0.05, two-sided)");
  plan->add_option("--power", p->power, "Power (default 0.8)");
  ctx.on_run(plan, [&ctx, p] {
    json doc = deploy::plan_experiment(p->env.empty() ? nullptr : &ctx.repo(), *p);
    if (ctx.global.json) return ctx.print_json(doc);
    if (!ctx.global.quiet) print_plan(doc);
  });

  auto s = std::make_shared<deploy::StatusInput>();
  auto* status = add_command(*exp, "status", "Outcomes per arm and the verdict, once both arms reach the planned size");
  status->add_option("env", s->env, "The environment running --strategy ab")->required();
  status->add_option("--metric", s->metric, "The planned metric: a label column (--from) or a logged field")->required();
  status->add_option("--from", s->from, "Label files with the outcome, joined by request id");
  status->add_option("--key", s->key, "The labels' request id column (default request_id)");
  ctx.on_run(status, [&ctx, s] {
    json doc = deploy::experiment_status(ctx.repo(), *s);
    if (ctx.global.json) ctx.print_json(doc);
    else if (!ctx.global.quiet) print_status(ctx, doc);
    if (!doc["ready"].get<bool>()) {
      if (!ctx.global.json) std::cerr << "mlo: no verdict before the planned sample size (stopping early inflates false positives)\n";
      ctx.exit_code = 1;
    }
  });

  auto b = std::make_shared<deploy::BanditInput>();
  auto dry = std::make_shared<bool>(false);
  auto* bandit = add_command(*exp, "bandit", "--strategy bandit: move traffic toward the arm the rewards favour (Thompson sampling)");
  bandit->add_option("env", b->env, "The environment running --strategy bandit")->required();
  bandit->add_option("--metric", b->metric, "The 0/1 reward: a label column (--from) or a logged field")->required();
  bandit->add_option("--from", b->from, "Label files with the reward, joined by request id");
  bandit->add_option("--key", b->key, "The labels' request id column (default request_id)");
  bandit->add_option("--seed", b->seed, "Seed of the posterior draws (default: random; reported)");
  bandit->add_option("--draws", b->draws, "Posterior draws (default 20000)");
  bandit->add_option("--min-share", b->min_share, "Each arm keeps at least this percent of traffic (default 5)");
  bandit->add_flag("--dry-run", *dry, "Report the new split without applying it");
  ctx.on_run(bandit, [&ctx, b, dry] {
    b->apply = !*dry;
    json r = deploy::bandit_update(ctx.repo(), *b);
    if (ctx.global.json) ctx.print_json(r);
    else if (!ctx.global.quiet) print_bandit(r);
  });
}

}  // namespace mlo::cli
