// Reading the registry for people and CI: version details, model cards,
// lineage trees, check-ref, dates.
#include <ctime>
#include <functional>
#include <sstream>

#include "core/format.h"
#include "core/error.h"
#include "core/parse.h"
#include "core/fs.h"
#include "core/hash.h"
#include "registry/registry.h"
#include "registry/runs.h"
#include "data/pointer.h"
#include "repo/repo.h"

namespace mlo::registry {

std::string format_time(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::int64_t parse_date(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    // Unix seconds; a number that does not fit is a bad date, not a crash.
    if (auto seconds = parse_i64(text)) return *seconds;
    throw InputError("cannot read the date '" + text + "': too large for unix seconds",
                     "use YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS (UTC) or unix seconds");
  }
  std::tm tm{};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  int n = std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s);
  if (n < 3) n = std::sscanf(text.c_str(), "%d-%d-%d %d:%d:%d", &y, &mo, &d, &h, &mi, &s);
  if (n < 3 || mo < 1 || mo > 12 || d < 1 || d > 31)
    throw InputError("cannot read the date '" + text + "'", "use YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS (UTC) or unix seconds");
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<std::int64_t>(timegm(&tm));
}

nlohmann::json version_json(const ModelState& m, const VersionInfo& v) {
  nlohmann::json j = {{"name", m.name},      {"version", v.version}, {"tag", v.tag},
                      {"commit", v.commit},  {"author", v.author},   {"author_email", v.email},
                      {"time", v.time},      {"date", format_time(v.time)}, {"active", v.active},
                      {"stages", v.stages},  {"aliases", v.aliases}};
  for (const char* k : {"artifact", "model_type", "description", "labels", "signature", "run", "run_stage",
                        "run_author", "run_author_email", "metrics", "params", "data", "code_commit", "runner", "environment"})
    if (v.meta.contains(k)) j[k] = v.meta[k];
  nlohmann::json approvals = nlohmann::json::array();
  for (const auto& e : m.events)
    if (e.kind == TagKind::approval && e.meta.is_object() && e.meta.value("version", "") == v.version)
      approvals.push_back({{"stage", e.stage}, {"by", e.author}, {"email", e.email}, {"date", format_time(e.time)},
                           {"reason", e.meta.value("reason", "")}});
  j["approvals"] = approvals;
  return j;
}

// ---- model card ---------------------------------------------------------------

namespace {
std::string md_escape(const std::string& s) { return markdown_cell(s); }
std::string scalar(const nlohmann::json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); }

void flatten(const nlohmann::json& j, const std::string& prefix, std::vector<std::pair<std::string, std::string>>& out) {
  if (j.is_object()) {
    for (auto& [k, v] : j.items()) flatten(v, prefix.empty() ? k : prefix + "." + k, out);
  } else {
    out.emplace_back(prefix, scalar(j));
  }
}
}  // namespace

// The training run's environment: OS, GPUs, python and every package (a
// pickled model wants the same versions where it is served).
static void card_environment(std::ostringstream& o, const nlohmann::json& e) {
  o << "\n### Environment\n\n";
  if (e.contains("os") && e["os"].is_object()) o << "- OS: " << md_escape(e["os"].value("name", "")) << "\n";
  if (e.contains("kernel")) o << "- kernel: " << md_escape(scalar(e["kernel"])) << (e.contains("libc") ? ", " + md_escape(scalar(e["libc"])) : "") << "\n";
  if (e.contains("gpus") && e["gpus"].is_array())
    for (const auto& g : e["gpus"])
      if (g.is_object()) o << "- GPU: " << md_escape(g.value("name", "")) << ", driver " << md_escape(g.value("driver", "")) << "\n";
  if (e.contains("container") && e["container"].is_object())
    o << "- image: `" << md_escape(e["container"].value("image", "")) << "` (`" << e["container"].value("digest", "") << "`)\n";
  if (!e.contains("python") || !e["python"].is_object()) return;
  const auto& py = e["python"];
  o << "- python: " << md_escape(py.contains("version") ? scalar(py["version"]) : "?") << "\n";
  if (!py.contains("packages") || !py["packages"].is_object() || py["packages"].empty()) return;
  o << "\n| package | version |\n|---|---|\n";
  for (auto& [k, v] : py["packages"].items()) o << "| " << md_escape(k) << " | " << md_escape(scalar(v)) << " |\n";
}

