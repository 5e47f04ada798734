#include "pipeline/lock_file.h"

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/safe_path.h"
#include "pipeline/plan.h"
#include "repo/config.h"

namespace mlo {

using json = nlohmann::json;

json parse_lock(const std::string& text, const std::string& where) {
  json doc = read_yaml_json(text, where);
  if (doc.is_null()) return {{"version", 1}, {"stages", json::object()}};
  // (value("version", 0) would throw on a version that is not a number.)
  if (!doc.is_object() || !doc.contains("version") || doc["version"] != 1 || !doc.contains("stages") ||
      !doc["stages"].is_object())
    throw InputError(where + ": not a version 1 mlo.lock", "restore it with 'git checkout -- mlo.lock', or delete it and run 'mlo run'");
  return doc;
}

std::string serialize_lock(const json& lock) {
  return "# Written by 'mlo run': the resolved deps, params and outs of each stage. Commit it.\n" + json_to_yaml(lock);
}

std::vector<TrackedOutput> lock_outputs(const fs::path& root) {
  LockFile lock = LockFile::load(root);
  std::vector<TrackedOutput> out;
  for (const auto& stage : lock.stage_names()) {
    json e = lock.entry(stage);
    if (e.is_null() || !e.contains("outs")) continue;
    for (const auto& o : e["outs"]) {
      std::string hash = o.value("sha256", "");
      if (!is_sha256_hex(hash)) continue;
      TrackedOutput t;
      t.path = checked_relative(o.value("path", ""), "mlo.lock (stage " + stage + ")");
      t.type = o.value("type", "file") == "dir" ? EntryType::dir : EntryType::file;
      t.sha256 = hash;
      bool tree = o.contains("manifest_version") && o["manifest_version"] == 2;
      if (t.type == EntryType::dir && tree) t.manifest_version = 2;
      t.stage = stage;
      out.push_back(std::move(t));
    }
  }
  return out;
}

LockFile LockFile::load(const fs::path& root) {
  LockFile f;
  auto text = read_file_if_exists(root / "mlo.lock");
  f.doc_ = text ? parse_lock(*text, "mlo.lock") : json{{"version", 1}, {"stages", json::object()}};
  return f;
}

namespace {
bool is_string_or_absent(const json& o, const char* key) { return !o.contains(key) || o[key].is_string(); }

// An entry the plan can read without surprises: mlo.lock is edited by people
// and merged by git, and a damaged entry only means "never ran".
bool well_formed(const json& e) {
  if (!e.is_object() || !is_string_or_absent(e, "key") || !is_string_or_absent(e, "run")) return false;
  if (e.contains("params") && !e["params"].is_object()) return false;
  for (const char* list : {"deps", "outs", "metrics"}) {
    if (!e.contains(list)) continue;
    if (!e[list].is_array()) return false;
    for (const auto& o : e[list])
      if (!o.is_object() || !is_string_or_absent(o, "path") || !is_string_or_absent(o, "sha256")) return false;
  }
  return true;
}
}  // namespace

std::vector<std::string> LockFile::stage_names() const {
  std::vector<std::string> out;
  for (auto it = doc_["stages"].begin(); it != doc_["stages"].end(); ++it) out.push_back(it.key());
  return out;
}

json LockFile::entry(const std::string& stage) const {
  if (!doc_["stages"].contains(stage)) return json();
  const json& e = doc_["stages"][stage];
  return well_formed(e) ? e : json();
}

namespace {
// A record's outs / metric_files as mlo.lock lists them: [{path, ...}].
json listed(const json& record, const char* field, bool metrics) {
  json out = json::array();
  if (!record.contains(field) || !record[field].is_object()) return out;
  for (auto it = record[field].begin(); it != record[field].end(); ++it) {
    const json& o = it.value();
    if (metrics) {
      out.push_back({{"path", it.key()}, {"sha256", o.value("sha256", "")}, {"values", o.value("values", json::object())}});
    } else {
      json entry = o;
      entry["path"] = it.key();
      out.push_back(entry);
    }
  }
  return out;
}
}  // namespace

void LockFile::set(const StageDef& s, const std::string& key, const json& deps, const json& params, const json& record) {
  json e = json::object();
  e["cmd"] = s.argv.empty() ? json(s.shell) : json(s.argv);
  e["key"] = key;
  e["run"] = record.value("run_id", "");
  e["record"] = record.value("record", "");
  e["deps"] = json::array();
  for (auto it = deps.begin(); it != deps.end(); ++it) e["deps"].push_back({{"path", it.key()}, {"sha256", it.value()}});
  e["params"] = display_params(params);
  e["outs"] = listed(record, "outs", false);
  e["metrics"] = listed(record, "metric_files", true);
  doc_["stages"][s.name] = std::move(e);
  dirty_ = true;
}

bool LockFile::write(const fs::path& root, const Pipeline& p) {
  if (!dirty_) return false;
  dirty_ = false;
  json out = {{"version", 1}, {"stages", json::object()}};
  for (const auto& st : p.stages)
    if (doc_["stages"].contains(st.name)) out["stages"][st.name] = doc_["stages"][st.name];
  std::string text = serialize_lock(out);
  if (read_file_if_exists(root / "mlo.lock") == text) return false;
  // Not fsynced (like git's own files): the objects it names already are.
  write_file_atomic(root / "mlo.lock", text, false);
  return true;
}

}  // namespace mlo
