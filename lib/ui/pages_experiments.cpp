// The experiments table: `mlo exp show` as a page. One row per pipeline run
// or sweep point with the params and metrics of all its stages side by side,
// sorted by any of them, in pages; each row links to its runs.
#include <set>

#include "core/error.h"
#include "pipeline/experiments.h"
#include "ui/page.h"

namespace mlo::ui {

using json = nlohmann::json;

namespace {

constexpr std::size_t kMaxColumns = 12;
constexpr std::size_t kMaxSortKey = 200;

// Keys of params or metrics over the rows shown, sorted, at most kMaxColumns.
std::vector<std::string> shown_keys(const std::vector<Experiment>& rows, bool metrics) {
  std::set<std::string> keys;
  for (const auto& e : rows)
    for (const auto& [k, v] : (metrics ? e.metrics : e.params).items()) keys.insert(k);
  std::vector<std::string> out(keys.begin(), keys.end());
  if (out.size() > kMaxColumns) out.resize(kMaxColumns);
  return out;
}

std::string experiments_href(const std::string& sort, bool asc, long page) {
  std::string h = "/experiments?";
  if (!sort.empty()) h += "sort=" + url_encode(sort) + "&" + (asc ? "asc=1&" : "");
  return h + "page=" + std::to_string(page);
}

// A column header that sorts by `key` (largest first; again: smallest first).
std::string sort_link(const std::string& key, const std::string& label, const std::string& sort, bool asc) {
  bool here = sort == key;
  std::string mark = here ? (asc ? " ▲" : " ▼") : "";
  return "<a class='sort' data-field='" + esc(key) + "' href='" + esc(experiments_href(key, here && !asc, 1)) + "'>" +
         esc(label) + "</a>" + mark;
}

std::string runs_cell(const Experiment& e) {
  std::string s;
  for (std::size_t i = 0; i < e.runs.size() && i < 20; ++i)
    s += link("/run/" + url_encode(e.runs[i]), e.runs[i].substr(0, 8) + (i < e.stages.size() ? " " + e.stages[i] : "")) + " ";
  return s;
}

std::string experiments_table(const std::vector<Experiment>& rows, const std::string& sort, bool asc) {
  auto pkeys = shown_keys(rows, false), mkeys = shown_keys(rows, true);
  std::vector<std::string> headers = {"", "experiment", "started", "status", "runs"};
  for (const auto& k : pkeys) headers.push_back(sort_link("params." + k, k, sort, asc));
  for (const auto& k : mkeys) headers.push_back(sort_link("metrics." + k, k, sort, asc));
  std::vector<std::vector<std::string>> table;
  for (const auto& e : rows) {
    // Ticking experiments compares their last runs (the runs page's comparison).
    std::vector<std::string> row = {
        e.runs.empty() ? "" : "<input type='checkbox' name='run' value='" + esc(e.runs.back()) + "'>",
        "<code>" + esc(e.id) + "</code>", esc(when(e.started_at)), esc(e.status), runs_cell(e)};
    for (const auto& k : pkeys) row.push_back(cell(e.params.value(k, json())));
    for (const auto& k : mkeys) row.push_back(cell(e.metrics.value(k, json())));
    table.push_back(std::move(row));
  }
  return html_table(headers, table, "experiments");
}

}  // namespace

Page experiments_page(Repo& repo, const QueryParams& q) {
  long n = int_param(q, "n", 50, 500), page = int_param(q, "page", 1, 100'000);
  ExperimentQuery eq;
  eq.sort = query_value(q, "sort");
  if (eq.sort.size() > kMaxSortKey) throw UsageError("the sort key is longer than 200 characters", "pick a column");
  eq.ascending = query_value(q, "asc") == "1";
  std::vector<Experiment> rows;
  if (eq.sort.empty()) {  // newest first: only this page's runs are read
    rows = newest_experiments(repo, n + 1, n * (page - 1));
  } else {  // sorted by a value: the index's per-experiment values, this page only
    eq.limit = n + 1;
    rows = sorted_experiments(repo, eq, n * (page - 1));
  }
  bool more = static_cast<long>(rows.size()) > n;  // one past the page, to know
  if (more) rows.resize(static_cast<std::size_t>(n));
  Page p;
  p.title = "Experiments";
  p.section = "experiments";
  p.body = "<h1>Experiments</h1><p class='muted'>one row per pipeline run or sweep point (mlo exp show): the params "
           "and metrics of all its stages; click a column to sort by it</p>"
           "<form method='get' action='/compare' id='compare'>" +
           experiments_table(rows, eq.sort, eq.ascending) + "<button type='submit'>Compare selected</button></form>";
  p.body += "<p class='pages'>Page " + std::to_string(page) + " (" + std::to_string(rows.size()) + " shown) ";
  if (page > 1) p.body += link(experiments_href(eq.sort, eq.ascending, page - 1), "← previous") + " ";
  if (more)
    p.body += "<a id='next' href='" + esc(experiments_href(eq.sort, eq.ascending, page + 1)) + "'>next →</a>";
  p.body += "</p>";
  return p;
}

}  // namespace mlo::ui
