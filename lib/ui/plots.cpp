#include "ui/plots.h"

#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/format.h"
#include "core/fs.h"
#include "pipeline/lock_file.h"
#include "pipeline/metrics.h"
#include "pipeline/runs.h"
#include "repo/git.h"
#include "repo/repo.h"
#include "ui/html.h"

namespace mlo::ui {

using json = nlohmann::json;

namespace {

std::optional<std::string> lock_text_at(Repo& repo, const std::string& rev) {
  if (rev.empty()) return read_file_if_exists(repo.root() / "mlo.lock");
  return repo.git().read_file_at(repo.git().resolve_commit(rev), "mlo.lock");
}

// {"FILE": {"key": v}} -> {"key": v}; a key two files share keeps its file ("FILE:key").
json flat_metrics(const json& per_file) {
  std::map<std::string, int> seen;
  for (const auto& [file, values] : per_file.items())
    if (values.is_object())
      for (const auto& [k, v] : values.items()) ++seen[k];
  json out = json::object();
  for (const auto& [file, values] : per_file.items())
    if (values.is_object())
      for (const auto& [k, v] : values.items()) out[seen[k] > 1 ? file + ":" + k : k] = v;
  return out;
}

std::string short_id(const std::string& id) { return id.substr(0, 16); }  // ids from one second share 8 digits

// A file name from a chart name: [A-Za-z0-9._-] kept, the rest '_', unique.
std::string file_name(const std::string& prefix, const std::string& name, std::set<std::string>& used) {
  std::string base = prefix;
  for (char c : name.substr(0, 80))
    base += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') ? c : '_';
  std::string out = base + ".svg";
  for (int k = 2; !used.insert(out).second; ++k) out = base + "-" + std::to_string(k) + ".svg";
  return out;
}

const json& series_of(const json& record) {
  static const json none = json::object();
  auto it = record.find("metric_series");
  return it != record.end() && it->is_object() ? *it : none;
}

// Per series name: (line label, points), in the sources' order.
void add_series_of(const PlotSource& src, std::map<std::string, std::vector<Series>>& by_name) {
  std::map<std::string, int> stages_with;  // a name logged by several stages gets the stage in its label
  for (const auto& r : src.runs)
    for (const auto& [k, v] : series_of(r).items()) ++stages_with[k];
  for (const auto& r : src.runs) {
    const json& series = series_of(r);
    for (const auto& [name, points] : series.items()) {
      if (!points.is_array()) continue;
      Series s{src.label + (stages_with[name] > 1 ? " " + r.value("stage", "") : ""), {}};
      for (const auto& p : points)
        if (p.is_object() && p.value("step", json()).is_number() && p.value("value", json()).is_number())
          s.points.emplace_back(p["step"].get<double>(), p["value"].get<double>());
      by_name[name].push_back(std::move(s));
    }
  }
}

}  // namespace

json Plots::to_json() const {
  json out = {{"series", json::object()}, {"metrics", json::object()}, {"notes", notes}};
  for (const auto& c : series) {
    json lines = json::object();
    for (const auto& s : c.series) {
      json pts = json::array();
      for (const auto& [x, y] : s.points) pts.push_back({{"step", x}, {"value", y}});
      lines[s.name] = pts;
    }
    out["series"][c.title] = lines;
  }
  for (const auto& c : metrics) {
    json values = json::object();
    for (std::size_t i = 0; i < c.categories.size(); ++i)
      values[c.categories[i]] = std::isfinite(c.values[i]) ? json(c.values[i]) : json(nullptr);
    out["metrics"][c.title] = values;
  }
  return out;
}

std::vector<PlotSource> sources_for_runs(Repo& repo, const std::vector<std::string>& ids) {
  std::vector<PlotSource> out;
  for (const auto& id : ids) {
    json r = load_run(repo, id);
    json metrics = r.contains("metrics") && r["metrics"].is_object() ? r["metrics"] : json::object();
    PlotSource src{short_id(r.value("run_id", "")) + " " + r.value("stage", ""), {}, metrics};
    src.runs.push_back(std::move(r));
    out.push_back(std::move(src));
  }
  return out;
}

std::vector<PlotSource> sources_for_revs(Repo& repo, const std::vector<std::string>& revs,
                                         std::vector<std::string>& notes) {
  std::vector<PlotSource> out;
  for (std::string rev : revs) {
    if (rev == "workspace") rev.clear();
    std::string label = rev.empty() ? "workspace" : rev;
    PlotSource src{label, {}, flat_metrics(metrics_at(repo, rev))};
    json lock;
    if (auto text = lock_text_at(repo, rev)) lock = parse_lock(*text, rev.empty() ? "mlo.lock" : rev + ":mlo.lock");
    const json stages = lock.is_object() && lock.contains("stages") && lock["stages"].is_object() ? lock["stages"] : json::object();
    for (const auto& [stage, entry] : stages.items()) {
      std::string run = entry.is_object() && entry.contains("run") && entry["run"].is_string() ? entry["run"].get<std::string>() : "";
      if (run.empty()) continue;
      try {
        src.runs.push_back(load_run(repo, run));
      } catch (const InputError&) {
        notes.push_back(label + ": run " + run + " of stage " + stage + " is not known here (mlo pull fetches it)");
      }
    }
    out.push_back(std::move(src));
  }
  return out;
}

Plots build_plots(const std::vector<PlotSource>& sources) {
  Plots p;
  std::map<std::string, std::vector<Series>> by_name;
  for (const auto& src : sources) add_series_of(src, by_name);
  for (auto& [name, lines] : by_name) p.series.push_back({name, "step", name, std::move(lines), false});
  std::vector<std::string> names;  // numeric metrics, first seen first
  std::set<std::string> seen;
  for (const auto& src : sources)
    for (const auto& [k, v] : src.metrics.items())
      if (v.is_number() && seen.insert(k).second) names.push_back(k);
  for (const auto& name : names) {
    BarChart c{name, name, {}, {}};
    for (const auto& src : sources) {
      c.categories.push_back(src.label);
      const json v = src.metrics.value(name, json());
      c.values.push_back(v.is_number() ? v.get<double>() : std::nan(""));
    }
    p.metrics.push_back(std::move(c));
  }
  return p;
}

std::vector<std::pair<std::string, std::string>> plot_files(const Plots& plots) {
  std::vector<std::pair<std::string, std::string>> out;
  std::set<std::string> used;
  for (const auto& c : plots.series) out.emplace_back(file_name("series-", c.title, used), line_chart_svg(c));
  for (const auto& c : plots.metrics) out.emplace_back(file_name("metric-", c.title, used), bar_chart_svg(c));
  return out;
}

std::string plots_sections(const Plots& plots) {
  std::ostringstream s;
  if (plots.series.empty() && plots.metrics.empty()) s << "<p class='muted'>Nothing to plot: no run logged a metric series and no metrics file has a number.</p>";
  if (!plots.series.empty()) s << "<h2>Step-wise metrics</h2>";
  for (const auto& c : plots.series) s << "<div class='chart'>" << line_chart_svg(c) << "</div>";
  if (!plots.metrics.empty()) s << "<h2>Metrics</h2>";
  for (const auto& c : plots.metrics) s << "<div class='chart'>" << bar_chart_svg(c) << "</div>";
  if (!plots.notes.empty()) {
    s << "<h2>Not plotted</h2><ul>";
    for (const auto& n : plots.notes) s << "<li>" << esc(n) << "</li>";
    s << "</ul>";
  }
  return s.str();
}

std::string plots_html(const Plots& plots, const std::string& title) {
  return "<!DOCTYPE html><html><head><meta charset='utf-8'><title>" + esc(title) + "</title><style>" +
         style_sheet() + "</style></head><body><main><h1>" + esc(title) + "</h1>" + plots_sections(plots) +
         "</main></body></html>\n";
}

std::string plots_markdown(const Plots& plots, const std::string& title, const std::string& image_dir) {
  std::ostringstream s;
  s << "## " << markdown_cell(title) << "\n\n";
  std::string dir = image_dir.empty() || image_dir.back() == '/' ? image_dir : image_dir + "/";
  auto files = plot_files(plots);
  for (std::size_t i = 0; i < plots.series.size(); ++i)
    s << "![" << markdown_cell(plots.series[i].title) << "](" << dir << files[i].first << ")\n";
  if (!plots.metrics.empty()) {
    std::vector<std::string> headers = {"metric"};
    for (const auto& c : plots.metrics.front().categories) headers.push_back(c);
    std::vector<std::vector<std::string>> rows;
    for (const auto& c : plots.metrics) {
      std::vector<std::string> row = {c.title};
      for (double v : c.values) row.push_back(number_text(v));
      rows.push_back(std::move(row));
    }
    s << "\n" << markdown_table(headers, rows);
  }
  for (const auto& n : plots.notes) s << "\n- " << markdown_cell(n);
  if (!plots.notes.empty()) s << "\n";
  return s.str();
}

}  // namespace mlo::ui
