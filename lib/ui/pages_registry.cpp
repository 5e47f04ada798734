// Models, a model's versions, stages, gates and events, the audit log, and
// the lineage graph (SVG, every node a link).
#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "app/lineage.h"
#include "app/lineage_walk.h"
#include "core/error.h"
#include "registry/registry.h"
#include "triggers/triggers.h"
#include "ui/page.h"
#include "ui/svg.h"

namespace mlo::ui {

using json = nlohmann::json;

namespace {

constexpr long kPageRows = 100;
constexpr std::size_t kMaxGraphNodes = 400;

// "Page N · ← previous · next →" for a list of `total` rows shown `kPageRows` at a time.
std::string pager(const std::string& base, long page, std::size_t total) {
  std::string sep = base.find('?') == std::string::npos ? "?" : "&";
  long pages = std::max<long>(1, (static_cast<long>(total) + kPageRows - 1) / kPageRows);
  std::string s = "<p class='pages'>Page " + std::to_string(page) + " of " + std::to_string(pages) + " (" +
                  std::to_string(total) + " rows) ";
  if (page > 1) s += link(base + sep + "page=" + std::to_string(page - 1), "← previous") + " ";
  if (page < pages) s += "<a id='next' href='" + esc(base + sep + "page=" + std::to_string(page + 1)) + "'>next →</a>";
  return s + "</p>";
}

// Rows [from, to) of a list shown newest first.
std::pair<std::size_t, std::size_t> page_range(std::size_t total, long page) {
  std::size_t from = std::min(total, static_cast<std::size_t>((page - 1) * kPageRows));
  return {from, std::min(total, from + kPageRows)};
}

std::string gates_cell(const json& gates) {
  if (!gates.is_array() || gates.empty()) return "";
  std::string s;
  for (const auto& g : gates) {
    if (!g.is_object()) continue;
    bool ok = g.value("passed", false);
    s += std::string("<div class='gate ") + (ok ? "pass" : "fail") + "'>" + (ok ? "✔ " : "✘ ") +
         esc(g.value("gate", "")) + ": " + esc(g.value("what", "")) + " (" + esc(g.value("value", "")) + ")</div>";
  }
  return s;
}

std::string version_row_metrics(const registry::VersionInfo& v) {
  std::string s;
  if (v.meta.contains("metrics") && v.meta["metrics"].is_object())
    for (const auto& [k, val] : v.meta["metrics"].items()) s += esc(k) + "=" + cell(val) + " ";
  return s;
}

std::string join(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& i : items) s += (s.empty() ? "" : ", ") + esc(i);
  return s;
}

}  // namespace

Page models_page(Repo& repo, const QueryParams& q) {
  auto models = registry::list_models(repo);
  long page = int_param(q, "page", 1, 10'000'000);
  auto [from, to] = page_range(models.size(), page);
  std::vector<std::vector<std::string>> rows;
  for (std::size_t i = from; i < to; ++i) {
    const json& m = models[i];
    std::string stages;
    for (const auto& [s, holders] : object_at(m, "stages").items()) stages += esc(s) + ": " + cell(holders) + " ";
    rows.push_back({link("/model/" + url_encode(m.value("name", "")), m.value("name", "")), cell(m["versions"]),
                    cell(m["latest"]), stages, m.value("deprecated", false) ? "deprecated" : ""});
  }
  Page p;
  p.title = "Models";
  p.section = "models";
  p.body = "<h1>Models</h1>" + html_table({"model", "versions", "latest", "stages", ""}, rows, "models") +
           pager("/models", page, models.size());
  return p;
}