std::string model_card(Repo& repo, const std::string& ref) {
  ResolvedModel rm = resolve_model(repo, ref);
  ModelState m = load_model(repo, rm.name);
  const VersionInfo& v = *m.find(rm.version);
  const auto& meta = v.meta;
  std::ostringstream o;
  o << "# Model card: " << m.name << " " << v.version << "\n\n";
  if (meta.contains("description")) o << meta["description"].get<std::string>() << "\n\n";
  o << "## What it is\n\n";
  o << "| | |\n|---|---|\n";
  o << "| Model | `" << m.name << "` |\n| Version | `" << v.version << "` (tag `" << v.tag << "`) |\n";
  if (meta.contains("model_type")) o << "| Type | " << scalar(meta["model_type"]) << " |\n";
  o << "| Registered | " << format_time(v.time) << " by " << v.author << " <" << v.email << "> |\n";
  o << "| Commit | `" << v.commit << "` |\n";
  o << "| Stages | " << (v.stages.empty() ? "none" : "") ;
  for (size_t i = 0; i < v.stages.size(); ++i) o << (i ? ", " : "") << v.stages[i];
  o << " |\n";
  if (!v.aliases.empty()) {
    o << "| Aliases | ";
    for (size_t i = 0; i < v.aliases.size(); ++i) o << (i ? ", " : "") << v.aliases[i];
    o << " |\n";
  }
  if (meta.contains("labels"))
    for (auto& [k, val] : meta["labels"].items()) o << "| Label " << md_escape(k) << " | " << md_escape(scalar(val)) << " |\n";
  if (!v.active) o << "| Status | **deregistered** |\n";
  if (m.deprecated) o << "| Model status | **deprecated** |\n";
  o << "\n## Artifact\n\n";
  if (meta.contains("artifact")) {
    const auto& a = meta["artifact"];
    o << "- path: `" << a.value("path", "") << "` (" << a.value("type", "file") << ", " << a.value("size", 0) << " bytes";
    if (a.contains("files")) o << ", " << a["files"].get<std::uint64_t>() << " files";
    o << ")\n- sha256: `" << a.value("sha256", "") << "`\n";
  } else {
    o << "Registered without mlo metadata (e.g. by GTO): no artifact hash recorded.\n";
  }
  if (meta.contains("signature")) o << "\n### Signature\n\n```json\n" << meta["signature"].dump(2) << "\n```\n";
  o << "\n## Training run\n\n";
  if (meta.contains("run")) {
    o << "- run: `" << scalar(meta["run"]) << "`";
    if (meta.contains("run_stage")) o << " (stage " << scalar(meta["run_stage"]) << ")";
    o << "\n";
    if (meta.contains("run_author")) o << "- author: " << scalar(meta["run_author"]) << " <" << scalar(meta["run_author_email"]) << ">\n";
    if (meta.contains("run_commit")) o << "- code commit: `" << scalar(meta["run_commit"]) << "`\n";
  } else {
    o << "No run recorded (registered from a path).\n";
  }
  if (meta.contains("environment") && meta["environment"].is_object()) card_environment(o, meta["environment"]);
  o << "\n## Data\n\n";
  if (meta.contains("data") && !meta["data"].empty()) {
    o << "| path | sha256 |\n|---|---|\n";
    for (const auto& d : meta["data"]) o << "| `" << md_escape(d.value("path", "")) << "` | `" << d.value("sha256", "") << "` |\n";
  } else {
    o << "No data recorded.\n";
  }
  o << "\n## Parameters\n\n";
  std::vector<std::pair<std::string, std::string>> rows;
  if (meta.contains("params")) flatten(meta["params"], "", rows);
  if (rows.empty()) o << "None recorded.\n";
  else {
    o << "| parameter | value |\n|---|---|\n";
    for (auto& [k, val] : rows) o << "| " << md_escape(k) << " | " << md_escape(val) << " |\n";
  }
  o << "\n## Metrics\n\n";
  rows.clear();
  if (meta.contains("metrics")) flatten(meta["metrics"], "", rows);
  if (rows.empty()) o << "None recorded.\n";
  else {
    o << "| metric | value |\n|---|---|\n";
    for (auto& [k, val] : rows) o << "| " << md_escape(k) << " | " << md_escape(val) << " |\n";
    if (meta.contains("metrics_file")) o << "\nEvaluation results from `" << scalar(meta["metrics_file"]) << "`";
    if (meta.contains("data") && !meta["data"].empty()) o << (meta.contains("metrics_file") ? "; " : "\n") << "evaluated on the data above";
    if (meta.contains("metrics_file") || (meta.contains("data") && !meta["data"].empty())) o << ".\n";
  }
  o << "\n## Lineage\n\n```\n" << lineage_text(lineage(repo, m.name + "@" + v.version)) << "```\n";
  o << "\n## Stage history\n\n| date | event | stage | by | note |\n|---|---|---|---|---|\n";
  for (const auto& e : m.events) {
    if (e.kind != TagKind::assign && e.kind != TagKind::unassign && e.kind != TagKind::register_ &&
        e.kind != TagKind::deregister)
      continue;
    std::string ver = e.meta.is_object() ? e.meta.value("version", e.version) : e.version;
    if (ver != v.version) continue;
    std::string note = e.forced() ? "**forced**" : "";
    if (e.meta.is_object() && e.meta.contains("replaced_by")) note += "replaced by " + scalar(e.meta["replaced_by"]);
    if (e.meta.is_object() && e.meta.contains("reason")) note += (note.empty() ? "" : "; ") + scalar(e.meta["reason"]);
    o << "| " << format_time(e.time) << " | " << to_string(e.kind) << " | " << (e.stage.empty() ? "-" : e.stage)
      << " | " << md_escape(e.author) << " | " << md_escape(note) << " |\n";
  }
  o << "\n## Approvals\n\n";
  bool any = false;
  for (const auto& e : m.events)
    if (e.kind == TagKind::approval && e.meta.is_object() && e.meta.value("version", "") == v.version) {
      if (!any) o << "| date | stage | approver | why |\n|---|---|---|---|\n";
      any = true;
      o << "| " << format_time(e.time) << " | " << e.stage << " | " << md_escape(e.author) << " <" << e.email << "> | "
        << md_escape(e.meta.value("reason", "")) << " |\n";
    }
  if (!any) o << "None.\n";
  return o.str();
}

