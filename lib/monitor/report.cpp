#include "core/format.h"
#include "monitor/report.h"
#include "registry/fairness.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <set>
#include <sstream>

namespace mlo::monitor {

namespace {

using nlohmann::json;

std::string fmt(const json& v) {
  if (!v.is_number()) return "-";
  char b[64];
  std::snprintf(b, sizeof b, "%.4g", v.get<double>());
  return b;
}

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string md_esc(const std::string& s) { return markdown_cell(s); }

std::vector<const json*> column_metrics(const json& r) {
  std::vector<const json*> out;
  for (auto& m : r["metrics"])
    if (m["metric"] == "ColumnDriftMetric") out.push_back(&m["result"]);
  return out;
}

const json* metric(const json& r, const std::string& name) {
  for (auto& m : r["metrics"])
    if (m["metric"] == name) return &m["result"];
  return nullptr;
}

std::string pad(const std::string& s, std::size_t w) { return s.size() >= w ? s : s + std::string(w - s.size(), ' '); }

std::string when(double t) {
  std::time_t tt = static_cast<std::time_t>(t);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%d %H:%M", std::gmtime(&tt));
  return b;
}

// A small inline SVG of reference vs current shares (bars side by side) with
// axes: shares on y (0, half, max), values on x. Categorical charts label
// every bar (rotated when there are many); histograms label bin edges. Each
// bar's title gives its exact share on hover.
std::string chart_svg(const json& chart) {
  if (!chart.is_object() || !chart.contains("reference")) return "";
  const json& r = chart["reference"];
  const json& c = chart["current"];
  const std::size_t n = r.size();
  if (n == 0) return "";
  const bool hist = chart["kind"] == "hist";
  const bool rotate = !hist && n > 6;
  const double L = 44, T = 8, W = 420, PW = W - L - 8, PH = 110;
  const double H = T + PH + (rotate ? 74 : 34);
  double mx = 1e-12;
  for (std::size_t i = 0; i < n; ++i) mx = std::max({mx, r[i].get<double>(), c[i].get<double>()});
  const double bw = PW / static_cast<double>(n), base = T + PH;
  auto pct = [](double v) { return fmt(json(v * 100)) + "%"; };
  std::ostringstream s;
  s << "<svg width='" << W << "' height='" << H << "' viewBox='0 0 " << W << " " << H << "' role='img' font-size='10'>";
  // axes, y ticks and titles
  s << "<line x1='" << L << "' y1='" << T << "' x2='" << L << "' y2='" << base << "' stroke='#333'/>";
  s << "<line x1='" << L << "' y1='" << base << "' x2='" << L + PW << "' y2='" << base << "' stroke='#333'/>";
  for (double f : {0.0, 0.5, 1.0}) {
    double y = base - PH * f;
    s << "<line x1='" << L - 3 << "' y1='" << y << "' x2='" << L << "' y2='" << y << "' stroke='#333'/><text x='" << L - 5
      << "' y='" << y + 3 << "' text-anchor='end'>" << pct(mx * f) << "</text>";
  }
  s << "<text transform='translate(10," << T + PH / 2 << ") rotate(-90)' text-anchor='middle'>share</text>";
  s << "<text x='" << L + PW / 2 << "' y='" << H - 2 << "' text-anchor='middle'>" << (hist ? "value (bins)" : "value")
    << "</text>";
  for (std::size_t i = 0; i < n; ++i) {
    double rv = r[i].get<double>(), cv = c[i].get<double>();
    double hr = PH * rv / mx, hc = PH * cv / mx, x = L + static_cast<double>(i) * bw;
    std::string label = hist ? "[" + fmt(chart["edges"][i]) + ", " + fmt(chart["edges"][i + 1]) + ")"
                             : chart["labels"][i].get<std::string>();
    char b[200];
    std::snprintf(b, sizeof b, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='#4c78a8'>", x + bw * 0.05,
                  base - hr, bw * 0.45, hr);
    s << b << "<title>" << esc(label) << ": reference " << pct(rv) << "</title></rect>";
    std::snprintf(b, sizeof b, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='#f58518'>", x + bw * 0.5,
                  base - hc, bw * 0.45, hc);
    s << b << "<title>" << esc(label) << ": current " << pct(cv) << "</title></rect>";
    if (hist) continue;
    std::string shown = label.size() > 14 ? label.substr(0, 13) + "…" : label;
    double cx = x + bw / 2;
    if (rotate)
      s << "<text transform='translate(" << cx << "," << base + 10 << ") rotate(-45)' text-anchor='end'>" << esc(shown)
        << "</text>";
    else
      s << "<text x='" << cx << "' y='" << base + 12 << "' text-anchor='middle'>" << esc(shown) << "</text>";
  }
  if (hist) {  // edge ticks: every edge up to 10 bins, else first, middle and last
    const json& e = chart["edges"];
    for (std::size_t i = 0; i < e.size(); ++i) {
      if (n > 10 && i != 0 && i != n / 2 && i != n) continue;
      double x = L + static_cast<double>(i) * bw;
      s << "<line x1='" << x << "' y1='" << base << "' x2='" << x << "' y2='" << base + 3 << "' stroke='#333'/><text x='"
        << x << "' y='" << base + 13 << "' text-anchor='middle'>" << esc(fmt(e[i])) << "</text>";
    }
  }
  s << "</svg>";
  return s.str();
}

// ---- segments: one table per segment column (checks per segment and the
// fairness metrics of the current data), rendered as text, Markdown or HTML.

struct Table {
  std::string title;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> notes;  // disparities and errors, one line each
};

const json* segment_fairness(const json& fair, const std::string& value) {
  if (!fair.is_object() || !fair.contains("segments")) return nullptr;
  for (auto& s : fair["segments"])
    if (s["value"] == value) return &s;
  return nullptr;
}

std::string disparities_line(const json& fair, const std::string& side) {
  if (!fair.is_object()) return "";
  if (fair.contains("error")) return "fairness (" + side + "): " + fair["error"].get<std::string>();
  std::string line;
  const json& d = fair["disparities"];
  for (const auto& k : registry::fairness_metric_names())  // in the documented order
    if (d.contains(k) && d[k].is_number()) line += (line.empty() ? "" : ", ") + k + " " + fmt(d[k]);
  return line.empty() ? "" : "fairness (" + side + "): " + line;
}

std::vector<Table> segment_tables(const json& r) {
  std::vector<Table> out;
  if (!r.contains("segments")) return out;
  for (auto& sec : r["segments"]) {
    Table t;
    t.title = "Segments by " + sec["column"].get<std::string>();
    const json& cur = sec["fairness"]["current"];
    bool regression = cur.is_object() && cur.value("task", "") == "regression";
    t.header = {"value", "ref rows", "cur rows", "drift (share)", "quality"};
    for (const char* h : regression ? std::vector<const char*>{"rmse", "mae"}
                                    : std::vector<const char*>{"selection rate", "TPR", "accuracy", "f1"})
      t.header.push_back(h);
    for (auto& s : sec["segments"]) {
      std::string v = s["value"];
      std::vector<std::string> row = {v, std::to_string(s["reference_rows"].get<std::uint64_t>()),
                                      std::to_string(s["current_rows"].get<std::uint64_t>())};
      if (s.contains("error")) {
        row.insert(row.end(), {"-", "-"});
        t.notes.push_back(v + ": " + s["error"].get<std::string>());
      } else {
        row.push_back(s["drift"].get<std::string>() + " (" + fmt(s.value("share_of_drifted_columns", json())) + ")");
        row.push_back(s["quality"].get<std::string>());
      }
      const json* f = segment_fairness(cur, v);
      for (std::size_t k = 5; k < t.header.size(); ++k) {
        static const std::map<std::string, std::string> key = {{"selection rate", "selection_rate"},
                                                               {"TPR", "true_positive_rate"}};
        std::string name = key.count(t.header[k]) ? key.at(t.header[k]) : t.header[k];
        row.push_back(f && f->contains(name) ? fmt((*f)[name]) : "-");
      }
      t.rows.push_back(row);
    }
    for (const char* side : {"current", "reference"})
      if (auto line = disparities_line(sec["fairness"][side], side); !line.empty()) t.notes.push_back(line);
    out.push_back(t);
  }
  return out;
}

std::string text_table(const Table& t) {
  std::vector<std::size_t> w(t.header.size());
  for (std::size_t k = 0; k < w.size(); ++k) {
    w[k] = t.header[k].size();
    for (auto& r : t.rows) w[k] = std::max(w[k], r[k].size());
  }
  std::ostringstream o;
  o << "\n" << t.title << ":\n ";
  for (std::size_t k = 0; k < w.size(); ++k) o << " " << pad(t.header[k], w[k] + 1);
  o << "\n";
  for (auto& r : t.rows) {
    o << " ";
    for (std::size_t k = 0; k < w.size(); ++k) o << " " << pad(r[k], w[k] + 1);
    o << "\n";
  }
  for (auto& n : t.notes) o << "  " << n << "\n";
  return o.str();
}

std::string markdown_table(const Table& t) {
  std::ostringstream o;
  o << "\n### " << md_esc(t.title) << "\n\n|";
  for (auto& h : t.header) o << " " << md_esc(h) << " |";
  o << "\n|";
  for (std::size_t k = 0; k < t.header.size(); ++k) o << (k == 0 || k == 4 ? "---|" : "---:|");
  o << "\n";
  for (auto& r : t.rows) {
    o << "|";
    for (auto& c : r) o << " " << md_esc(c) << " |";
    o << "\n";
  }
  if (!t.notes.empty()) o << "\n";
  for (auto& n : t.notes) o << "- " << md_esc(n) << "\n";
  return o.str();
}

std::string html_table(const Table& t) {
  std::ostringstream o;
  o << "<h2>" << esc(t.title) << "</h2><table><tr>";
  for (auto& h : t.header) o << "<th>" << esc(h) << "</th>";
  o << "</tr>";
  for (auto& r : t.rows) {
    o << "<tr>";
    for (auto& c : r) o << "<td>" << esc(c) << "</td>";
    o << "</tr>";
  }
  o << "</table>";
  for (auto& n : t.notes) o << "<p>" << esc(n) << "</p>";
  return o.str();
}

}  // namespace

std::string render_text(const json& r, bool color) {
  auto paint = [&](const std::string& t, const char* code) { return color ? std::string("\033[") + code + "m" + t + "\033[0m" : t; };
  std::ostringstream o;
  const json* dd = metric(r, "DatasetDriftMetric");
  o << "Monitor " << r["monitor"].get<std::string>() << ": current " << r["current"]["rows"] << " rows vs reference "
    << r["reference"]["rows"] << " rows (reference profile " << r["reference"]["profile"].get<std::string>() << ")\n\n";
  std::size_t w = 6;
  for (auto* c : column_metrics(r)) w = std::max(w, (*c)["column_name"].get<std::string>().size());
  o << pad("column", w) << "  type  " << pad("method", 16) << pad("score", 11) << pad("threshold", 11) << "drift\n";
  for (auto* c : column_metrics(r)) {
    const json& m = *c;
    std::string verdict = m.contains("error") ? paint("error", "33") : m["drift_detected"].get<bool>() ? paint("DRIFT", "31") : paint("ok", "32");
    o << pad(m["column_name"].get<std::string>(), w) << "  " << pad(m["column_type"].get<std::string>(), 4) << "  "
      << pad(m["stattest_name"].get<std::string>(), 16) << pad(fmt(m["drift_score"]), 11)
      << pad(fmt(m["stattest_threshold"]), 11) << verdict << (m.value("approximate", false) ? " (approx)" : "") << "\n";
  }
  if (dd)
    o << "\nDataset drift: " << ((*dd)["dataset_drift"].get<bool>() ? paint("YES", "31") : paint("no", "32")) << " ("
      << (*dd)["number_of_drifted_columns"] << " of " << (*dd)["number_of_columns"] << " columns drifted, share "
      << fmt((*dd)["share_of_drifted_columns"]) << ", threshold " << fmt((*dd)["drift_share"]) << ")\n";
  for (const char* role : {"TargetDriftMetric", "PredictionDriftMetric"})
    if (const json* t = metric(r, role))
      o << (std::string(role) == "TargetDriftMetric" ? "Target drift: " : "Prediction drift: ")
        << ((*t)["drift_detected"].get<bool>() ? paint("YES", "31") : paint("no", "32")) << " ("
        << (*t)["stattest_name"].get<std::string>() << " " << fmt((*t)["drift_score"]) << ")\n";
  int qfail = 0;
  std::ostringstream qf;
  for (auto& t : r["tests"])
    if (t["group"] != "drift" && t["status"] == "FAIL") {
      ++qfail;
      qf << "  " << paint("FAIL", "31") << " " << t["description"].get<std::string>() << "\n";
    }
  o << "Quality: " << (r["summary"]["quality"] == "ok" ? paint("ok", "32") : paint("FAIL", "31"))
    << "   Performance: " << r["summary"]["performance"].get<std::string>() << "\n";
  o << qf.str();
  if (const json* p = metric(r, "ModelPerformanceMetric")) {
    o << "\nPerformance (" << (*p)["current"].value("task", "") << ")   current   reference\n";
    for (auto& [k, v] : (*p)["current"].items()) {
      if (!v.is_number_float()) continue;
      json ref = (*p)["reference"].is_object() && (*p)["reference"].contains(k) ? (*p)["reference"][k] : json();
      o << "  " << pad(k, 20) << pad(fmt(v), 10) << fmt(ref) << "\n";
    }
  }
  std::uint64_t malformed = r["current"]["malformed_rows"].get<std::uint64_t>() + r["reference"]["malformed_rows"].get<std::uint64_t>();
  if (malformed) {
    o << "\n" << malformed << " malformed rows skipped:\n";
    int shown = 0;
    for (auto& m : r["malformed"]) {
      if (++shown > 5) break;
      o << "  " << m["file"].get<std::string>() << ":" << m["line"] << ": " << m["message"].get<std::string>() << "\n";
    }
  }
  for (auto& t : segment_tables(r)) o << text_table(t);
  return o.str();
}

namespace {

// Target and prediction drift and the performance table: the same facts as
// the text and HTML reports.
void md_roles_and_performance(std::ostringstream& o, const json& r) {
  for (const char* role : {"TargetDriftMetric", "PredictionDriftMetric"})
    if (const json* t = metric(r, role))
      o << "\n**" << (std::string(role) == "TargetDriftMetric" ? "Target drift" : "Prediction drift") << ": "
        << ((*t)["drift_detected"].get<bool>() ? "detected" : "not detected") << "** ("
        << md_esc((*t)["column_name"].get<std::string>()) << ", " << (*t)["stattest_name"].get<std::string>() << " "
        << fmt((*t)["drift_score"]) << ")\n";
  const json* p = metric(r, "ModelPerformanceMetric");
  if (!p) return;
  o << "\n### Performance (" << (*p)["current"].value("task", "") << ")\n\n| metric | current | reference |\n|---|---:|---:|\n";
  for (auto& [k, v] : (*p)["current"].items()) {
    if (!v.is_number_float()) continue;
    json ref = (*p)["reference"].is_object() && (*p)["reference"].contains(k) ? (*p)["reference"][k] : json();
    o << "| " << k << " | " << fmt(v) << " | " << fmt(ref) << " |\n";
  }
}

}  // namespace

std::string render_markdown(const json& r) {
  std::ostringstream o;
  const json* dd = metric(r, "DatasetDriftMetric");
  o << "## mlo monitor: " << md_esc(r["monitor"].get<std::string>()) << "\n\n";
  if (dd)
    o << "**Dataset drift: " << ((*dd)["dataset_drift"].get<bool>() ? "detected" : "not detected") << "** — "
      << (*dd)["number_of_drifted_columns"] << " of " << (*dd)["number_of_columns"] << " columns drifted (share "
      << fmt((*dd)["share_of_drifted_columns"]) << ", threshold " << fmt((*dd)["drift_share"]) << "). Quality: "
      << r["summary"]["quality"].get<std::string>() << ". Performance: " << r["summary"]["performance"].get<std::string>()
      << ".\n\n";
  o << "| column | type | method | score | threshold | drift |\n|---|---|---|---:|---:|---|\n";
  for (auto* c : column_metrics(r)) {
    const json& m = *c;
    o << "| " << md_esc(m["column_name"].get<std::string>()) << " | " << m["column_type"].get<std::string>() << " | "
      << m["stattest_name"].get<std::string>() << " | " << fmt(m["drift_score"]) << " | " << fmt(m["stattest_threshold"])
      << " | " << (m.contains("error") ? "error" : m["drift_detected"].get<bool>() ? "**drift**" : "ok") << " |\n";
  }
  md_roles_and_performance(o, r);
  bool any = false;
  for (auto& t : r["tests"])
    if (t["group"] != "drift" && t["status"] == "FAIL") {
      if (!any) o << "\n### Failed checks\n\n";
      any = true;
      o << "- " << md_esc(t["description"].get<std::string>()) << "\n";
    }
  for (auto& t : segment_tables(r)) o << markdown_table(t);
  o << "\n";
  return o.str();
}

std::string render_html(const json& r) {
  std::ostringstream o;
  const json* dd = metric(r, "DatasetDriftMetric");
  o << "<!DOCTYPE html><html><head><meta charset='utf-8'><title>mlo monitor: " << esc(r["monitor"].get<std::string>())
    << "</title><style>body{font:14px sans-serif;margin:2em}table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;"
       "padding:4px 8px;text-align:left;vertical-align:middle}.drift{color:#c00;font-weight:bold}.ok{color:#070}"
       ".legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}</style></head><body>";
  o << "<h1>mlo monitor: " << esc(r["monitor"].get<std::string>()) << "</h1>";
  o << "<p>Reference: " << r["reference"]["rows"] << " rows (" << esc(r["reference"]["sources"].dump()) << "); current: "
    << r["current"]["rows"] << " rows (" << esc(r["current"]["sources"].dump()) << ").</p>";
  if (dd)
    o << "<p class='" << ((*dd)["dataset_drift"].get<bool>() ? "drift" : "ok") << "'>Dataset drift "
      << ((*dd)["dataset_drift"].get<bool>() ? "detected" : "not detected") << ": " << (*dd)["number_of_drifted_columns"]
      << " of " << (*dd)["number_of_columns"] << " columns drifted (share " << fmt((*dd)["share_of_drifted_columns"])
      << ", threshold " << fmt((*dd)["drift_share"]) << ").</p>";
  o << "<p class='legend'><span style='background:#4c78a8'></span>reference<span style='background:#f58518'></span>current</p>";
  o << "<table><tr><th>column</th><th>type</th><th>method</th><th>score</th><th>threshold</th><th>drift</th><th>distribution</th></tr>";
  for (auto* c : column_metrics(r)) {
    const json& m = *c;
    bool d = m["drift_detected"].get<bool>();
    o << "<tr><td>" << esc(m["column_name"].get<std::string>()) << "</td><td>" << m["column_type"].get<std::string>()
      << "</td><td>" << m["stattest_name"].get<std::string>() << "</td><td>" << fmt(m["drift_score"]) << "</td><td>"
      << fmt(m["stattest_threshold"]) << "</td><td class='" << (d ? "drift'>drift" : "ok'>ok") << "</td><td>"
      << chart_svg(m["chart"]) << "</td></tr>";
  }
  o << "</table><h2>Checks</h2><table><tr><th>group</th><th>check</th><th>status</th><th>detail</th></tr>";
  for (auto& t : r["tests"]) {
    if (t["group"] == "drift" && t["name"] == "TestColumnDrift") continue;
    std::string st = t["status"];
    o << "<tr><td>" << t["group"].get<std::string>() << "</td><td>" << esc(t["name"].get<std::string>()) << "</td><td class='"
      << (st == "FAIL" ? "drift" : "ok") << "'>" << st << "</td><td>" << esc(t["description"].get<std::string>()) << "</td></tr>";
  }
  o << "</table>";
  if (const json* p = metric(r, "ModelPerformanceMetric")) {
    o << "<h2>Performance</h2><table><tr><th>metric</th><th>current</th><th>reference</th></tr>";
    for (auto& [k, v] : (*p)["current"].items()) {
      if (!v.is_number_float()) continue;
      json ref = (*p)["reference"].is_object() && (*p)["reference"].contains(k) ? (*p)["reference"][k] : json();
      o << "<tr><td>" << esc(k) << "</td><td>" << fmt(v) << "</td><td>" << fmt(ref) << "</td></tr>";
    }
    o << "</table>";
  }
  for (auto& t : segment_tables(r)) o << html_table(t);
  o << "<p><small>Generated by mlo monitor. Charts show binned shares only; no rows of the data are included.</small></p></body></html>\n";
  return o.str();
}

// GitHub workflow commands: the message escapes %, \r and \n; a property
// value also escapes : and , (they separate properties).
std::string gha_escape(const std::string& s, bool property) {
  std::string out;
  for (char c : s) {
    if (c == '%') out += "%25";
    else if (c == '\r') out += "%0D";
    else if (c == '\n') out += "%0A";
    else if (property && c == ':') out += "%3A";
    else if (property && c == ',') out += "%2C";
    else out += c;
  }
  return out;
}

std::string render_annotations(const json& r) {
  std::ostringstream o;
  for (auto& t : r["tests"]) {
    if (t["status"] != "FAIL" && t["status"] != "ERROR") continue;
    bool dataset = t["name"] == "TestShareOfDriftedColumns" || t["group"] == "performance";
    std::string title = "mlo monitor " + r["monitor"].get<std::string>() + " (" + t["group"].get<std::string>() + ")";
    const json& params = t.contains("parameters") ? t["parameters"] : json();
    if (params.is_object() && params.contains("column_name") && params["column_name"].is_string())
      title += " column " + params["column_name"].get<std::string>();
    o << (dataset ? "::error" : "::warning") << " title=" << gha_escape(title, true)
      << "::" << gha_escape(t["description"].get<std::string>(), false) << "\n";
  }
  return o.str();
}

namespace {

std::string history_cell(const json& r, const std::string& c) {
  if (!r["columns"].contains(c)) return "-";
  auto& x = r["columns"][c];
  return fmt(x["score"]) + (x["drifted"].get<bool>() ? "*" : "");
}

// Columns in blocks that fit about 100 characters; full names, never cut.
std::vector<std::vector<std::string>> column_blocks(const std::set<std::string>& cols) {
  std::vector<std::vector<std::string>> blocks(1);
  std::size_t width = 0;
  for (auto& c : cols) {
    std::size_t w = std::max<std::size_t>(c.size(), 12) + 1;
    if (!blocks.back().empty() && width + w > 60) {
      blocks.emplace_back();
      width = 0;
    }
    blocks.back().push_back(c);
    width += w;
  }
  return blocks;
}

}  // namespace

std::string render_history_text(const json& h) {
  std::ostringstream o;
  if (h.empty()) return "No monitor results yet. Run 'mlo monitor run NAME' first.\n";
  std::set<std::string> cols;
  for (auto& r : h)
    for (auto& [k, _] : r["columns"].items()) cols.insert(k);
  auto blocks = column_blocks(cols);
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    if (b) o << "\n";
    o << pad("time (UTC)", 18) << pad("monitor", 14) << pad("rows", 10) << pad("drift", 7);
    for (auto& c : blocks[b]) o << pad(c, std::max<std::size_t>(c.size(), 12) + 1);
    o << "\n";
    for (auto& r : h) {
      o << pad(when(r["created_at"].get<double>()), 18) << pad(r["monitor"].get<std::string>().substr(0, 13), 14)
        << pad(std::to_string(r["current_rows"].get<long long>()), 10)
        << pad(r["dataset_drift"].get<bool>() ? "YES" : "no", 7);
      for (auto& c : blocks[b]) o << pad(history_cell(r, c), std::max<std::size_t>(c.size(), 12) + 1);
      o << "\n";
    }
  }
  o << "(score per column; * = drift)\n";
  return o.str();
}