Page model_page(Repo& repo, const std::string& name, const QueryParams& q) {
  registry::ModelState m = registry::load_model(repo, name);
  long page = int_param(q, "page", 1, 10'000'000);
  Page p;
  p.title = "Model " + name;
  p.section = "models";
  p.body = "<h1>Model " + esc(name) + (m.deprecated ? " (deprecated)" : "") + "</h1><p>" +
           link("/audit?model=" + url_encode(name), "audit log") + "</p><h2>Stages</h2>";
  std::vector<std::vector<std::string>> stage_rows;
  for (const auto& [stage, holders] : m.stages)
    if (!holders.empty()) stage_rows.push_back({esc(stage), join(holders)});
  p.body += stage_rows.empty() ? "<p class='muted'>no version holds a stage</p>" : html_table({"stage", "versions"}, stage_rows);
  std::vector<std::vector<std::string>> vrows;
  auto [from, to] = page_range(m.versions.size(), page);
  for (std::size_t i = from; i < to; ++i) {
    const auto& v = m.versions[m.versions.size() - 1 - i];  // newest first
    std::string run = v.meta.value("run", "");
    vrows.push_back({link("/lineage?target=" + url_encode(name + "@" + v.version), v.version),
                     esc(when(static_cast<double>(v.time))), esc(v.author), join(v.stages), join(v.aliases),
                     run.empty() ? "" : link("/run/" + url_encode(run), run.substr(0, 12)), version_row_metrics(v),
                     v.active ? "" : "deregistered"});
  }
  p.body += "<h2>Versions</h2>" +
            html_table({"version", "registered", "author", "stages", "aliases", "run", "metrics", ""}, vrows, "versions") +
            pager("/model/" + url_encode(name), page, m.versions.size());
  std::vector<std::vector<std::string>> erows;
  auto [efrom, eto] = page_range(m.events.size(), page);
  for (std::size_t i = efrom; i < eto; ++i) {
    json e = m.events[m.events.size() - 1 - i].to_json();
    erows.push_back({cell(e["date"]), cell(e["event"]), cell(e.value("version", json())),
                     cell(e.value("stage", e.value("alias", json()))), cell(e["author"]),
                     cell(e["message"]) + (e.value("forced", false) ? " <b>(forced)</b>" : ""),
                     gates_cell(e.value("gates", json()))});
  }
  p.body += "<h2>Events (stages over time, approvals, gates' verdicts)</h2>" +
            html_table({"when", "event", "version", "stage", "by", "message", "gates"}, erows, "events");
  try {
    p.body += "<h2>Model card</h2><pre>" + esc(registry::model_card(repo, name)) + "</pre>";
  } catch (const Error& e) {
    p.body += "<p class='muted'>no model card: " + esc(e.what()) + "</p>";
  }
  return p;
}

namespace {

// The newest `want` audit entries (or more) without reading all of them: with
// 51,000 registry tags reading every event costs seconds. The window back from
// the newest model update doubles until it holds `want` entries or reaches
// the start; any entry newer than the window's start is in it, so the newest
// `want` are exact. Returns the entries, oldest first, and whether older ones were left out.
std::pair<std::vector<json>, bool> newest_audit_entries(Repo& repo, const std::string& model, std::size_t want) {
  // One model's log is read by its index key at once: widening a window from
  // the newest update of any model re-read every source up to a dozen times
  // for a model updated long before (2 s with 51,000 tags).
  if (!model.empty()) return {app::audit_log(repo, model, 0), false};
  // Read once for every window: each read of the decisions runs git twice.
  const std::vector<json> decisions = triggers::history(repo);
  std::int64_t newest = 0;
  for (const auto& m : registry::list_models(repo)) {
    json updated = m.value("updated", json());
    if (updated.is_number()) newest = std::max(newest, updated.get<std::int64_t>());
  }
  for (std::int64_t window = 60; newest > 0 && window < newest; window *= 4) {
    auto log = app::audit_log(repo, model, newest - window, decisions);
    if (log.size() >= want) return {std::move(log), true};
  }
  return {app::audit_log(repo, model, 0, decisions), false};
}

}  // namespace