// ---- lineage ------------------------------------------------------------------

namespace {
nlohmann::json node(const std::string& kind, const std::string& id, const std::string& label) {
  return {{"kind", kind}, {"id", id}, {"label", label}, {"children", nlohmann::json::array()}};
}

nlohmann::json version_node(const ModelState& m, const VersionInfo& v, bool with_inputs) {
  std::string sha = v.meta.contains("artifact") ? v.meta["artifact"].value("sha256", "") : "";
  nlohmann::json n = node("model_version", m.name + "@" + v.version,
                          m.name + "@" + v.version + (sha.empty() ? "" : " (sha256 " + sha.substr(0, 12) + ")"));
  if (with_inputs && v.meta.contains("run")) {
    std::string run = v.meta["run"].get<std::string>();
    nlohmann::json r = node("run", run, "run " + run + (v.meta.contains("run_stage") ? " (stage " + v.meta["run_stage"].get<std::string>() + ")" : ""));
    if (v.meta.contains("data"))
      for (const auto& d : v.meta["data"])
        r["children"].push_back(node("data", d.value("path", ""), d.value("path", "") + " (sha256 " + d.value("sha256", "").substr(0, 12) + ")"));
    n["children"].push_back(r);
  } else if (with_inputs && v.meta.contains("artifact")) {
    std::string p = v.meta["artifact"].value("path", "");
    n["children"].push_back(node("data", p, "from " + p + " (no run recorded)"));
  }
  for (const auto& s : v.stages) n["children"].push_back(node("stage", m.name + "#" + s, "stage " + s));
  for (const auto& a : v.aliases) n["children"].push_back(node("alias", m.name + "@" + a, "alias " + a));
  return n;
}
}  // namespace

