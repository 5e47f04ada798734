// Deployments (live counts, refreshing) and monitors (history, the
// day-by-day drift heatmap, each result's report).
#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "deploy/deploy.h"
#include "monitor/monitor.h"
#include "monitor/report.h"
#include "repo/repo.h"
#include "store/cache.h"
#include "ui/page.h"
#include "ui/svg.h"

namespace mlo::ui {

using json = nlohmann::json;

namespace {

constexpr int kRefreshSeconds = 5;
constexpr int kHistoryRows = 500;
constexpr std::size_t kHeatColumns = 40, kHeatDays = 60;

// A table whose columns are the union of the rows' keys (first seen first).
std::string object_table(const json& rows, const std::string& css_class) {
  std::vector<std::string> keys;
  std::set<std::string> seen;
  for (const auto& r : rows)
    if (r.is_object())
      for (const auto& [k, v] : r.items())
        if (seen.insert(k).second) keys.push_back(k);
  std::vector<std::string> headers;
  for (const auto& k : keys) headers.push_back(esc(k));
  std::vector<std::vector<std::string>> table;
  for (const auto& r : rows) {
    std::vector<std::string> row;
    for (const auto& k : keys) row.push_back(r.is_object() && r.contains(k) ? cell(r[k]) : cell(nullptr));
    table.push_back(std::move(row));
  }
  return html_table(headers, table, css_class);
}

std::string env_section(Repo& repo, const json& row) {
  std::string env = row.value("env", "");
  std::string s = "<h2>" + esc(env) + "</h2>";
  if (!row.value("running", false)) return s + "<p class='muted'>not running</p>";
  try {
    json st = deploy::deploy_status(repo, env);
    s += "<p>" + cell(st["url"]) + " · strategy " + cell(st.value("strategy", json())) + " · " +
         (st.value("healthy", false) ? "healthy" : "<span class='err'>unhealthy</span>") + "</p>";
    s += object_table(st["versions"], "backends");
  } catch (const Error& e) {
    s += "<p class='err'>status unavailable: " + esc(e.what()) + "</p>";
  }
  return s;
}

std::string day_of(double t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  char b[16];
  std::strftime(b, sizeof b, "%Y-%m-%d", ::gmtime_r(&tt, &tm));
  return b;
}

std::string heat_colour(double x) {
  int gb = static_cast<int>(255 * (1 - std::clamp(x, 0.0, 1.0)));
  return "rgb(255," + std::to_string(gb) + "," + std::to_string(gb) + ")";
}

// Rows: columns of the data; columns: days; colour: the share of that day's
// results in which the column drifted.
std::string heatmap_svg(const json& results) {
  std::map<std::string, std::map<std::string, std::pair<int, int>>> cells;  // column -> day -> (drifted, results)
  std::set<std::string> day_set;
  for (const auto& r : results) {
    std::string day = day_of(r.value("created_at", 0.0));
    day_set.insert(day);
    for (const auto& [col, c] : object_at(r, "columns").items()) {
      auto& [d, n] = cells[col][day];
      d += c.value("drifted", false) ? 1 : 0;
      ++n;
    }
  }
  std::vector<std::string> days(day_set.begin(), day_set.end());
  if (days.size() > kHeatDays) days.erase(days.begin(), days.end() - kHeatDays);
  const double cell_size = 22, left = 130, top = 80;
  std::size_t ncols = std::min(cells.size(), kHeatColumns);
  double width = left + cell_size * static_cast<double>(days.size()) + 20;
  double height = top + cell_size * static_cast<double>(ncols) + 50;
  std::ostringstream s;
  s << "<svg class='heatmap' xmlns='http://www.w3.org/2000/svg' width='" << std::max(width, 460.0) << "' height='" << height
    << "' font-family='sans-serif' font-size='10'>";
  for (std::size_t j = 0; j < days.size(); ++j)
    s << "<text transform='translate(" << left + cell_size * (static_cast<double>(j) + 0.6) << "," << top - 4
      << ") rotate(-60)'>" << esc(days[j]) << "</text>";
  std::size_t i = 0;
  for (const auto& [col, by_day] : cells) {
    if (i >= ncols) break;
    double y = top + cell_size * static_cast<double>(i++);
    s << "<text x='" << left - 4 << "' y='" << y + 14 << "' text-anchor='end'>" << esc(col.substr(0, 24)) << "</text>";
    for (std::size_t j = 0; j < days.size(); ++j) {
      auto it = by_day.find(days[j]);
      double x = left + cell_size * static_cast<double>(j);
      if (it == by_day.end()) continue;
      double share = static_cast<double>(it->second.first) / it->second.second;
      s << "<rect x='" << x << "' y='" << y << "' width='" << cell_size << "' height='" << cell_size << "' fill='"
        << heat_colour(share) << "' stroke='#ccc'><title>" << esc(col) << " on " << esc(days[j]) << ": drifted in "
        << it->second.first << " of " << it->second.second << " results</title></rect>";
    }
  }
  double ly = top + cell_size * static_cast<double>(ncols) + 18;
  s << "<text x='" << left << "' y='" << ly - 4 << "'>share of the day's results in which the column drifted</text>";
  for (int k = 0; k < 10; ++k)
    s << "<rect x='" << left + 16 * k << "' y='" << ly << "' width='16' height='10' fill='" << heat_colour((k + 0.5) / 10)
      << "' stroke='#ccc'/>";
  for (int k = 0; k <= 2; ++k)
    s << "<text x='" << left + 80 * k << "' y='" << ly + 22 << "' text-anchor='middle'>" << number_text(0.5 * k) << "</text>";
  s << "</svg>";
  return s.str();
}

std::string history_table(const json& results) {
  std::vector<std::vector<std::string>> rows;
  for (auto it = results.rbegin(); it != results.rend(); ++it) {
    const json& r = *it;
    std::string id = r.value("id", "");
    rows.push_back({link("/monitor/result/" + url_encode(id), id.substr(0, 12)), esc(when(r.value("created_at", 0.0))),
                    r.value("dataset_drift", false) ? "<span class='err'>drift</span>" : "ok",
                    cell(r["share_of_drifted_columns"]), r.value("quality_ok", true) ? "ok" : "<span class='err'>failed</span>",
                    cell(r["performance"]), cell(r["current_rows"])});
  }
  return html_table({"result", "when", "dataset", "drifted share", "quality", "performance", "rows"}, rows, "history");
}

}  // namespace

Page deployments_page(Repo& repo) {
  json envs = deploy::list_deployments(repo);
  Page p;
  p.title = "Deployments";
  p.section = "deployments";
  p.refresh_s = kRefreshSeconds;
  p.body = "<h1>Deployments</h1><p class='muted'>refreshes every " + std::to_string(kRefreshSeconds) + " s</p>";
  if (envs.empty()) p.body += "<p class='muted'>no deployments in this clone (mlo deploy starts one)</p>";
  else p.body += object_table(envs, "deployments");
  for (const auto& row : envs) p.body += env_section(repo, row);
  auto events = deploy::list_deploy_events(repo);
  json recent = json::array();
  for (auto it = events.rbegin(); it != events.rend() && recent.size() < 100; ++it) recent.push_back(deploy::to_json(*it));
  p.body += "<h2>Events (newest first)</h2>" + (recent.empty() ? "<p class='muted'>none</p>" : object_table(recent, "events"));
  return p;
}

Page monitors_page(Repo& repo, const QueryParams& q) {
  std::string name = query_value(q, "monitor");
  if (!name.empty()) name = checked_name(name, "monitor name");
  json all = monitor::history(repo, name, kHistoryRows);
  std::map<std::string, json> by_monitor;
  for (const auto& r : all) {
    auto& list = by_monitor[r.value("monitor", "")];
    if (list.is_null()) list = json::array();
    list.push_back(r);
  }
  Page p;
  p.title = "Monitors";
  p.section = "monitors";
  p.body = "<h1>Monitors</h1>";
  if (by_monitor.empty()) p.body += "<p class='muted'>no stored monitor results (mlo monitor NAME records one)</p>";
  for (const auto& [m, results] : by_monitor) {
    LineChart trend{"share of drifted columns: " + m, "result", "share", {{m, {}}}, false};
    for (std::size_t i = 0; i < results.size(); ++i)
      trend.series[0].points.emplace_back(static_cast<double>(i + 1), results[i].value("share_of_drifted_columns", 0.0));
    p.body += "<h2>" + link("/monitors?monitor=" + url_encode(m), m) + "</h2><div class='chart'>" +
              line_chart_svg(trend) + "</div><h3>Day by day</h3>" + heatmap_svg(results) + history_table(results);
  }
  return p;
}

Page monitor_result_page(Repo& repo, const std::string& id) {
  bool hex = id.size() == 64 && std::all_of(id.begin(), id.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
  if (!hex || !repo.cache().has(id))
    throw InputError("no monitor result " + id + " in this clone", "see the monitors page for stored results");
  json r = json::parse(repo.cache().read(id), nullptr, false);
  if (!r.is_object() || !r.contains("metrics") || !r.value("monitor", json()).is_string())
    throw InputError("object " + id + " is not a monitor result");
  Page p;
  p.raw_html = monitor::render_html(r);
  return p;
}

}  // namespace mlo::ui
