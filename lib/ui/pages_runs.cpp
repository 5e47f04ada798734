// The runs table, a run's page, the comparison of runs and the plots page.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/error.h"
#include "pipeline/runs.h"
#include "repo/repo.h"
#include "store/cache.h"
#include "ui/page.h"
#include "ui/plots.h"

namespace mlo::ui {

using json = nlohmann::json;

namespace {

constexpr std::size_t kMaxFilters = 8, kMaxFilterLength = 300, kMaxCompared = 10;
constexpr std::size_t kMaxLogShown = 200 << 10;
constexpr long kMaxScatterRuns = 5000;

// Union of an object field's keys over rows, sorted, at most `max`.
std::vector<std::string> keys_of(const std::vector<json>& rows, const char* field, std::size_t max) {
  std::set<std::string> keys;
  for (const auto& r : rows)
    if (r.contains(field) && r[field].is_object())
      for (const auto& [k, v] : r[field].items()) keys.insert(k);
  std::vector<std::string> out(keys.begin(), keys.end());
  if (out.size() > max) out.resize(max);
  return out;
}

std::string no_control_chars(const std::string& text, const char* what) {
  if (text.size() > kMaxFilterLength ||
      std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
    throw UsageError(std::string("bad ") + what + ": at most " + std::to_string(kMaxFilterLength) +
                         " characters, no control characters",
                     "write FIELD OP VALUE, e.g. metrics.acc>0.9");
  return text;
}

RunQuery query_of(const QueryParams& q, long page_size, long page) {
  RunQuery rq;
  rq.stage = no_control_chars(query_value(q, "stage"), "stage");
  for (const auto& w : query_values(q, "where"))
    if (!w.empty()) rq.where.push_back(no_control_chars(w, "filter"));
  if (rq.where.size() > kMaxFilters) throw UsageError("more than 8 filters", "remove some filters");
  rq.sort = no_control_chars(query_value(q, "sort"), "sort key");
  rq.limit = page_size;
  rq.after = query_value(q, "after");
  rq.before = query_value(q, "before");
  // page= alone (an old link) skips rows; links carry a cursor (a keyset page).
  if (rq.after.empty() && rq.before.empty()) rq.offset = (page - 1) * page_size;
  rq.count_more = true;
  return rq;
}

// Parameters that name a place in one order: a new order or filter starts at page 1.
bool is_page_param(const std::string& k) { return k == "page" || k == "after" || k == "before"; }

// The runs page's address with one parameter replaced (others kept).
std::string runs_href(const QueryParams& q, const std::string& name, const std::string& value) {
  std::string out = "/?";
  bool replaced = false;
  for (const auto& [k, v] : q) {
    if (k == "token") continue;
    if (k == name) {
      if (replaced) continue;
      replaced = true;
      if (!value.empty()) out += url_encode(k) + "=" + url_encode(value) + "&";
      continue;
    }
    if (name == "sort" && is_page_param(k)) continue;  // a new order starts at page 1
    out += url_encode(k) + "=" + url_encode(v) + "&";
  }
  if (!replaced && !value.empty()) out += url_encode(name) + "=" + url_encode(value) + "&";
  out.pop_back();
  return out.empty() ? "/" : out;
}

std::string sort_header(const QueryParams& q, const std::string& field, const std::string& label) {
  std::string current = query_value(q, "sort");
  std::string next = current == field + ":desc" ? field + ":asc" : field + ":desc";
  std::string mark = current == field + ":desc" ? " ▼" : current == field + ":asc" ? " ▲" : "";
  return "<a class='sort' data-field='" + esc(field) + "' href='" + esc(runs_href(q, "sort", next)) + "'>" +
         esc(label) + "</a>" + mark;
}

std::string filter_form(const RunQuery& rq, const QueryParams& q) {
  std::string s = "<form method='get' action='/' id='filter'>";
  for (const auto& w : rq.where) s += "<input type='hidden' name='where' value='" + esc(w) + "'>";
  if (!rq.sort.empty()) s += "<input type='hidden' name='sort' value='" + esc(rq.sort) + "'>";
  s += "<input type='text' name='where' placeholder='filter: metrics.acc&gt;0.9, params.train.lr=0.1, status=failed'>"
       " <input type='text' name='stage' placeholder='stage' style='width:120px' value='" +
       esc(rq.stage) + "'> <button type='submit'>Filter</button></form>";
  if (!rq.where.empty()) {
    s += "<p>Filters:";
    for (std::size_t i = 0; i < rq.where.size(); ++i) {
      QueryParams without;
      std::size_t seen = 0;
      for (const auto& [k, v] : q)
        if (!is_page_param(k) && !(k == "where" && !v.empty() && seen++ == i)) without.emplace_back(k, v);
      s += " <code class='filter'>" + esc(rq.where[i]) + "</code> " + link(runs_href(without, "", ""), "✕");
    }
    s += "</p>";
  }
  return s;
}

std::string runs_table(const std::vector<json>& rows, const QueryParams& q) {
  auto pkeys = keys_of(rows, "params", 8), mkeys = keys_of(rows, "metrics", 10);
  std::vector<std::string> headers = {"", sort_header(q, "id", "run"), sort_header(q, "stage", "stage"),
                                      sort_header(q, "status", "status"), sort_header(q, "started_at", "started"),
                                      sort_header(q, "duration", "duration")};
  for (const auto& k : pkeys) headers.push_back(sort_header(q, "params." + k, k));
  for (const auto& k : mkeys) headers.push_back(sort_header(q, "metrics." + k, k));
  std::vector<std::vector<std::string>> table;
  for (const auto& r : rows) {
    std::string id = r.value("id", "");
    std::vector<std::string> row = {"<input type='checkbox' name='run' value='" + esc(id) + "'>",
                                    link("/run/" + url_encode(id), id.substr(0, 12)), cell(r["stage"]),
                                    cell(r["status"]), esc(when(r.value("started_at", 0.0))),
                                    number_text(r.value("duration_s", 0.0))};
    for (const auto& k : pkeys) row.push_back(cell(object_at(r, "params").value(k, json())));
    for (const auto& k : mkeys) row.push_back(cell(object_at(r, "metrics").value(k, json())));
    table.push_back(std::move(row));
  }
  std::string s = "<p class='muted'>params: ";
  for (const auto& k : pkeys) s += esc(k) + " ";
  s += "· metrics: ";
  for (const auto& k : mkeys) s += esc(k) + " ";
  return s + "</p>" + html_table(headers, table, "runs");
}

// Scatter of a metric against a param over the filtered runs (a sweep).
std::string scatter_form(const RunQuery& rq) {
  std::string s = "<form method='get' action='/scatter' id='scatter'>";
  for (const auto& w : rq.where) s += "<input type='hidden' name='where' value='" + esc(w) + "'>";
  if (!rq.stage.empty()) s += "<input type='hidden' name='stage' value='" + esc(rq.stage) + "'>";
  return s + "Scatter <input type='text' name='y' style='width:160px' placeholder='metrics.acc'> against "
             "<input type='text' name='x' style='width:160px' placeholder='params.train.lr'> "
             "<button type='submit'>Plot</button></form>";
}

// The address of the page just past `cursor` (after it, or before it), numbered `page`.
std::string page_href(const QueryParams& q, const char* side, const std::string& cursor, long page) {
  QueryParams kept;
  for (const auto& [k, v] : q)
    if (!is_page_param(k)) kept.emplace_back(k, v);
  kept.emplace_back(side, cursor);
  kept.emplace_back("page", std::to_string(page));
  return runs_href(kept, "", "");
}

std::string page_links(const QueryParams& q, const RunQuery& rq, const RunPage& rp, long page) {
  bool backwards = !rq.before.empty();
  if (backwards && !rp.more) page = 1;  // read back to the start
  std::string s = "<p class='pages'>Page " + std::to_string(page) + " (" + std::to_string(rp.rows.size()) +
                  " runs shown) ";
  bool earlier = backwards ? rp.more : page > 1 || !rq.after.empty();
  bool later = backwards || rp.more;
  if (earlier && !rp.first.empty())
    s += "<a id='prev' href='" + esc(page_href(q, "before", rp.first, std::max(1L, page - 1))) + "'>← previous</a> ";
  if (later && !rp.last.empty())
    s += "<a id='next' href='" + esc(page_href(q, "after", rp.last, page + 1)) + "'>next →</a>";
  return s + "</p>";
}

}  // namespace

Page runs_page(Repo& repo, const QueryParams& q) {
  long n = int_param(q, "n", 50, 500), page = int_param(q, "page", 1, 10'000'000);
  RunQuery rq = query_of(q, n, page);
  RunPage rp = list_run_page(repo, rq);
  Page p;
  p.title = "Runs";
  p.section = "runs";
  p.body = "<h1>Runs</h1>" + filter_form(rq, q) + "<form method='get' action='/compare' id='compare'>" +
           runs_table(rp.rows, q) + "<button type='submit'>Compare selected</button></form>" + scatter_form(rq) +
           page_links(q, rq, rp, page);
  return p;
}

namespace {

std::string object_rows(const json& obj, bool hashes) {
  std::vector<std::vector<std::string>> rows;
  if (!obj.is_object()) return "";
  for (const auto& [k, v] : obj.items()) {
    json shown = hashes && v.is_object() ? v.value("sha256", json()) : v;
    rows.push_back({esc(k), cell(shown)});
  }
  return rows.empty() ? "<p class='muted'>none</p>" : html_table({"name", hashes ? "sha256" : "value"}, rows);
}

std::string run_log(Repo& repo, const json& r) {
  std::string h = run_log_hash(r);
  if (h.empty()) return "<p class='muted'>no captured log</p>";
  if (!repo.cache().has(h)) return "<p class='muted'>the log is not in this clone's cache (mlo pull fetches it)</p>";
  std::string text = repo.cache().read(h);
  std::string cut = text.size() > kMaxLogShown ? "… (the first " + std::to_string(text.size() - kMaxLogShown) +
                                                     " bytes are not shown; mlo runs log prints all)\n"
                                               : "";
  if (!cut.empty()) text = text.substr(text.size() - kMaxLogShown);
  return "<pre id='log'>" + esc(cut + text) + "</pre>";
}

}  // namespace

Page run_page(Repo& repo, const std::string& id) {
  json r = load_run(repo, id);
  std::string rid = r.value("run_id", "");
  Page p;
  p.title = "Run " + rid;
  p.section = "runs";
  std::vector<std::vector<std::string>> facts;
  for (const char* k : {"stage", "status", "message", "runner", "host", "cpu_model", "gpu_model", "sweep", "restored_from"})
    if (r.contains(k)) facts.push_back({esc(k), cell(r[k])});
  facts.push_back({"cmd", cell(r.value("cmd", json()))});
  facts.push_back({"started", esc(when(r.value("started_at", 0.0)))});
  facts.push_back({"duration (s)", number_text(r.value("finished_at", 0.0) - r.value("started_at", 0.0))});
  if (r.contains("git") && r["git"].is_object())
    facts.push_back({"git", cell(r["git"].value("commit", json())) + (r["git"].value("dirty", false) ? " (dirty)" : "")});
  facts.push_back({"record", cell(r.value("record", json()))});
  p.body = "<h1>Run " + esc(rid) + "</h1>" + html_table({"field", "value"}, facts) + "<p>" +
           link("/lineage?target=" + url_encode(rid), "lineage of this run") + "</p>";
  p.body += "<h2>Params</h2>" + object_rows(object_at(r, "params"), false);
  p.body += "<h2>Metrics</h2>" + object_rows(object_at(r, "metrics"), false);
  Plots plots = build_plots(sources_for_runs(repo, {rid}));
  if (!plots.series.empty()) p.body += "<h2>Metric series</h2>";
  for (const auto& c : plots.series) p.body += "<div class='chart'>" + line_chart_svg(c) + "</div>";
  p.body += "<h2>Dependencies</h2>" + object_rows(object_at(r, "deps"), true);
  p.body += "<h2>Outputs</h2>" + object_rows(object_at(r, "outs"), true);
  p.body += "<h2>Resources</h2>" + object_rows(object_at(r, "resources"), false);
  p.body += "<h2>Log</h2>" + run_log(repo, r);
  p.body += "<details><summary>Record (JSON)</summary><pre>" +
            esc(r.dump(2, ' ', false, json::error_handler_t::replace)) + "</pre></details>";
  return p;
}

Page compare_page(Repo& repo, const QueryParams& q) {
  auto ids = query_values(q, "run");
  if (ids.size() < 2) throw UsageError("select at least two runs to compare", "tick them in the runs table");
  if (ids.size() > kMaxCompared) throw UsageError("at most 10 runs side by side", "select fewer runs");
  for (auto& id : ids) id = checked_name(id, "run id");
  auto sources = sources_for_runs(repo, ids);
  std::vector<std::string> headers = {"field"};
  std::set<std::string> fields;
  for (const auto& s : sources) {
    headers.push_back(link("/run/" + url_encode(s.runs[0].value("run_id", "")), s.label));
    for (const char* group : {"params", "metrics"})
      for (const auto& [k, v] : object_at(s.runs[0], group).items()) fields.insert(std::string(group) + "." + k);
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& f : fields) {
    std::size_t dot = f.find('.');
    std::string group = f.substr(0, dot), key = f.substr(dot + 1);
    std::vector<std::string> row = {esc(f)};
    std::set<std::string> distinct;
    for (const auto& s : sources) {
      json v = object_at(s.runs[0], group.c_str()).value(key, json());
      distinct.insert(v.dump());
      row.push_back(cell(v));
    }
    if (distinct.size() > 1) row[0] = "<b>" + row[0] + "</b>";
    rows.push_back(std::move(row));
  }
  Plots plots = build_plots(sources);
  Page p;
  p.title = "Compare runs";
  p.section = "runs";
  p.body = "<h1>Compare " + std::to_string(ids.size()) + " runs</h1><p class='muted'>bold: differs</p>" +
           html_table(headers, rows, "compare");
  if (!plots.series.empty()) p.body += "<h2>Metric series</h2>";
  for (const auto& c : plots.series) p.body += "<div class='chart'>" + line_chart_svg(c) + "</div>";
  return p;
}

namespace {

// A field of a runs-index row ("params.train.lr", "metrics.acc") as a number; NaN when absent.
double row_number(const json& row, const std::string& field) {
  std::size_t dot = field.find('.');
  if (dot == std::string::npos) return std::nan("");
  json v = object_at(row, field.substr(0, dot).c_str()).value(field.substr(dot + 1), json());
  return v.is_number() ? v.get<double>() : std::nan("");
}

}  // namespace

Page scatter_page(Repo& repo, const QueryParams& q) {
  std::string x = no_control_chars(query_value(q, "x"), "x"), y = no_control_chars(query_value(q, "y"), "y");
  if (x.empty() || y.empty())
    throw UsageError("a scatter plot needs x and y", "e.g. /scatter?x=params.train.lr&y=metrics.acc");
  RunQuery rq = query_of(q, kMaxScatterRuns, 1);
  rq.count_more = false;
  LineChart c{y + " vs " + x, x, y, {}, true};
  std::map<std::string, std::size_t> by_stage;
  for (const auto& r : list_runs(repo, rq)) {
    std::string stage = r.value("stage", "");
    if (!by_stage.count(stage)) {
      by_stage[stage] = c.series.size();
      c.series.push_back({stage, {}});
    }
    c.series[by_stage[stage]].points.emplace_back(row_number(r, x), row_number(r, y));
  }
  Page p;
  p.title = "Scatter";
  p.section = "runs";
  p.body = "<h1>" + esc(c.title) + "</h1><p class='muted'>one point per run (at most " +
           std::to_string(kMaxScatterRuns) + ", with the runs table's filters), one colour per stage</p>" +
           line_chart_svg(c);
  return p;
}

Page plots_page(Repo& repo, const QueryParams& q) {
  auto revs = query_values(q, "rev");
  revs.erase(std::remove(revs.begin(), revs.end(), std::string()), revs.end());
  if (revs.empty()) revs = {"HEAD", "workspace"};
  if (revs.size() > 20) throw UsageError("at most 20 revisions", "pick fewer revisions");
  for (auto& r : revs) r = checked_name(r, "revision");
  std::vector<std::string> notes;
  Plots plots = build_plots(sources_for_revs(repo, revs, notes));
  plots.notes = notes;
  Page p;
  p.title = "Plots";
  p.section = "plots";
  p.body = "<h1>Plots across revisions</h1><form method='get' action='/plots'>";
  for (const auto& r : revs) p.body += "<input type='text' name='rev' style='width:120px' value='" + esc(r) + "'> ";
  p.body += "<input type='text' name='rev' style='width:120px' placeholder='another revision'> "
            "<button type='submit'>Show</button></form>";
  p.body += plots_sections(plots);
  return p;
}

}  // namespace mlo::ui
