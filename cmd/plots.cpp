// mlo plots show|diff: step-wise metric series and metrics as self-contained
// HTML/SVG (and Markdown for job summaries). The charts live in lib/ui.
#include <filesystem>

#include "command.h"
#include "core/fs.h"
#include "ui/plots.h"

namespace mlo::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct PlotsArgs {
  std::vector<std::string> targets;
  std::string html = "mlo_plots/index.html";
  bool md = false;
};

// Writes the page and one SVG per chart beside it; returns how many SVGs.
std::size_t write_plots(const ui::Plots& plots, const std::string& title, const fs::path& html) {
  fs::path dir = html.parent_path();
  std::error_code ec;
  if (!dir.empty()) fs::create_directories(dir, ec);
  if (ec) throw InputError("cannot create " + dir.string() + ": " + ec.message(), "choose another --html path");
  auto files = ui::plot_files(plots);
  for (const auto& [name, svg] : files) write_file_atomic(dir / name, svg, false);
  write_file_atomic(html, ui::plots_html(plots, title), false);
  return files.size();
}

void render(Context& ctx, const PlotsArgs& a, const ui::Plots& plots, const std::string& title) {
  if (plots.series.empty() && plots.metrics.empty())
    throw InputError("nothing to plot: " + (plots.notes.empty() ? std::string("no run logged a metric series or metrics")
                                                                : plots.notes.front()),
                     "log step-wise values from a stage through $MLO_METRICS_FILE (one {\"key\",\"value\",\"step\"} "
                     "per line) or list metrics files in mlo.yaml; see man mlo-plots");
  if (ctx.global.json) {
    ctx.print_json(plots.to_json());
    return;
  }
  std::size_t n = write_plots(plots, title, a.html);
  if (a.md) {
    std::cout << ui::plots_markdown(plots, title, fs::path(a.html).parent_path().string());
  } else if (!ctx.global.quiet) {
    std::cout << "Wrote " << a.html << " (" << plots.series.size() << " series charts, " << plots.metrics.size()
              << " metrics charts; " << n << " SVG files beside it)\n";
    for (const auto& note : plots.notes) std::cout << "note: " << note << "\n";
  }
}

void add_output_options(CLI::App* cmd, PlotsArgs& a) {
  cmd->add_option("--html", a.html, "Write the page here; one SVG per chart goes beside it (default mlo_plots/index.html)");
  cmd->add_flag("--md", a.md, "Also print Markdown (image references to the SVG files, a metrics table) for job summaries");
}

void register_plots(CLI::App& app, Context& ctx) {
  auto* plots = add_command(app, "plots");
  plots->require_subcommand(1);

  auto sa = std::make_shared<PlotsArgs>();
  auto* show = add_command(*plots, "show", "Chart the metric series of runs (default: the runs mlo.lock names)");
  show->add_option("runs", sa->targets, "Run ids or unique prefixes (default: the work tree's mlo.lock runs)");
  add_output_options(show, *sa);
  ctx.on_run(show, [&ctx, sa] {
    std::vector<std::string> notes;
    auto sources = sa->targets.empty() ? ui::sources_for_revs(ctx.repo(), {""}, notes)
                                       : ui::sources_for_runs(ctx.repo(), sa->targets);
    auto p = ui::build_plots(sources);
    p.notes = notes;
    render(ctx, *sa, p, sa->targets.empty() ? "mlo plots: workspace" : "mlo plots: runs");
  });

  auto da = std::make_shared<PlotsArgs>();
  auto* diff = add_command(*plots, "diff", "Chart metric series and metrics across git revisions (default: HEAD and the work tree)");
  diff->add_option("revs", da->targets, "Git revisions; 'workspace' is the work tree (default: HEAD workspace)");
  add_output_options(diff, *da);
  ctx.on_run(diff, [&ctx, da] {
    std::vector<std::string> revs = da->targets;
    if (revs.empty()) revs = {"HEAD", "workspace"};
    if (revs.size() > 20) throw UsageError("at most 20 revisions on one chart", "pick fewer revisions");
    std::vector<std::string> notes;
    auto p = ui::build_plots(ui::sources_for_revs(ctx.repo(), revs, notes));
    p.notes = notes;
    std::string title = "mlo plots diff:";
    for (const auto& r : revs) title += " " + r;
    render(ctx, *da, p, title);
  });
}

}  // namespace
MLO_REGISTER_COMMANDS(45, register_plots, {"plots", "Chart metric series and metrics (HTML/SVG, Markdown)"});
}  // namespace mlo::cli
