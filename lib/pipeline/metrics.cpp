#include "pipeline/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <set>

#include "core/format.h"
#include "core/error.h"
#include "core/fs.h"
#include "pipeline/pipeline.h"
#include "pipeline/run.h"
#include "repo/repo.h"

namespace mlo {

using json = nlohmann::json;

namespace {

FileReader reader_for(Repo& repo, const std::string& rev) {
  if (rev.empty()) {
    fs::path root = repo.root();
    return [root](const std::string& rel) { return read_file_if_exists(root / rel); };
  }
  std::string commit = repo.git().resolve_commit(rev);
  GitRepo* git = &repo.git();
  return [git, commit](const std::string& rel) { return git->read_file_at(commit, rel); };
}

Pipeline pipeline_at(const FileReader& read, const std::string& rev) {
  auto text = read("mlo.yaml");
  if (!text) return {};
  return parse_pipeline(*text, rev.empty() ? "mlo.yaml" : rev + ":mlo.yaml");
}

}  // namespace

json parse_metrics_text(const std::string& text, const std::string& rel) {
  json doc;
  if (rel.size() > 5 && rel.substr(rel.size() - 5) == ".json") {
    doc = json::parse(text, nullptr, false);
    if (doc.is_discarded()) throw InputError(rel + ": metrics file is not valid JSON");
  } else {
    doc = read_yaml_json(text, rel);
  }
  return flatten_json(doc);
}

json metrics_at(Repo& repo, const std::string& rev) {
  FileReader read = reader_for(repo, rev);
  Pipeline p = pipeline_at(read, rev);
  json lock;
  if (auto text = read("mlo.lock")) lock = parse_lock(*text, rev.empty() ? "mlo.lock" : rev + ":mlo.lock");
  json out = json::object();
  for (const auto& s : p.stages) {
    for (const auto& m : s.metrics) {
      if (auto text = read(m)) {
        out[m] = parse_metrics_text(*text, m);
      } else if (lock.is_object() && lock["stages"].contains(s.name)) {
        for (const auto& e : lock["stages"][s.name].value("metrics", json::array()))
          if (e.value("path", "") == m) out[m] = e.value("values", json::object());
      }
    }
  }
  return out;
}

json params_at(Repo& repo, const std::string& rev) {
  FileReader read = reader_for(repo, rev);
  Pipeline p = pipeline_at(read, rev);
  json out = json::object();
  for (const auto& s : p.stages)
    for (const auto& ref : s.params) {
      try {
        json v = resolve_params({ref}, read);
        out[display_param(ref)] = v[ref];
      } catch (const InputError&) {
        if (rev.empty()) throw;  // the work tree's own files must parse; old revisions may lack a key
      }
    }
  return out;
}

json diff_values(const json& a, const json& b, bool per_file, bool all) {
  json rows = json::array();
  auto compare = [&](const std::string& path, const json& x, const json& y) {
    std::set<std::string> keys;
    if (x.is_object()) for (auto it = x.begin(); it != x.end(); ++it) keys.insert(it.key());
    if (y.is_object()) for (auto it = y.begin(); it != y.end(); ++it) keys.insert(it.key());
    for (const auto& k : keys) {
      json o = x.is_object() && x.contains(k) ? x[k] : json();
      json n = y.is_object() && y.contains(k) ? y[k] : json();
      if (o == n && !all) continue;
      json row = {{"key", k}, {"old", o}, {"new", n}};
      if (per_file) row["path"] = path;
      if (o.is_number() && n.is_number()) row["change"] = n.get<double>() - o.get<double>();
      rows.push_back(row);
    }
  };
  if (!per_file) {
    compare("", a, b);
    return rows;
  }
  std::set<std::string> files;
  for (auto it = a.begin(); it != a.end(); ++it) files.insert(it.key());
  for (auto it = b.begin(); it != b.end(); ++it) files.insert(it.key());
  for (const auto& f : files) compare(f, a.contains(f) ? a[f] : json::object(), b.contains(f) ? b[f] : json::object());
  return rows;
}

std::string value_text(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v.get<double>());
    return buf;
  }
  return v.dump();
}

std::string markdown_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows) {
  auto cell = [](const std::string& s) { return markdown_cell(s); };
  std::string out = "|";
  for (const auto& h : headers) out += " " + cell(h) + " |";
  out += "\n|";
  for (size_t i = 0; i < headers.size(); ++i) out += "---|";
  out += "\n";
  for (const auto& r : rows) {
    out += "|";
    for (const auto& c : r) out += " " + cell(c) + " |";
    out += "\n";
  }
  return out;
}

std::string time_text(double t) {
  if (t <= 0) return "-";
  std::time_t s = static_cast<std::time_t>(t);
  std::tm tm{};
  ::localtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string text_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w(headers.size());
  for (size_t i = 0; i < headers.size(); ++i) w[i] = headers[i].size();
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
  std::string out;
  auto line = [&](const std::vector<std::string>& r) {
    for (size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size() && i < w.size()) out.append(w[i] - r[i].size() + 2, ' ');
    }
    out += '\n';
  };
  line(headers);
  for (const auto& r : rows) line(r);
  return out;
}

}  // namespace mlo