nlohmann::json lineage(Repo& repo, const std::string& target) {
  // A model reference?
  bool looks_like_ref = target.find_first_of("@#") != std::string::npos;
  if (looks_like_ref || (is_valid_model_name(target) && find_model(repo, target))) {
    ResolvedModel rm = resolve_model(repo, target);
    ModelState m = load_model(repo, rm.name);
    return version_node(m, *m.find(rm.version), true);
  }
  // Every version, for matching runs and paths.
  auto models = list_models(repo);
  auto matching = [&](const std::function<bool(const VersionInfo&)>& pred) {
    std::vector<nlohmann::json> out;
    for (const auto& s : models) {
      ModelState m = load_model(repo, s["name"].get<std::string>());
      for (const auto& v : m.versions)
        if (pred(v)) out.push_back(version_node(m, v, false));
    }
    return out;
  };
  // A run id?
  auto runs = make_run_lookup(repo);
  auto run = runs->find(target);
  auto versions_of_run = matching([&](const VersionInfo& v) { return v.meta.value("run", "") == target; });
  if (run || !versions_of_run.empty()) {
    nlohmann::json r = node("run", target, "run " + target);
    if (run)
      for (const auto& d : run->deps) r["children"].push_back(node("data", d.path, d.path + " (sha256 " + d.sha256.substr(0, 12) + ")"));
    for (auto& v : versions_of_run) r["children"].push_back(v);
    return r;
  }
  // A path: its hash now (pointer or file), then runs and versions that used it.
  std::string rel = repo.relative(target);
  std::string sha;
  fs::path abs = fs::absolute(target);
  if (auto ptr = read_file_if_exists(abs.string() + kPointerSuffix)) sha = parse_pointer(*ptr, abs.string() + ".mlo").sha256;
  else if (fs::is_regular_file(abs)) sha = sha256_file(abs);
  nlohmann::json root = node("data", rel, rel + (sha.empty() ? "" : " (sha256 " + sha.substr(0, 12) + ")"));
  auto uses = matching([&](const VersionInfo& v) {
    if (v.meta.contains("artifact")) {
      const auto& a = v.meta["artifact"];
      if (a.value("path", "") == rel || (!sha.empty() && a.value("sha256", "") == sha)) return true;
    }
    if (v.meta.contains("data"))
      for (const auto& d : v.meta["data"])
        if (d.value("path", "") == rel || (!sha.empty() && d.value("sha256", "") == sha)) return true;
    return false;
  });
  if (!sha.empty())
    for (const auto& r : runs->runs_using(sha)) root["children"].push_back(node("run", r.id, "run " + r.id));
  for (auto& v : uses) root["children"].push_back(v);
  if (root["children"].empty() && sha.empty())
    throw InputError("'" + target + "' is neither a model version, a run id nor a path mlo knows",
                     "give NAME@VERSION, NAME#STAGE, a run id, or a data/model path");
  return root;
}

namespace {
void text_tree(const nlohmann::json& n, const std::string& prefix, bool last, bool root, std::ostringstream& o) {
  if (root) o << n["label"].get<std::string>() << "\n";
  else o << prefix << (last ? "└── " : "├── ") << n["label"].get<std::string>() << "\n";
  const auto& ch = n["children"];
  for (size_t i = 0; i < ch.size(); ++i)
    text_tree(ch[i], root ? "" : prefix + (last ? "    " : "│   "), i + 1 == ch.size(), false, o);
}
}  // namespace

std::string lineage_text(const nlohmann::json& tree) {
  std::ostringstream o;
  text_tree(tree, "", true, true, o);
  return o.str();
}


// ---- check-ref -------------------------------------------------------------------

nlohmann::json check_ref(Repo& repo, const std::string& ref) {
  std::string tag = ref;
  if (tag.rfind("refs/tags/", 0) == 0) tag = tag.substr(10);
  auto parsed = parse_tag_name(tag);
  if (!parsed)
    throw InputError("'" + ref + "' is not a registry tag",
                     "registry tags look like NAME@v1.2.0, NAME#STAGE#N, NAME#STAGE!#N, NAME@v1.2.0!, NAME@deprecated#N");
  nlohmann::json j = {{"tag", tag}, {"name", parsed->model}, {"event", to_string(parsed->kind)}};
  j["version"] = parsed->version;
  j["stage"] = parsed->stage;
  j["exists"] = false;
  auto t = repo.git().read_tag(tag);
  if (t) {
    j["exists"] = true;
    j["commit"] = t->commit;
    auto meta = extract_meta(t->message);
    if (meta.is_object()) {
      if (meta.contains("version") && parsed->version.empty()) j["version"] = meta["version"];
      if (meta.value("event", "") == "alias") {
        j["alias"] = parsed->stage;
        j["event"] = parsed->kind == TagKind::assign ? "alias_set" : "alias_removed";
      }
      j["forced"] = meta.value("forced", false);
    }
    if (j["version"] == "" && (parsed->kind == TagKind::assign || parsed->kind == TagKind::unassign)) {
      if (auto m = find_model(repo, parsed->model))
        for (const auto& v : m->versions)
          if (v.commit == t->commit) j["version"] = v.version;
    }
    if (j["version"] != "") {
      try {
        ResolvedModel rm = resolve_model(repo, parsed->model + "@" + j["version"].get<std::string>());
        j["artifact_sha256"] = rm.artifact_sha256;
        j["model_type"] = rm.model_type;
      } catch (const Error&) {
      }
    }
  }
  return j;
}

}  // namespace mlo::registry