Page audit_page(Repo& repo, const QueryParams& q) {
  std::string model = query_value(q, "model");
  if (!model.empty()) model = checked_name(model, "model name");
  long page = int_param(q, "page", 1, 10'000);
  auto [log, partial] = newest_audit_entries(repo, model, static_cast<std::size_t>(page * kPageRows + 1));
  auto [from, to] = page_range(log.size(), page);
  std::vector<std::vector<std::string>> rows;
  for (std::size_t i = from; i < to; ++i) {
    const json& e = log[log.size() - 1 - i];
    rows.push_back({cell(e.value("date", json())), cell(e.value("source", json())), cell(e.value("event", json())),
                    cell(e.value("name", json())), cell(e.value("version", json())),
                    cell(e.value("stage", e.value("env", json()))), cell(e.value("author", json())),
                    gates_cell(e.value("gates", json()))});
  }
  std::string base = model.empty() ? "/audit" : "/audit?model=" + url_encode(model);
  Page p;
  p.title = "Audit log";
  p.section = "audit";
  p.body = "<h1>Audit log" + (model.empty() ? std::string() : " of " + esc(model)) + "</h1>" +
           html_table({"when", "source", "event", "model", "version", "stage / env", "by", "gates"}, rows, "audit");
  if (!partial) {
    p.body += pager(base, page, log.size());
  } else {  // older entries were not read: no total
    std::string sep = model.empty() ? "?" : "&";
    p.body += "<p class='pages'>Page " + std::to_string(page) + " (newest first) ";
    if (page > 1) p.body += link(base + sep + "page=" + std::to_string(page - 1), "← previous") + " ";
    p.body += "<a id='next' href='" + esc(base + sep + "page=" + std::to_string(page + 1)) + "'>next →</a></p>";
  }
  return p;
}

namespace {

std::string node_href(const json& n) {
  std::string kind = n.value("kind", ""), id = n.value("id", "");
  if (kind == "run") return "/run/" + url_encode(id);
  if (kind == "model_version" || kind == "stage" || kind == "alias")
    return "/model/" + url_encode(id.substr(0, id.find_first_of("@#")));
  if (kind == "deployment") return "/deployments";
  if (kind == "monitor_result") return "/monitor/result/" + url_encode(id);
  return "/lineage?target=" + url_encode(id);
}

using Adjacency = std::map<std::string, std::vector<std::string>>;

// The edges without those that close a cycle (a teammate's records can make
// one): an iterative depth-first walk from the data nodes first drops every
// edge to a node still on its stack.
Adjacency acyclic_edges(const json& nodes, const json& edges) {
  Adjacency out;
  std::set<std::string> known;
  for (const auto& n : nodes) known.insert(n["key"]);
  for (const auto& e : edges) {
    std::string from = e["from"], to = e["to"];
    if (known.count(from) && known.count(to) && from != to) out[from].push_back(to);
  }
  std::vector<std::string> roots;
  for (const auto& n : nodes)
    if (n.value("kind", "") == "data") roots.push_back(n["key"]);
  for (const auto& n : nodes) roots.push_back(n["key"]);
  Adjacency dag;
  std::set<std::string> done, on_stack;
  for (const auto& root : roots) {
    if (done.count(root)) continue;
    std::vector<std::pair<std::string, std::size_t>> stack{{root, 0}};
    on_stack.insert(root);
    while (!stack.empty()) {
      auto& [v, i] = stack.back();
      if (i == out[v].size()) {
        on_stack.erase(v);
        done.insert(v);
        stack.pop_back();
        continue;
      }
      std::string w = out[v][i++];
      if (on_stack.count(w)) continue;  // closes a cycle
      dag[v].push_back(w);
      if (!done.count(w)) {
        on_stack.insert(w);
        stack.emplace_back(w, 0);
      }
    }
  }
  return dag;
}

// Columns by longest path from the sources (Kahn's order over the acyclic edges).
std::map<std::string, int> layers(const json& nodes, const json& edges) {
  Adjacency dag = acyclic_edges(nodes, edges);
  std::map<std::string, int> indegree, layer;
  for (const auto& n : nodes) indegree[n["key"]] = 0;
  for (const auto& [v, ws] : dag)
    for (const auto& w : ws) ++indegree[w];
  std::vector<std::string> ready;
  for (const auto& [v, d] : indegree)
    if (d == 0) ready.push_back(v);
  while (!ready.empty()) {
    std::string v = ready.back();
    ready.pop_back();
    for (const auto& w : dag[v]) {
      layer[w] = std::max(layer[w], layer[v] + 1);
      if (--indegree[w] == 0) ready.push_back(w);
    }
  }
  return layer;
}

std::string graph_svg(const json& g) {
  const json& nodes = g["nodes"];
  auto layer = layers(nodes, g["edges"]);
  std::map<int, int> rows_in;
  std::map<std::string, std::pair<double, double>> pos;
  const double w = 190, h = 34, gap_x = 60, gap_y = 14;
  double width = 0, height = 0;
  for (const auto& n : nodes) {
    std::string key = n["key"];
    int l = layer[key], r = rows_in[l]++;
    double x = 10 + l * (w + gap_x), y = 10 + r * (h + gap_y);
    pos[key] = {x, y};
    width = std::max(width, x + w + 10);
    height = std::max(height, y + h + 10);
  }
  std::ostringstream s;
  s << "<svg id='lineage' xmlns='http://www.w3.org/2000/svg' width='" << width << "' height='" << height
    << "' font-family='sans-serif' font-size='11'><defs><marker id='arrow' viewBox='0 0 10 10' refX='10' refY='5' "
       "markerWidth='7' markerHeight='7' orient='auto'><path d='M0,0L10,5L0,10z' fill='#888'/></marker></defs>";
  for (const auto& e : g["edges"]) {
    auto a = pos[e["from"]], b = pos[e["to"]];
    // data-from/data-to name the nodes (KIND:ID), so that tests and scripts can read the graph back.
    s << "<line class='edge' data-from='" << esc(e["from"].get<std::string>()) << "' data-to='"
      << esc(e["to"].get<std::string>()) << "' x1='" << a.first + w << "' y1='" << a.second + h / 2 << "' x2='"
      << b.first << "' y2='" << b.second + h / 2 << "' stroke='#888' marker-end='url(#arrow)'/>";
  }
  static const std::map<std::string, std::string> fill = {{"data", "#e8f1fa"},        {"run", "#fdf0e2"},
                                                          {"model_version", "#e6f4e4"}, {"deployment", "#f3e8f3"},
                                                          {"monitor_result", "#fbe9e9"}};
  for (const auto& n : nodes) {
    auto [x, y] = pos[n["key"]];
    std::string kind = n.value("kind", ""), label = n.value("label", n.value("id", ""));
    std::string shown = label.size() > 30 ? label.substr(0, 29) + "…" : label;
    auto f = fill.find(kind);
    s << "<a href='" << esc(node_href(n)) << "' class='node' data-kind='" << esc(kind) << "' data-id='"
      << esc(n.value("id", "")) << "'><title>" << esc(kind + ": " + label) << "</title><rect x='" << x << "' y='" << y
      << "' width='" << w << "' height='" << h << "' rx='5' fill='" << (f == fill.end() ? "#f4f4f4" : f->second)
      << "' stroke='#666'/><text x='" << x + 6 << "' y='" << y + 13 << "' fill='#555' font-size='9'>" << esc(kind)
      << "</text><text x='" << x + 6 << "' y='" << y + 27 << "'>" << esc(shown) << "</text></a>";
  }
  s << "</svg>";
  return s.str();
}

}  // namespace

Page lineage_page(Repo& repo, const QueryParams& q) {
  std::string target = query_value(q, "target");
  Page p;
  p.title = "Lineage";
  p.section = "lineage";
  p.body = "<h1>Lineage</h1><form method='get' action='/lineage'><input type='text' name='target' value='" +
           esc(target) + "' placeholder='NAME@VERSION, NAME#STAGE, a run id or a path'> <button type='submit'>Show</button></form>";
  if (target.empty()) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& m : registry::list_models(repo)) {
      std::string name = m.value("name", ""), latest = m["latest"].is_string() ? m["latest"].get<std::string>() : "";
      if (!latest.empty()) rows.push_back({link("/lineage?target=" + url_encode(name + "@" + latest), name + "@" + latest)});
      if (rows.size() >= 200) break;
    }
    p.body += "<h2>Latest versions</h2>" + html_table({"model version"}, rows);
    return p;
  }
  checked_name(target, "lineage target");
  json g = app::lineage_graph(app::full_lineage(repo, target));
  if (g["nodes"].size() > kMaxGraphNodes) {
    p.body += "<p class='muted'>" + std::to_string(g["nodes"].size()) + " nodes: the first " +
              std::to_string(kMaxGraphNodes) + " are drawn (mlo lineage --dot prints all)</p>";
    g["nodes"].erase(g["nodes"].begin() + kMaxGraphNodes, g["nodes"].end());
    json kept = json::array();
    std::set<std::string> keys;
    for (const auto& n : g["nodes"]) keys.insert(n["key"]);
    for (const auto& e : g["edges"])
      if (keys.count(e["from"]) && keys.count(e["to"])) kept.push_back(e);
    g["edges"] = kept;
  }
  p.body += "<p>Data → runs → model versions → deployments → monitor results. Click a node.</p>" + graph_svg(g);
  return p;
}

}  // namespace mlo::ui
