// The experiments table: `mlo exp show` as a page. One row per pipeline run
// or sweep point with the params and metrics of all its stages side by side,
// sorted by any of them, in pages; each row links to its runs.
#include <algorithm>
#include <set>

#include "core/error.h"
#include "pipeline/experiments.h"
#include "ui/page.h"

namespace mlo::ui {

using json = nlohmann::json;

namespace {

constexpr std::size_t kMaxColumns = 12;
constexpr std::size_t kMaxSortKey = 200;
constexpr long kPageSize = 50;

// Keys of params or metrics over the rows shown, sorted, at most kMaxColumns.
std::vector<std::string> shown_keys(const std::vector<Experiment>& rows, bool metrics) {
  std::set<std::string> keys;
  for (const auto& e : rows)
    for (const auto& [k, v] : (metrics ? e.metrics : e.params).items()) keys.insert(k);
  std::vector<std::string> out(keys.begin(), keys.end());
  if (out.size() > kMaxColumns) out.resize(kMaxColumns);
  return out;
}

// The table's address: an order, a page size (when not the default), and a
// place (side "after" or "before" a cursor) with its page number.
struct Where {
  std::string sort;
  bool asc = false;
  long n = kPageSize;
};

std::string experiments_href(const Where& w, long page, const char* side = nullptr, const std::string& cursor = {}) {
  std::string h = "/experiments?";
  if (!w.sort.empty()) h += "sort=" + url_encode(w.sort) + "&" + (w.asc ? "asc=1&" : "");
  if (w.n != kPageSize) h += "n=" + std::to_string(w.n) + "&";
  if (side) h += std::string(side) + "=" + url_encode(cursor) + "&";
  return h + "page=" + std::to_string(page);
}

// A column header that sorts by `key` (largest first; again: smallest first).
std::string sort_link(const std::string& key, const std::string& label, const Where& w) {
  bool here = w.sort == key;
  std::string mark = here ? (w.asc ? " ▲" : " ▼") : "";
  return "<a class='sort' data-field='" + esc(key) + "' href='" + esc(experiments_href({key, here && !w.asc, w.n}, 1)) + "'>" +
         esc(label) + "</a>" + mark;
}

std::string runs_cell(const Experiment& e) {
  std::string s;
  for (std::size_t i = 0; i < e.runs.size() && i < 20; ++i)
    s += link("/run/" + url_encode(e.runs[i]), e.runs[i].substr(0, 8) + (i < e.stages.size() ? " " + e.stages[i] : "")) + " ";
  return s;
}

std::string experiments_table(const std::vector<Experiment>& rows, const Where& w) {
  auto pkeys = shown_keys(rows, false), mkeys = shown_keys(rows, true);
  std::vector<std::string> headers = {"", "experiment", "started", "status", "runs"};
  for (const auto& k : pkeys) headers.push_back(sort_link("params." + k, k, w));
  for (const auto& k : mkeys) headers.push_back(sort_link("metrics." + k, k, w));
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

// "Page N (M shown)" and the links to the pages before and after, each
// carrying the cursor of this page's first or last row.
std::string page_links(const Where& w, const ExperimentPageQuery& eq, const ExperimentPage& ep, long page) {
  bool backwards = !eq.before.empty();
  if (backwards && !ep.more) page = 1;  // read back to the start
  std::string s = "<p class='pages'>Page " + std::to_string(page) + " (" + std::to_string(ep.rows.size()) + " shown) ";
  bool earlier = backwards ? ep.more : page > 1 || !eq.after.empty();
  bool later = backwards || ep.more;
  if (earlier && !ep.first.empty())
    s += "<a id='prev' href='" + esc(experiments_href(w, std::max(1L, page - 1), "before", ep.first)) + "'>← previous</a> ";
  if (later && !ep.last.empty())
    s += "<a id='next' href='" + esc(experiments_href(w, page + 1, "after", ep.last)) + "'>next →</a>";
  return s + "</p>";
}

}  // namespace

Page experiments_page(Repo& repo, const QueryParams& q) {
  Where w;
  w.n = int_param(q, "n", kPageSize, 500);
  long page = int_param(q, "page", 1, 10'000'000);
  w.sort = query_value(q, "sort");
  if (w.sort.size() > kMaxSortKey) throw UsageError("the sort key is longer than 200 characters", "pick a column");
  w.asc = query_value(q, "asc") == "1";
  ExperimentPageQuery eq;
  eq.order.sort = w.sort;
  eq.order.ascending = w.asc;
  eq.order.limit = w.n;
  eq.after = query_value(q, "after");
  eq.before = query_value(q, "before");
  // page= alone (an old link) skips rows; the links carry a cursor (a keyset page).
  if (eq.after.empty() && eq.before.empty()) eq.offset = w.n * (page - 1);
  ExperimentPage ep = experiment_page(repo, eq);
  Page p;
  p.title = "Experiments";
  p.section = "experiments";
  p.body = "<h1>Experiments</h1><p class='muted'>one row per pipeline run or sweep point (mlo exp show): the params "
           "and metrics of all its stages; click a column to sort by it</p>"
           "<form method='get' action='/compare' id='compare'>" +
           experiments_table(ep.rows, w) + "<button type='submit'>Compare selected</button></form>" +
           page_links(w, eq, ep, page);
  return p;
}

}  // namespace mlo::ui
