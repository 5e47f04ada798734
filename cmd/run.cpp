// mlo run, mlo dag
#include <algorithm>
#include <cstdio>

#include "command.h"
#include "step_summary.h"
#include "core/log.h"
#include "pipeline/metrics.h"
#include "pipeline/run.h"
#include "run_display.h"

namespace mlo::cli {
namespace {

void register_run(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<RunOptions>();
  auto* cmd = add_command(app, "run");
  cmd->add_option("stages", opts->targets, "Stages to bring up to date (with what they need); default: all");
  cmd->add_flag("-f,--force", opts->force, "Run the named stages (all: every stage) even when up to date");
  cmd->add_flag("-n,--dry-run", opts->dry_run, "Say what would run and why; change nothing");
  cmd->add_flag("--strict", opts->strict, "Refuse to run when a dep is tracked data with uncommitted changes (default: warn)");
  auto exit_code = std::make_shared<bool>(false);
  cmd->add_flag("--exit-code", *exit_code,
                "With -n (implied): exit with 1 when any stage would run or be restored, 0 when all are up to date");
  cmd->add_option("-j,--jobs", opts->jobs, "Run up to N independent stages or sweep points at once")->check(CLI::PositiveNumber);
  cmd->add_option("-S,--set", opts->sets, "Override a param for this run: KEY=VALUE (repeatable)");
  cmd->add_option("--grid", opts->grid,
                  "Sweep a param: KEY=V1,V2,... or KEY=uniform(LO,HI)|loguniform(LO,HI)|randint(LO,HI)|choice(A,B) (repeatable)");
  cmd->add_option("--random", opts->random, "Sample N random points of the --grid axes instead of every combination")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", opts->seed, "Random seed for --random (default: from the clock)");
  ctx.on_run(cmd, [&ctx, opts, exit_code] {
    if (*exit_code) opts->dry_run = true;
    opts->stream_output = !ctx.global.quiet && !ctx.global.json;
    RunDisplay display(ctx, !opts->dry_run);
    opts->on_planned = [&display](std::size_t n) { display.planned(n); };
    auto on_event = [&display](const StageOutcome& o, bool started) { display.event(o, started); };
    RunReport report = run_pipeline(ctx.repo(), *opts, on_event);
    display.finish();
    if (*exit_code && std::any_of(report.stages.begin(), report.stages.end(), [](const StageOutcome& o) {
          return o.action == "would-run" || o.action == "would-restore";
        }))
      ctx.exit_code = 1;
    std::vector<std::vector<std::string>> rows;
    for (const auto& o : report.stages)
      rows.push_back({o.stage + point_text(o.point), o.action, o.run_id, o.message.empty() ? o.reason : o.message});
    write_step_summary("### mlo run\n\n" + summary_table({"stage", "action", "run", "why"}, rows));
    if (ctx.global.json) {
      ctx.print_json(report.to_json());
      return;
    }
    if (ctx.global.quiet) return;
    for (const auto& o : report.stages) {
      if (o.action == "would-run")
        std::printf("would run %s%s: %s\n", o.stage.c_str(), point_text(o.point).c_str(), o.reason.c_str());
      else if (o.action == "would-restore")
        std::printf("would restore %s%s from the run cache (run %s): %s\n", o.stage.c_str(), point_text(o.point).c_str(),
                    o.run_id.c_str(), o.reason.c_str());
    }
    if (!report.sweep.empty()) {
      std::printf("Sweep %s: %zu runs. Compare them with: mlo runs ls --where sweep=%s\n", report.sweep.c_str(),
                  report.stages.size(), report.sweep.c_str());
    } else if (report.lock_changed) {
      std::printf("Updated mlo.lock; commit it with the code: git add mlo.lock && git commit\n");
    }
  });
}

// `mlo status`: which stages are stale and why (a dry run, said per stage).
void register_status(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<RunOptions>();
  auto exit_code = std::make_shared<bool>(false);
  auto* cmd = add_command(app, "status");
  cmd->add_option("stages", opts->targets, "Only these stages and what they need; default: all");
  cmd->add_flag("--exit-code", *exit_code, "Exit with 1 when any stage is stale, 0 when all are up to date");
  ctx.on_run(cmd, [&ctx, opts, exit_code] {
    opts->dry_run = true;
    opts->stream_output = false;
    RunReport report = run_pipeline(ctx.repo(), *opts);
    bool stale = std::any_of(report.stages.begin(), report.stages.end(),
                             [](const StageOutcome& o) { return o.action != "up-to-date"; });
    if (*exit_code && stale) ctx.exit_code = 1;
    if (ctx.global.json) {
      ctx.print_json(report.to_json());
      return;
    }
    if (ctx.global.quiet) return;
    for (const auto& o : report.stages) {
      if (o.action == "up-to-date") std::printf("%s: up to date\n", o.stage.c_str());
      else if (o.action == "would-restore")
        std::printf("%s: %s (the run cache has its outputs: run %s): %s\n", ctx.paint(o.stage, "bold").c_str(),
                    ctx.paint("stale", "yellow").c_str(), o.run_id.c_str(), o.reason.c_str());
      else std::printf("%s: %s: %s\n", ctx.paint(o.stage, "bold").c_str(), ctx.paint("stale", "yellow").c_str(), o.reason.c_str());
    }
  });
}

void register_dag(CLI::App& app, Context& ctx) {
  auto targets = std::make_shared<std::vector<std::string>>();
  auto dot = std::make_shared<bool>(false);
  auto* cmd = add_command(app, "dag");
  cmd->add_option("stages", *targets, "Only these stages and what they need");
  cmd->add_flag("--dot", *dot, "Print Graphviz dot (mlo dag --dot | dot -Tsvg > dag.svg)");
  ctx.on_run(cmd, [&ctx, targets, dot] {
    Pipeline p = load_pipeline(ctx.repo().root());
    if (ctx.global.json) ctx.print_json(dag_json(p, *targets));
    else if (*dot) std::cout << dag_dot(p, *targets);
    else std::cout << dag_text(p, *targets);
  });
}

}  // namespace
MLO_REGISTER_COMMANDS(40, register_run,
                      {"run", "Run the pipeline's out-of-date stages (mlo.yaml), or sweep params"});
MLO_REGISTER_COMMANDS(39, register_status,
                      {"status", "Show which pipeline stages are stale and why (environment, deps, params, cmd)"});
MLO_REGISTER_COMMANDS(41, register_dag,
                      {"dag", "Print the pipeline's stage graph (text or Graphviz dot)"});
}  // namespace mlo::cli
