#include "monitor/segments.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "core/error.h"
#include "monitor/monitor.h"
#include "monitor/profile.h"
#include "registry/fairness.h"

namespace mlo::monitor {

namespace fs = std::filesystem;

namespace {

const std::string kMissingSegment = "(missing)";

std::string segment_of(const Cell& c) { return c.missing ? kMissingSegment : std::string(c.text); }

long column_index(const std::vector<std::string>& names, const std::string& column, const Source& src,
                  const std::string& what) {
  auto it = std::find(names.begin(), names.end(), column);
  if (it == names.end())
    throw InputError(src.display + ": no column '" + column + "' (" + what + ")",
                     "check the column name; the file has: " + [&] {
                       std::string s;
                       for (auto& n : names) s += (s.empty() ? "" : ", ") + n;
                       return s;
                     }());
  return static_cast<long>(it - names.begin());
}

// Labels compare as numbers when both are numbers ("1" == "1.0"), else as text.
bool same_label(const std::string& a, const std::string& b) {
  double x, y;
  if (parse_number(a, x) && parse_number(b, y)) return x == y;
  return a == b;
}
bool label_less(const std::string& a, const std::string& b) {
  double x, y;
  if (parse_number(a, x) && parse_number(b, y)) return x < y;
  return a < b;
}

// ---- fairness: per-segment counts in one pass, metrics at the end

struct GroupCounts {
  std::uint64_t rows = 0;
  std::map<std::string, std::uint64_t> by_label, by_label_ge_half;       // target label -> rows / predictions >= 0.5
  std::map<std::pair<std::string, std::string>, std::uint64_t> confusion;  // (target, predicted label) -> rows
  std::uint64_t n_reg = 0;
  double sse = 0, sae = 0;
};

struct FairnessPass {
  long seg = -1, t = -1, p = -1;
  std::map<std::string, GroupCounts> groups;
  std::set<std::string, bool (*)(const std::string&, const std::string&)> labels{label_less};
  bool target_numeric = true, pred_prob = true, pred_binary = true;
  std::optional<double> since, until;
  long ts = -1;

