// mlo exp show, mlo exp apply
#include <set>

#include "command.h"
#include "pipeline/experiments.h"
#include "pipeline/metrics.h"

namespace mlo::cli {
namespace {

using json = nlohmann::json;

// Every key of a field over the experiments, sorted.
std::vector<std::string> all_keys(const std::vector<Experiment>& exps, bool metrics) {
  std::set<std::string> keys;
  for (const auto& e : exps) {
    const json& obj = metrics ? e.metrics : e.params;
    for (auto it = obj.begin(); it != obj.end(); ++it) keys.insert(it.key());
  }
  return {keys.begin(), keys.end()};
}

void print_experiments(const std::vector<Experiment>& exps, bool md) {
  auto pkeys = all_keys(exps, false), mkeys = all_keys(exps, true);
  std::vector<std::string> headers = {"experiment", "started", "status", "stages"};
  headers.insert(headers.end(), pkeys.begin(), pkeys.end());
  headers.insert(headers.end(), mkeys.begin(), mkeys.end());
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : exps) {
    std::string stages;
    for (size_t i = 0; i < e.stages.size(); ++i) stages += (i ? "," : "") + e.stages[i];
    std::vector<std::string> row = {e.id, time_text(e.started_at), e.status, stages};
    for (const auto& k : pkeys) row.push_back(e.params.contains(k) ? value_text(e.params[k]) : "-");
    for (const auto& k : mkeys) row.push_back(e.metrics.contains(k) ? value_text(e.metrics[k]) : "-");
    rows.push_back(std::move(row));
  }
  std::cout << (md ? markdown_table(headers, rows) : text_table(headers, rows));
}

void register_exp(CLI::App& app, Context& ctx) {
  auto* exp = add_command(app, "exp");
  exp->require_subcommand(1);

  auto q = std::make_shared<ExperimentQuery>();
  auto md = std::make_shared<bool>(false);
  auto asc = std::make_shared<bool>(false);
  auto desc = std::make_shared<bool>(false);
  auto* show = add_command(*exp, "show", "One row per pipeline run or sweep point: params and metrics side by side");
  show->add_option("-s,--sort", q->sort,
                   "Sort by a metric or param (METRIC, PARAM, metrics.NAME or params.NAME); largest first");
  auto* a = show->add_flag("--asc", *asc, "With --sort: smallest first (losses, errors)");
  show->add_flag("--desc", *desc, "With --sort: largest first (the default)")->excludes(a);
  show->add_option("-n,--limit", q->limit, "Show at most N experiments (0: all; the default)")->check(CLI::NonNegativeNumber);
  show->add_flag("--md", *md, "Print a Markdown table (for pull-request comments)");
  ctx.on_run(show, [&ctx, q, md, asc, desc] {  // desc too: CLI11 writes the flag into it while parsing
    q->ascending = *asc;
    auto exps = list_experiments(ctx.repo(), *q);
    if (ctx.global.json) {
      json arr = json::array();
      for (const auto& e : exps) arr.push_back(e.to_json());
      ctx.print_json(arr);
      return;
    }
    if (exps.empty()) {
      if (!ctx.global.quiet) std::cout << "No experiments yet: 'mlo run' records one per run, a sweep one per point.\n";
      return;
    }
    print_experiments(exps, *md);
  });

  auto id = std::make_shared<std::string>();
  auto* apply = add_command(*exp, "apply", "Write an experiment's params back to their params files");
  apply->add_option("id", *id, "Experiment id or unique prefix (see 'mlo exp show')")->required();
  ctx.on_run(apply, [&ctx, id] {
    AppliedExperiment applied = apply_experiment(ctx.repo(), *id);
    if (ctx.global.json) {
      json arr = json::array();
      for (const auto& c : applied.changed)
        arr.push_back({{"file", c.file}, {"key", c.key}, {"old", c.old_value}, {"new", c.value}});
      ctx.print_json({{"experiment", applied.id}, {"changed", arr}});
      return;
    }
    if (ctx.global.quiet) return;
    if (applied.changed.empty()) {
      std::cout << "The params files already hold experiment " << applied.id << "'s params.\n";
      return;
    }
    for (const auto& c : applied.changed)
      std::cout << c.file << ": " << c.key << " " << value_text(c.old_value) << " -> " << value_text(c.value) << "\n";
    std::cout << "Applied experiment " << applied.id << "; 'mlo run' restores its results from the run cache.\n";
  });
}

}  // namespace
MLO_REGISTER_COMMANDS(42, register_exp,
                      {"exp", "Experiments: compare pipeline runs and sweep points, apply one's params"});
}  // namespace mlo::cli
