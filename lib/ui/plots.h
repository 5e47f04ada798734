// `mlo plots show|diff` (DVC plots' role) and the charts of `mlo ui`: the
// step-wise metric series that runs logged (run records' metric_series) and
// final metrics, one line per run or revision, as self-contained HTML/SVG.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "ui/svg.h"

namespace mlo {
class Repo;
}

namespace mlo::ui {

// What one line (or bar) of the charts comes from: a revision's runs, or one run.
struct PlotSource {
  std::string label;                                   // "HEAD", "workspace", "1a2b3c4d train"
  std::vector<nlohmann::json> runs;                    // run records (with metric_series)
  nlohmann::json metrics = nlohmann::json::object();   // flat name -> value
};

struct Plots {
  std::vector<LineChart> series;  // one chart per series name, a line per source
  std::vector<BarChart> metrics;  // one chart per numeric metric, a bar per source
  std::vector<std::string> notes; // what could not be plotted, and why
  nlohmann::json to_json() const;
};

// Runs by id or unique prefix (InputError for an unknown one).
std::vector<PlotSource> sources_for_runs(Repo& repo, const std::vector<std::string>& ids);
// The runs mlo.lock names at each revision ("" or "workspace": the work tree)
// and the metrics files there. A run this clone does not know becomes a note.
std::vector<PlotSource> sources_for_revs(Repo& repo, const std::vector<std::string>& revs,
                                         std::vector<std::string>& notes);
Plots build_plots(const std::vector<PlotSource>& sources);

// The charts' sections (headings and inline SVG) for a page of mlo ui.
std::string plots_sections(const Plots& plots);
// A whole page: the charts inline, nothing fetched.
std::string plots_html(const Plots& plots, const std::string& title);
// File name -> SVG text, one file per chart ("series-loss.svg", "metric-acc.svg").
std::vector<std::pair<std::string, std::string>> plot_files(const Plots& plots);
// Markdown for job summaries and pull requests: an image reference per chart
// (`image_dir`/FILE.svg as plot_files names them) and a table of the metrics.
std::string plots_markdown(const Plots& plots, const std::string& title, const std::string& image_dir);

}  // namespace mlo::ui