  void row(const std::vector<Cell>& cells) {
    if (ts >= 0 && (since || until)) {
      auto t0 = parse_timestamp(cells[static_cast<std::size_t>(ts)].text);
      if (!t0 || (since && *t0 < *since) || (until && *t0 >= *until)) return;
    }
    const Cell& tc = cells[static_cast<std::size_t>(t)];
    const Cell& pc = cells[static_cast<std::size_t>(p)];
    if (tc.missing || pc.missing) return;  // unlabelled or unscored rows say nothing about fairness
    std::string seg_value = segment_of(cells[static_cast<std::size_t>(seg)]);
    if (!groups.count(seg_value) && groups.size() >= kMaxSegments)
      throw InputError("more than " + std::to_string(kMaxSegments) + " segments", "segment by a column with fewer values");
    GroupCounts& g = groups[seg_value];
    ++g.rows;
    std::string tl(tc.text), pl(pc.text);
    double y, yh;
    bool yn = parse_number(tc.text, y) && std::isfinite(y), pn = parse_number(pc.text, yh) && std::isfinite(yh);
    if (!yn) target_numeric = false;
    if (!pn || yh < 0 || yh > 1) pred_prob = false;
    if (!pn || (yh != 0 && yh != 1)) pred_binary = false;
    if (labels.size() <= 20) labels.insert(tl);
    ++g.by_label[tl];
    if (pn && yh >= 0.5) ++g.by_label_ge_half[tl];
    if (g.confusion.size() < 10000) ++g.confusion[{tl, pl}];
    if (yn && pn) {
      ++g.n_reg;
      g.sse += (y - yh) * (y - yh);
      g.sae += std::fabs(y - yh);
    }
  }
};

struct Binary {
  double tp = 0, fn = 0, fp = 0, tn = 0;
};

// The confusion counts of one segment for the positive label: probabilities
// are thresholded at 0.5 (as the monitor's performance metrics are).
Binary binary_counts(const GroupCounts& g, const std::string& pos, bool probabilities) {
  Binary b;
  for (auto& [label, n] : g.by_label) {
    bool positive = same_label(label, pos);
    double predicted_pos = 0;
    if (probabilities) {
      auto it = g.by_label_ge_half.find(label);
      predicted_pos = it == g.by_label_ge_half.end() ? 0 : static_cast<double>(it->second);
    } else {
      for (auto& [k, c] : g.confusion)
        if (k.first == label && same_label(k.second, pos)) predicted_pos += static_cast<double>(c);
    }
    (positive ? b.tp : b.fp) += predicted_pos;
    (positive ? b.fn : b.tn) += static_cast<double>(n) - predicted_pos;
  }
  return b;
}

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

// min/max and max-min of a metric over the segments that define it.
void spread(const nlohmann::json& segments, const std::string& key, nlohmann::json& out, const std::string& ratio,
            const std::string& difference, const std::string& minimum, const std::string& maximum) {
  std::vector<double> v;
  for (auto& s : segments)
    if (s.contains(key) && s[key].is_number()) v.push_back(s[key].get<double>());
  if (v.empty()) return;
  double lo = *std::min_element(v.begin(), v.end()), hi = *std::max_element(v.begin(), v.end());
  if (!ratio.empty()) out[ratio] = hi > 0 ? nlohmann::json(lo / hi) : nlohmann::json(nullptr);
  if (!difference.empty()) out[difference] = hi - lo;
  if (!minimum.empty()) out[minimum] = lo;
  if (!maximum.empty()) out[maximum] = hi;
}

nlohmann::json classification_segment(const std::string& value, const GroupCounts& g, const std::string& pos,
                                      bool binary, bool probabilities) {
  nlohmann::json s = {{"value", value}, {"rows", g.rows}};
  if (!binary) {
    double correct = 0;
    for (auto& [k, c] : g.confusion)
      if (same_label(k.first, k.second)) correct += static_cast<double>(c);
    s["accuracy"] = correct / static_cast<double>(g.rows);
    return s;
  }
  Binary b = binary_counts(g, pos, probabilities);
  double n = static_cast<double>(g.rows);
  s["selection_rate"] = (b.tp + b.fp) / n;
  s["true_positive_rate"] = b.tp + b.fn > 0 ? nlohmann::json(b.tp / (b.tp + b.fn)) : nlohmann::json(nullptr);
  s["accuracy"] = (b.tp + b.tn) / n;
  s["f1"] = 2 * b.tp + b.fp + b.fn > 0 ? 2 * b.tp / (2 * b.tp + b.fp + b.fn) : 0.0;
  return s;
}

nlohmann::json fairness_result(const FairnessPass& pass, const std::string& column, const std::string& task_given) {
  std::string task = task_given;
  if (task.empty()) task = pass.target_numeric && pass.labels.size() > 20 ? "regression" : "classification";
  nlohmann::json out = {{"column", column}, {"task", task}};
  nlohmann::json segs = nlohmann::json::array(), disp = nlohmann::json::object();
  std::uint64_t rows = 0;
  if (task == "regression") {
    for (auto& [value, g] : pass.groups) {
      rows += g.rows;
      double n = static_cast<double>(g.n_reg);
      segs.push_back({{"value", value}, {"rows", g.rows}, {"rmse", number_or_null(std::sqrt(g.sse / n))},
                      {"mae", number_or_null(g.sae / n)}});
    }
    spread(segs, "rmse", disp, "rmse_ratio", "rmse_difference", "", "max_rmse");
  } else {
    std::vector<std::string> ls(pass.labels.begin(), pass.labels.end());
    bool binary = ls.size() == 2;
    bool probabilities = pass.pred_prob && !pass.pred_binary;
    if (binary) out["positive_label"] = ls[1];  // the larger label, as the monitor's metrics
    for (auto& [value, g] : pass.groups) {
      rows += g.rows;
      segs.push_back(classification_segment(value, g, binary ? ls[1] : "", binary, probabilities));
    }
    spread(segs, "selection_rate", disp, "demographic_parity_ratio", "demographic_parity_difference", "", "");
    spread(segs, "true_positive_rate", disp, "equal_opportunity_ratio", "equal_opportunity_difference", "", "");
    spread(segs, "accuracy", disp, "", "accuracy_difference", "min_accuracy", "");
    spread(segs, "f1", disp, "", "f1_difference", "min_f1", "");
  }
  out["rows"] = rows;
  out["segments"] = segs;
  for (const auto& name : registry::fairness_metric_names())
    if (!disp.contains(name)) disp[name] = nullptr;
  out["disparities"] = disp;
  return out;
}

}  // namespace

nlohmann::json fairness(const std::vector<Source>& sources, const ReadOptions& read, const std::string& segment_column,
                        const std::string& target, const std::string& prediction, const std::string& task,
                        const std::string& timestamp, std::optional<double> since, std::optional<double> until) {
  FairnessPass pass;
  pass.since = since;
  pass.until = until;
  for (const auto& src : sources) {
    RowVisitor v;
    v.header = [&](const std::vector<std::string>& names) {
      pass.seg = column_index(names, segment_column, src, "segment column");
      pass.t = column_index(names, target, src, "target");
      pass.p = column_index(names, prediction, src, "prediction");
      pass.ts = timestamp.empty() ? -1 : column_index(names, timestamp, src, "timestamp");
    };
    v.row = [&](const std::vector<Cell>& cells, std::string_view) { pass.row(cells); };
    v.malformed = [](const Malformed&) {};
    read_table(src, read, v);
  }
  return fairness_result(pass, segment_column, task);
}

namespace {

// ---- per-segment checks: each side split into one file per segment value

std::string csv_field(const std::string& s, char delim) {
  if (s.find_first_of(std::string("\"\r\n") + delim) == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

struct SplitSide {
  std::map<std::string, fs::path> files;
  std::map<std::string, std::uint64_t> rows;
};

class SegmentFiles {
 public:
  SegmentFiles() {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("mlo-segments-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  ~SegmentFiles() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  SegmentFiles(const SegmentFiles&) = delete;
  SegmentFiles& operator=(const SegmentFiles&) = delete;

  // Writes each record of `sources` to the file of its segment (the header first).
  SplitSide split(const std::vector<Source>& sources, const ReadOptions& read, const std::string& column,
                  const std::string& side) {
    SplitSide out;
    std::map<std::string, std::ofstream> streams;
    std::vector<std::string> header;
    long seg = -1;
    for (const auto& src : sources) {
      if (src.format != sources.front().format)
        throw InputError(src.display + ": --segment-by needs every " + side + " file in one format",
                         "convert the files to one format (CSV, TSV or JSON Lines)");
      RowVisitor v;
      v.header = [&](const std::vector<std::string>& names) {
        if (!header.empty() && names != header)
          throw InputError(src.display + ": its columns differ from the other " + side + " files",
                           "--segment-by splits files with the same columns in the same order");
        header = names;
        seg = column_index(names, column, src, "segment column");
      };
      v.row = [&](const std::vector<Cell>& cells, std::string_view raw) {
        std::string value = segment_of(cells[static_cast<std::size_t>(seg)]);
        auto it = streams.find(value);
        if (it == streams.end()) it = open(streams, out, value, side, src.format, header);
        it->second << raw;
        if (raw.empty() || raw.back() != '\n') it->second << '\n';
        ++out.rows[value];
      };
      v.malformed = [](const Malformed&) {};
      read_table(src, read, v);
    }
    for (auto& [value, f] : streams) {
      f.flush();
      if (!f) throw InputError(dir_.string() + ": cannot write the segment files", "check free space in the temp folder");
    }
    return out;
  }

 private:
  std::map<std::string, std::ofstream>::iterator open(std::map<std::string, std::ofstream>& streams, SplitSide& out,
                                                       const std::string& value, const std::string& side, Format format,
                                                       const std::vector<std::string>& header) {
    if (streams.size() >= kMaxSegments)
      throw InputError("more than " + std::to_string(kMaxSegments) + " segments in the " + side + " data",
                       "segment by a column with fewer values");
    const char* ext = format == Format::csv ? ".csv" : format == Format::tsv ? ".tsv" : ".jsonl";
    fs::path p = dir_ / (side + "-" + std::to_string(streams.size()) + ext);
    auto it = streams.emplace(value, std::ofstream(p, std::ios::binary)).first;
    out.files[value] = p;
    if (format != Format::jsonl) {
      char delim = format == Format::tsv ? '\t' : ',';
      for (std::size_t i = 0; i < header.size(); ++i) it->second << (i ? std::string(1, delim) : "") << csv_field(header[i], delim);
      it->second << '\n';
    }
    return it;
  }
  fs::path dir_;
};

// What one segment's own monitor run found, in brief.
nlohmann::json segment_summary(const nlohmann::json& r) {
  nlohmann::json s = {{"drift", r["summary"]["drift"]},
                      {"drifted_columns", r["summary"]["drifted_columns"]},
                      {"quality", r["summary"]["quality"]},
                      {"performance", r["summary"]["performance"]}};
  nlohmann::json failed = nlohmann::json::array();
  for (auto& m : r["metrics"]) {
    if (m["metric"] == "DatasetDriftMetric") s["share_of_drifted_columns"] = m["result"]["share_of_drifted_columns"];
    if (m["metric"] == "ModelPerformanceMetric") s["metrics"] = m["result"]["current"];
  }
  for (auto& t : r["tests"])
    if (t["group"] == "quality" && t["status"] == "FAIL" && failed.size() < 10) failed.push_back(t["description"]);
  s["failed_checks"] = failed;
  return s;
}

MonitorSpec segment_spec(const MonitorSpec& spec, const std::string& column, const fs::path& ref, const fs::path& cur) {
  MonitorSpec sub = spec;
  sub.reference = {ref.string()};
  sub.current = {cur.string()};
  sub.segments.clear();
  sub.use_profile_cache = false;
  sub.on_drift = {};
  sub.roles.ignored.push_back(column);  // constant within a segment
  std::erase(sub.roles.features, column);
  return sub;
}

}  // namespace

nlohmann::json segment_checks(const MonitorSpec& spec, const std::vector<Source>& reference,
                              const std::vector<Source>& current, const std::string& column) {
  ReadOptions read;
  read.format = spec.format;
  SegmentFiles files;
  SplitSide ref = files.split(reference, read, column, "reference");
  SplitSide cur = files.split(current, read, column, "current");
  std::set<std::string> values;
  for (auto& [v, _] : ref.rows) values.insert(v);
  for (auto& [v, _] : cur.rows) values.insert(v);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& v : values) {
    nlohmann::json s = {{"value", v}, {"reference_rows", ref.rows[v]}, {"current_rows", cur.rows[v]}};
    if (!ref.rows[v] || !cur.rows[v]) {
      s["error"] = std::string("no rows in the ") + (ref.rows[v] ? "current" : "reference") + " data";
    } else {
      try {
        s.update(segment_summary(run_monitor(segment_spec(spec, column, ref.files[v], cur.files[v]), nullptr)));
      } catch (const InputError& e) {
        s["error"] = e.what();
      }
    }
    out.push_back(s);
  }
  return out;
}

namespace {

// The registry's fairness gate: disparities on a version's evaluation data.
nlohmann::json evaluate_version_data(Repo& repo, const registry::RunArtifact& data, const registry::FairnessColumns& cols,
                                     const std::vector<std::string>& segment_columns) {
  auto sources = artifact_sources(repo, data.path, data.sha256, data.type == "dir", data.size, std::nullopt);
  nlohmann::json out = nlohmann::json::object();
  for (const auto& c : segment_columns) out[c] = fairness(sources, ReadOptions{}, c, cols.target, cols.prediction, "");
  return out;
}

const bool kEvaluatorRegistered = (registry::set_fairness_evaluator(&evaluate_version_data), true);

}  // namespace

}  // namespace mlo::monitor