namespace {

// White (no column drifted) to red (all drifted).
std::string heat_colour(double x) {
  int gb = static_cast<int>(255 * (1 - std::clamp(x, 0.0, 1.0)));
  return "rgb(255," + std::to_string(gb) + "," + std::to_string(gb) + ")";
}

// A 0..1 colour scale under the matrix.
void heat_legend(std::ostringstream& s, double x0, double y0) {
  s << "<text x='" << x0 << "' y='" << y0 - 4 << "' font-size='10'>share of drifted columns</text>";
  for (int k = 0; k < 10; ++k)
    s << "<rect x='" << x0 + 16 * k << "' y='" << y0 << "' width='16' height='10' fill='" << heat_colour((k + 0.5) / 10)
      << "' stroke='#ccc'/>";
  for (int k = 0; k <= 2; ++k)
    s << "<text x='" << x0 + 80 * k << "' y='" << y0 + 22 << "' font-size='10' text-anchor='middle'>" << fmt(0.5 * k)
      << "</text>";
}

}  // namespace

std::string render_heatmap_html(const json& m, const std::string& title) {
  const json& days = m["days"];
  const json& v = m["share_of_drifted_columns"];
  std::size_t n = days.size();
  const double cell = 30, left = 90, top = 90;
  double W = std::max(left + cell * static_cast<double>(n) + 20, left + 200), H = top + cell * static_cast<double>(n) + 60;
  std::ostringstream s;
  s << "<!DOCTYPE html><html><head><meta charset='utf-8'><title>" << esc(title)
    << "</title></head><body style='font:13px sans-serif'><h1>" << esc(title)
    << "</h1><p>Share of drifted columns between day i (row, as reference) and day j (column).</p>";
  s << "<svg width='" << W << "' height='" << H << "'>";
  for (std::size_t i = 0; i < n; ++i) {
    std::string d = days[i];
    s << "<text x='" << left - 4 << "' y='" << top + cell * (static_cast<double>(i) + 0.6) << "' font-size='10' text-anchor='end'>" << esc(d) << "</text>";
    s << "<text transform='translate(" << left + cell * (static_cast<double>(i) + 0.6) << "," << top - 4
      << ") rotate(-60)' font-size='10'>" << esc(d) << "</text>";
    for (std::size_t j = 0; j < n; ++j) {
      double x = v[i][j].get<double>(), cx = left + cell * static_cast<double>(j), cy = top + cell * static_cast<double>(i);
      char val[32];
      std::snprintf(val, sizeof val, "%.2f", x);
      s << "<g><title>reference " << esc(d) << ", current " << esc(days[j].get<std::string>()) << ": " << val
        << " of columns drifted</title><rect x='" << cx << "' y='" << cy << "' width='" << cell << "' height='" << cell
        << "' fill='" << heat_colour(x) << "' stroke='#ccc'/><text x='" << cx + cell / 2 << "' y='" << cy + cell * 0.62
        << "' font-size='9' text-anchor='middle'>" << val << "</text></g>";
    }
  }
  heat_legend(s, left, top + cell * static_cast<double>(n) + 24);
  s << "</svg></body></html>\n";
  return s.str();
}

}  // namespace mlo::monitor
