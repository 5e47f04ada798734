// Registry state: tag messages, replaying events into a model's state, the
// mlo.yaml configuration, and the SQLite mirror of the tags.
#include "registry/registry.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <set>
#include <unordered_map>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/interrupt.h"
#include "core/parallel.h"
#include "index/database.h"
#include "repo/config.h"
#include "repo/refs.h"
#include "repo/repo.h"

namespace mlo::registry {

// ---- messages -------------------------------------------------------------

std::string compose_message(const std::string& human, const nlohmann::json& meta) {
  std::string m = human + "\n";
  if (meta.is_object() && !meta.empty()) m += "\n" + std::string(kMetaMarker) + "\n" + meta.dump(2) + "\n";
  return m;
}

namespace {
std::string_view meta_text(std::string_view message) {
  size_t at = message.find(std::string("\n") + kMetaMarker);
  if (at == std::string::npos) return {};
  size_t start = message.find('\n', at + 1);
  if (start == std::string::npos) return {};
  // A signed tag carries its signature after the message: stop there.
  size_t end = message.find("\n-----BEGIN ", start);
  return message.substr(start, end == std::string::npos ? std::string::npos : end - start);
}
}  // namespace

nlohmann::json extract_meta(const std::string& message) {
  std::string_view text = meta_text(message);
  if (text.empty()) return nullptr;
  auto j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return nullptr;
  return j;
}

std::int64_t Event::order_ms() const {
  if (meta.is_object() && meta.contains("time_ms") && meta["time_ms"].is_number_integer()) {
    std::int64_t ms = meta["time_ms"].get<std::int64_t>();
    if (ms / 1000 == time) return ms;  // trust it only when it agrees with the tagger's time
  }
  return time * 1000;
}

nlohmann::json Event::to_json() const {
  nlohmann::json j = {{"tag", tag},       {"event", to_string(kind)}, {"name", model},
                      {"time", time},     {"date", format_time(time)}, {"author", author},
                      {"author_email", email}, {"commit", commit},   {"message", message}};
  std::string v = meta.is_object() ? meta.value("version", version) : version;
  if (!v.empty()) j["version"] = v;
  if (!stage.empty()) j[is_alias() ? "alias" : "stage"] = stage;
  if (counter) j["counter"] = counter;
  j["forced"] = forced();
  if (meta.is_object()) {
    for (const char* k : {"reason", "replaced_by", "replaces", "gates"})
      if (meta.contains(k)) j[k] = meta[k];
  }
  return j;
}

// ---- state ---------------------------------------------------------------

const VersionInfo* ModelState::find(const std::string& version) const {
  for (const auto& v : versions)
    if (v.version == version) return &v;
  return nullptr;
}

const VersionInfo* ModelState::latest() const {
  const VersionInfo* best = nullptr;
  for (const auto& v : versions)
    if (v.active && (!best || v.time_ms >= best->time_ms)) best = &v;
  return best;
}

const VersionInfo* ModelState::greatest() const {
  const VersionInfo* best = nullptr;
  std::optional<SemVer> bv;
  for (const auto& v : versions) {
    if (!v.active) continue;
    auto sv = parse_semver(v.version);
    if (!sv) continue;
    if (!best || compare_semver(*sv, *bv) > 0) {
      best = &v;
      bv = sv;
    }
  }
  return best;
}

const VersionInfo* ModelState::holder(const std::string& stage) const {
  auto it = stages.find(stage);
  if (it == stages.end() || it->second.empty()) return nullptr;
  return find(it->second.back());
}

std::int64_t ModelState::max_counter() const {
  std::int64_t c = 0;
  for (const auto& e : events)
    if (e.kind != TagKind::approval) c = std::max(c, e.counter);
  return c;
}

nlohmann::json ModelState::summary_json() const {
  nlohmann::json j;
  j["name"] = name;
  j["deprecated"] = deprecated;
  int active = 0;
  for (const auto& v : versions) active += v.active ? 1 : 0;
  j["versions"] = active;
  const VersionInfo* l = latest();
  const VersionInfo* g = greatest();
  j["latest"] = l ? nlohmann::json(l->version) : nlohmann::json(nullptr);
  j["greatest"] = g ? nlohmann::json(g->version) : nlohmann::json(nullptr);
  nlohmann::json st = nlohmann::json::object();
  for (const auto& [s, holders] : stages)
    if (!holders.empty()) st[s] = holders;
  j["stages"] = st;
  j["aliases"] = aliases;
  j["updated"] = events.empty() ? 0 : events.back().time;
  return j;
}

namespace {
bool event_before(const Event& a, const Event& b) {
  if (a.time != b.time) return a.time < b.time;
  if (a.order_ms() != b.order_ms()) return a.order_ms() < b.order_ms();
  bool ap = a.kind == TagKind::approval, bp = b.kind == TagKind::approval;
  if (ap != bp) return bp;  // approvals after same-second GTO events
  if (a.counter != b.counter) return a.counter < b.counter;
  return a.tag < b.tag;
}

void erase_value(std::vector<std::string>& v, const std::string& x) { v.erase(std::remove(v.begin(), v.end(), x), v.end()); }
}  // namespace

ModelState replay(const std::string& model, std::vector<Event> events) {
  std::stable_sort(events.begin(), events.end(), event_before);
  ModelState m;
  m.name = model;
  auto version_of = [&](const Event& e) -> std::string {
    if (e.meta.is_object() && e.meta.contains("version") && e.meta["version"].is_string())
      return e.meta["version"].get<std::string>();
    if (!e.version.empty()) return e.version;
    // GTO: a stage tag names the version registered at the same commit.
    const VersionInfo* found = nullptr;
    for (const auto& v : m.versions)
      if (v.commit == e.commit && v.active) found = &v;
    return found ? found->version : "";
  };
  for (const auto& e : events) {
    switch (e.kind) {
      case TagKind::register_: {
        VersionInfo* v = nullptr;
        for (auto& x : m.versions)
          if (x.version == e.version) v = &x;
        if (!v) {
          m.versions.emplace_back();
          v = &m.versions.back();
        }
        v->version = e.version;
        v->tag = e.tag;
        v->commit = e.commit;
        v->author = e.author;
        v->email = e.email;
        v->time = e.time;
        v->time_ms = e.order_ms();
        v->active = true;
        v->meta = e.meta.is_object() ? e.meta : nlohmann::json::object();
        break;
      }
      case TagKind::deregister:
        for (auto& x : m.versions)
          if (x.version == e.version) x.active = false;
        for (auto& [s, h] : m.stages) erase_value(h, e.version);
        for (auto it = m.aliases.begin(); it != m.aliases.end();)
          it = it->second == e.version ? m.aliases.erase(it) : std::next(it);
        break;
      case TagKind::assign: {
        std::string v = version_of(e);
        if (v.empty()) break;
        if (e.is_alias()) {
          m.aliases[e.stage] = v;
        } else {
          auto& h = m.stages[e.stage];
          erase_value(h, v);
          h.push_back(v);
        }
        break;
      }
      case TagKind::unassign: {
        std::string v = version_of(e);
        if (e.is_alias()) {
          auto it = m.aliases.find(e.stage);
          if (it != m.aliases.end() && (v.empty() || it->second == v)) m.aliases.erase(it);
        } else if (!v.empty()) {
          erase_value(m.stages[e.stage], v);
        }
        break;
      }
      case TagKind::deprecate:
        m.deprecated = true;
        break;
      case TagKind::approval:
        break;
    }
  }
  for (auto& v : m.versions) {
    v.stages.clear();
    v.aliases.clear();
  }
  for (auto& [s, holders] : m.stages)
    for (const auto& h : holders)
      for (auto& v : m.versions)
        if (v.version == h) v.stages.push_back(s);
  for (auto& [a, ver] : m.aliases)
    for (auto& v : m.versions)
      if (v.version == ver) v.aliases.push_back(a);
  m.events = std::move(events);
  return m;
}

// ---- configuration -------------------------------------------------------

const StageConfig* RegistryConfig::stage(const std::string& name) const {
  for (const auto& s : stages)
    if (s.name == name) return &s;
  return nullptr;
}

std::string RegistryConfig::stage_names() const {
  std::string out;
  for (const auto& s : stages) out += (out.empty() ? "" : ", ") + s.name;
  return out;
}

MetricGate parse_metric_gate(const std::string& text, const std::string& where) {
  static const char* ops[] = {">=", "<=", "==", "!=", ">", "<"};
  for (const char* op : ops) {
    size_t at = text.find(op);
    if (at == std::string::npos) continue;
    auto trim = [](std::string s) {
      while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
      size_t i = 0;
      while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      return s.substr(i);
    };
    MetricGate g;
    g.metric = trim(text.substr(0, at));
    g.op = op;
    g.text = text;
    std::string num = trim(text.substr(at + std::string(op).size()));
    try {
      size_t used = 0;
      g.value = std::stod(num, &used);
      if (used != num.size() || g.metric.empty()) throw std::invalid_argument("x");
    } catch (...) {
      break;
    }
    return g;
  }
  throw InputError(where + ": cannot read the metric gate '" + text + "'",
                   "write METRIC OP NUMBER, e.g. 'accuracy >= 0.9' or 'rmse < 3.2' (OP: >= > <= < == !=)");
}

namespace {
YAML::Node load_mlo_yaml(Repo& repo) {
  fs::path p = repo.root() / "mlo.yaml";
  if (!fs::exists(p)) return YAML::Node();
  return load_yaml_file(p);
}

std::optional<double> opt_number(const YAML::Node& n, const char* key, const std::string& where) {
  if (!n[key]) return std::nullopt;
  try {
    return n[key].as<double>();
  } catch (...) {
    throw InputError(where + "." + key + ": expected a number, got '" + n[key].as<std::string>("?") + "'");
  }
}

bool opt_bool(const YAML::Node& n, const char* key, bool fallback, const std::string& where) {
  if (!n[key]) return fallback;
  try {
    return n[key].as<bool>();
  } catch (...) {
    throw InputError(where + "." + key + ": expected true or false");
  }
}

StageConfig parse_stage(const std::string& name, const YAML::Node& n, const std::string& where) {
  check_name(name, "stage");
  StageConfig s;
  s.name = name;
  s.single = !(name == "dev" || name == "archived");
  if (!n || n.IsNull()) return s;
  if (!n.IsMap()) throw InputError(where + ": expected a mapping (single:, gates:)");
  s.single = opt_bool(n, "single", s.single, where);
  YAML::Node g = n["gates"];
  if (!g || g.IsNull()) return s;
  std::string gw = where + ".gates";
  if (!g.IsMap()) throw InputError(gw + ": expected a mapping (metrics:, beat:, approvals:, on_remote:, check:)");
  if (auto m = g["metrics"]) {
    if (m.IsScalar()) s.metrics.push_back(parse_metric_gate(m.as<std::string>(), gw + ".metrics"));
    else
      for (const auto& x : m) s.metrics.push_back(parse_metric_gate(x.as<std::string>(), gw + ".metrics"));
  }
  if (auto b = g["beat"]) {
    auto one = [&](const YAML::Node& x, const std::string& w) {
      BeatGate bg;
      if (x.IsScalar()) {
        bg.metric = x.as<std::string>();
      } else {
        if (!x["metric"]) throw InputError(w + ": 'metric' is required");
        bg.metric = x["metric"].as<std::string>();
        bg.greater_is_better = opt_bool(x, "greater_is_better", true, w);
        bg.threshold = opt_number(x, "threshold", w);
        bg.min_absolute_change = opt_number(x, "min_absolute_change", w);
        bg.min_relative_change = opt_number(x, "min_relative_change", w);
        if (bg.min_absolute_change && *bg.min_absolute_change < 0)
          throw InputError(w + ".min_absolute_change: must be a positive number");
        if (bg.min_relative_change && (*bg.min_relative_change < 0 || *bg.min_relative_change > 1))
          throw InputError(w + ".min_relative_change: must be between 0 and 1 (as in MLflow's MetricThreshold)");
      }
      s.beat.push_back(bg);
    };
    if (b.IsSequence())
      for (size_t i = 0; i < b.size(); ++i) one(b[i], gw + ".beat[" + std::to_string(i) + "]");
    else
      one(b, gw + ".beat");
  }
  if (auto a = g["approvals"]) {
    try {
      s.approvals = a.as<int>();
    } catch (...) {
      throw InputError(gw + ".approvals: expected a number of distinct approvers");
    }
  }
  s.author_may_approve = opt_bool(g, "author_may_approve", false, gw);
  s.on_remote = opt_bool(g, "on_remote", false, gw);
  if (auto c = g["check"]) s.check = c.as<std::string>();
  return s;
}
}  // namespace

RegistryConfig load_registry_config(Repo& repo) {
  RegistryConfig cfg;
  YAML::Node root = load_mlo_yaml(repo);
  YAML::Node reg = root ? root["registry"] : YAML::Node();
  YAML::Node stages = reg ? reg["stages"] : YAML::Node();
  if (stages && !stages.IsNull()) {
    if (!stages.IsMap()) throw InputError("mlo.yaml: registry.stages: expected a mapping of stage names");
    for (const auto& kv : stages) {
      std::string name = kv.first.as<std::string>();
      cfg.stages.push_back(parse_stage(name, kv.second, "mlo.yaml: registry.stages." + name));
    }
  } else {
    for (const char* n : {"dev", "staging", "production"}) cfg.stages.push_back(parse_stage(n, YAML::Node(), ""));
  }
  if (!cfg.stage("archived")) cfg.stages.push_back(parse_stage("archived", YAML::Node(), ""));
  if (reg && reg["git_remote"]) cfg.git_remote = reg["git_remote"].as<std::string>();
  return cfg;
}

std::map<std::string, ModelDecl> load_model_decls(Repo& repo) {
  std::map<std::string, ModelDecl> out;
  YAML::Node root = load_mlo_yaml(repo);
  YAML::Node models = root ? root["models"] : YAML::Node();
  if (!models || models.IsNull()) return out;
  if (!models.IsMap()) throw InputError("mlo.yaml: models: expected a mapping NAME: {path:, type:, description:}");
  for (const auto& kv : models) {
    ModelDecl d;
    d.name = kv.first.as<std::string>();
    std::string where = "mlo.yaml: models." + d.name;
    check_name(d.name, "model name");
    const YAML::Node& n = kv.second;
    if (n.IsScalar()) {
      d.path = n.as<std::string>();
    } else if (n.IsMap()) {
      if (n["path"]) d.path = n["path"].as<std::string>();
      if (n["type"]) d.type = n["type"].as<std::string>();
      if (n["description"]) d.description = n["description"].as<std::string>();
      if (n["runner"]) d.runner = n["runner"].as<std::string>();
      else if (n["inference"] && n["inference"]["runner"]) d.runner = n["inference"]["runner"].as<std::string>();
    } else {
      throw InputError(where + ": expected a path or a mapping with path:");
    }
    if (d.path.empty()) throw InputError(where + ": 'path' is required");
    out[d.name] = d;
  }
  return out;
}

// ---- the index -------------------------------------------------------------

namespace {
void migrate(Database& db) {
  db.migrate({"registry",
              {"CREATE TABLE registry_tags(tag TEXT PRIMARY KEY, oid TEXT NOT NULL, model TEXT NOT NULL,"
               " kind TEXT NOT NULL, version TEXT, stage TEXT, counter INTEGER, time INTEGER, author TEXT,"
               " email TEXT, commit_id TEXT, message TEXT, meta TEXT) WITHOUT ROWID;"
               "CREATE INDEX registry_tags_model ON registry_tags(model);"
               "CREATE TABLE registry_models(model TEXT PRIMARY KEY, summary TEXT NOT NULL) WITHOUT ROWID;"
               "CREATE TABLE registry_state(key TEXT PRIMARY KEY, value TEXT NOT NULL);",
               // v2: each loose ref's stat, so a refresh reads only ref files that changed;
               // a rowid table (rows of ~400 bytes are too big for WITHOUT ROWID's pages).
               "DROP TABLE registry_tags; DELETE FROM registry_models; DELETE FROM registry_state;"
               "CREATE TABLE registry_tags(tag TEXT PRIMARY KEY, oid TEXT NOT NULL, ref_stat TEXT NOT NULL,"
               " model TEXT NOT NULL, kind TEXT NOT NULL, version TEXT, stage TEXT, counter INTEGER, time INTEGER,"
               " author TEXT, email TEXT, commit_id TEXT, message TEXT, meta TEXT);"
               "CREATE INDEX registry_tags_model ON registry_tags(model);"}});
}

// The newest mtime seen while fingerprinting (seconds).
thread_local std::int64_t g_newest_mtime = 0;

void hash_stat(Sha256& h, const fs::path& p) {
  struct stat st;
  std::string line = p.string();
  if (::stat(p.c_str(), &st) == 0) {
    g_newest_mtime = std::max<std::int64_t>(g_newest_mtime, st.st_mtim.tv_sec);
    line += " " + std::to_string(st.st_ino) + " " + std::to_string(st.st_size) + " " +
            std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
  }
  h.update(line + "\n");
}

void hash_dirs(Sha256& h, const fs::path& dir) {
  hash_stat(h, dir);
  // A folder's link count is 2 + its subfolders on the usual file systems:
  // 2 means no subfolders, so its own mtime says all (no need to list 50,000 refs).
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0 && st.st_nlink == 2) return;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> subdirs;
  std::size_t entries = 0;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    ++entries;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      is_dir = ::stat((dir / n).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    }
    if (is_dir) subdirs.push_back(n);
  }
  ::closedir(d);
  h.update(" entries " + std::to_string(entries) + "\n");
  std::sort(subdirs.begin(), subdirs.end());
  for (const auto& s : subdirs) hash_dirs(h, dir / s);
}

// Changes whenever a tag is created, moved or deleted: git writes refs by
// renaming into refs/tags/ (its folder's mtime changes) or rewrites packed-refs.
// Like git's "racily clean" index entries: a folder changed within the last
// two seconds may change again within the same timestamp tick, so such a
// fingerprint is stored marked racy and never matches (the next command
// re-reads the refs). Found without libgit2 (whose start-up parses the CA
// bundle): a read that finds the index fresh opens no git library at all.
std::string tags_fingerprint(const fs::path& common) {
  Sha256 h;
  h.update("registry-fingerprint-v2\n");
  g_newest_mtime = 0;
  hash_stat(h, common / "packed-refs");
  hash_dirs(h, common / "refs" / "tags");
  std::string fp = h.hex_digest();
  if (g_newest_mtime + 2 >= static_cast<std::int64_t>(std::time(nullptr))) fp = "racy:" + fp;
  return fp;
}

std::string state_value(Database& db, const std::string& key) {
  auto st = db.prepare("SELECT value FROM registry_state WHERE key = ?");
  st.bind(1, key);
  return st.step() ? st.text(0) : std::string();
}

void set_state_value(Database& db, const std::string& key, const std::string& value) {
  auto st = db.prepare("INSERT OR REPLACE INTO registry_state(key, value) VALUES(?, ?)");
  st.bind(1, key).bind(2, value);
  st.run();
}

// JSON text without the whitespace between tokens (mlo writes its metadata
// indented for people reading `git show`; the index needs none of that).
std::string compact_json(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      out.push_back(c);
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '"') in_string = true;
    out.push_back(c);
  }
  return out;
}

Event event_from_tag(const GitTag& t, const TagName& n) {
  Event e;
  e.tag = t.name;
  e.oid = t.oid;
  e.kind = n.kind;
  e.model = n.model;
  e.version = n.version;
  e.stage = n.stage;
  e.counter = n.counter;
  e.time = t.time;
  e.author = t.tagger_name;
  e.email = t.tagger_email;
  e.commit = t.commit;
  size_t nl = t.message.find('\n');
  e.message = t.message.substr(0, nl);
  e.meta = extract_meta(t.message);
  if (e.meta.is_object()) e.meta_text = compact_json(meta_text(t.message));
  if (n.kind == TagKind::approval && e.meta.is_object()) {
    // The tag name spells the model with '=' for ':'; the metadata has it exactly.
    if (e.meta.contains("name") && e.meta["name"].is_string()) e.model = e.meta["name"];
  }
  return e;
}

Event event_from_row(Statement& st) {
  Event e;
  e.tag = st.text(0);
  e.oid = st.text(1);
  e.model = st.text(2);
  std::string kind = st.text(3);
  for (TagKind k : {TagKind::register_, TagKind::deregister, TagKind::assign, TagKind::unassign, TagKind::deprecate,
                    TagKind::approval})
    if (kind == to_string(k)) e.kind = k;
  e.version = st.text(4);
  e.stage = st.text(5);
  e.counter = st.int64(6);
  e.time = st.int64(7);
  e.author = st.text(8);
  e.email = st.text(9);
  e.commit = st.text(10);
  e.message = st.text(11);
  if (!st.is_null(12)) e.meta = nlohmann::json::parse(st.text(12), nullptr, false);
  if (e.meta.is_discarded()) e.meta = nullptr;
  return e;
}

constexpr const char* kSelectEvents =
    "SELECT tag, oid, model, kind, version, stage, counter, time, author, email, commit_id, message, meta "
    "FROM registry_tags";

std::vector<Event> model_events(Database& db, const std::string& model) {
  std::vector<Event> out;
  auto st = db.prepare(std::string(kSelectEvents) + " WHERE model = ?");
  st.bind(1, model);
  while (st.step()) out.push_back(event_from_row(st));
  return out;
}

// A tag ref as found now: the object it names and the stat of its loose file
// ("packed" for packed-refs, "" when written too recently to be trusted).
struct RefNow {
  std::string oid, stat;
};

// Reads the tag objects of `names` (registry tags only) into events, on up to
// four threads for big batches, each with its own libgit2 handle.
std::vector<std::optional<Event>> read_events(Repo& repo, const std::vector<std::string>& names,
                                              const std::vector<std::string>& oids) {
  std::vector<std::optional<Event>> out(names.size());
  auto work = [&](GitRepo& git, std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i) {
      if ((i & 255) == 0) check_interrupted();
      auto parsed = parse_tag_name(names[i]);
      if (!parsed) continue;
      GitTag tag = git.read_tag_object(names[i], oids[i]);
      // GTO reads annotated tags only; lightweight ones are not registry events.
      if (!tag.annotated) continue;
      out[i] = event_from_tag(tag, *parsed);
    }
  };
  unsigned jobs = names.size() < 2000 ? 1u : std::min(4u, default_jobs());
  if (jobs <= 1) {
    work(repo.git(), 0, names.size());
    return out;
  }
  parallel_for(jobs, jobs, [&](std::size_t j) {
    std::size_t begin = names.size() * j / jobs, end = names.size() * (j + 1) / jobs;
    if (j == 0) {
      work(repo.git(), begin, end);
    } else {
      GitRepo git(repo.root());
      work(git, begin, end);
    }
  });
  return out;
}

void sync_tags(Repo& repo, Database& db, const fs::path& common, const std::string& fingerprint, bool full) {
  struct Known {
    std::string oid, model, stat;
  };
  std::unordered_map<std::string, Known> known;
  if (!full) {
    auto st = db.prepare("SELECT tag, oid, model, ref_stat FROM registry_tags");
    while (st.step()) known.emplace(st.text(0), Known{st.text(1), st.text(2), st.text(3)});
  }
  // The refs as they are now: packed-refs, overridden by loose files. A loose
  // file whose stat matches the index is not read again.
  std::unordered_map<std::string, RefNow> now;
  for (auto& p : read_packed_refs(common, "tags")) now[std::move(p.name)] = RefNow{std::move(p.oid), "packed"};
  const std::int64_t racy_after = static_cast<std::int64_t>(std::time(nullptr)) - 2;
  std::vector<LooseRef> loose = list_loose_refs(common, "tags");
  std::vector<std::string> loose_oid(loose.size());
  std::vector<std::size_t> to_read;
  for (std::size_t i = 0; i < loose.size(); ++i) {
    auto it = known.find(loose[i].name);
    if (it != known.end() && !it->second.stat.empty() && it->second.stat == loose[i].stat) loose_oid[i] = it->second.oid;
    else to_read.push_back(i);
  }
  // Reading 50,000 ref files is I/O when they are not cached: several reads in
  // flight keep the disk busy (the threads mostly wait, so more than the cores).
  parallel_for(to_read.size(), to_read.size() < 256 ? 1u : 8u, [&](std::size_t k) {
    std::size_t i = to_read[k];
    loose_oid[i] = read_loose_ref(common, "tags", loose[i].name);
  });
  for (std::size_t i = 0; i < loose.size(); ++i) {
    LooseRef& l = loose[i];
    if (loose_oid[i].empty()) {
      // A symbolic ref (or one being rewritten): let libgit2 resolve it.
      auto t = repo.git().read_tag(l.name);
      if (!t) continue;
      loose_oid[i] = t->oid;
      l.stat.clear();
    }
    now[l.name] = RefNow{std::move(loose_oid[i]), l.mtime >= racy_after ? std::string() : std::move(l.stat)};
  }

  std::set<std::string> affected;
  std::vector<std::string> read_names, read_oids;
  std::vector<std::pair<std::string, std::string>> restat;  // same object, new file stat
  for (const auto& [name, ref] : now) {
    auto it = known.find(name);
    if (it != known.end() && it->second.oid == ref.oid) {
      if (it->second.stat != ref.stat) restat.emplace_back(name, ref.stat);
      continue;
    }
    if (it != known.end() && !it->second.model.empty()) affected.insert(it->second.model);
    read_names.push_back(name);
    read_oids.push_back(ref.oid);
  }
  std::vector<std::string> removed;
  for (const auto& [name, k] : known)
    if (!now.count(name)) {
      removed.push_back(name);
      if (!k.model.empty()) affected.insert(k.model);
    }
  auto events = read_events(repo, read_names, read_oids);

  // Insert in key order: the b-tree pages fill front to back.
  std::vector<std::size_t> order(read_names.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return read_names[a] < read_names[b]; });
  if (read_names.size() > 1000) db.exec("PRAGMA cache_size = -131072");  // the whole batch in memory until commit

  std::set<std::string> had;
  for (const auto& [tag, k] : known) had.insert(k.model);
  std::map<std::string, std::vector<Event>> fresh;  // models the index did not have: all their events are here

  Transaction tx(db);
  if (full) db.exec("DELETE FROM registry_tags; DELETE FROM registry_models; DELETE FROM registry_state;");
  {
    auto del = db.prepare("DELETE FROM registry_tags WHERE tag = ?");
    for (const auto& r : removed) {
      del.bind(1, r);
      del.run();
    }
    auto upd = db.prepare("UPDATE registry_tags SET ref_stat = ? WHERE tag = ?");
    for (const auto& [name, stat] : restat) {
      upd.bind(1, stat).bind(2, name);
      upd.run();
    }
    auto ins = db.prepare(
        "INSERT OR REPLACE INTO registry_tags(tag, oid, ref_stat, model, kind, version, stage, counter, time, author,"
        " email, commit_id, message, meta) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    for (std::size_t i : order) {
      const std::string& stat = now[read_names[i]].stat;
      ins.bind(1, read_names[i]).bind(2, read_oids[i]).bind(3, stat);
      if (!events[i]) {
        // Not the registry's: remembered with no model, so it is read once.
        ins.bind(4, "").bind(5, "").bind_null(6).bind_null(7).bind(8, std::int64_t{0}).bind(9, std::int64_t{0});
        ins.bind_null(10).bind_null(11).bind_null(12).bind_null(13).bind_null(14);
        ins.run();
        continue;
      }
      Event& e = *events[i];
      ins.bind(4, e.model).bind(5, to_string(e.kind)).bind(6, e.version).bind(7, e.stage).bind(8, e.counter);
      ins.bind(9, e.time).bind(10, e.author).bind(11, e.email).bind(12, e.commit).bind(13, e.message);
      if (e.meta.is_object()) ins.bind(14, e.meta_text.empty() ? e.meta.dump() : e.meta_text);
      else ins.bind_null(14);
      ins.run();
      affected.insert(e.model);
      if (!had.count(e.model)) fresh[e.model].push_back(std::move(e));
    }
    auto del_model = db.prepare("DELETE FROM registry_models WHERE model = ?");
    auto put_model = db.prepare("INSERT OR REPLACE INTO registry_models(model, summary) VALUES(?, ?)");
    for (const auto& m : affected) {
      auto f = fresh.find(m);
      auto evs = f != fresh.end() ? std::move(f->second) : model_events(db, m);
      if (evs.empty()) {
        del_model.bind(1, m);
        del_model.run();
        continue;
      }
      ModelState s = replay(m, std::move(evs));
      put_model.bind(1, m).bind(2, s.summary_json().dump());
      put_model.run();
    }
    set_state_value(db, "fingerprint", fingerprint);
  }
  tx.commit();
}
}  // namespace

void refresh_index(Repo& repo) {
  Database& db = repo.index();
  migrate(db);
  // Fingerprint first: a tag written while we read is seen by the next command.
  fs::path common = git_common_dir(repo.root());
  std::string fp = tags_fingerprint(common);
  if (fp.rfind("racy:", 0) != 0 && state_value(db, "fingerprint") == fp) return;
  sync_tags(repo, db, common, fp, false);
}

void rebuild_registry_index(Repo& repo) { rebuild_registry_index(repo, repo.index()); }

void rebuild_registry_index(Repo& repo, Database& db) {
  migrate(db);
  fs::path common = git_common_dir(repo.root());
  sync_tags(repo, db, common, tags_fingerprint(common), true);
}

std::vector<nlohmann::json> list_models(Repo& repo) {
  refresh_index(repo);
  std::vector<nlohmann::json> out;
  auto st = repo.index().prepare("SELECT summary FROM registry_models ORDER BY model");
  while (st.step()) out.push_back(nlohmann::json::parse(st.text(0)));
  return out;
}

std::optional<ModelState> find_model(Repo& repo, const std::string& name) {
  refresh_index(repo);
  auto events = model_events(repo.index(), name);
  if (events.empty()) return std::nullopt;
  return replay(name, std::move(events));
}

ModelState load_model(Repo& repo, const std::string& name) {
  auto m = find_model(repo, name);
  if (!m)
    throw InputError("no model named '" + name + "' in the registry",
                     "see 'mlo models ls', or register it with 'mlo register " + name + " PATH'");
  return std::move(*m);
}

std::vector<Event> all_events(Repo& repo, const std::string& model, std::int64_t since) {
  refresh_index(repo);
  std::string sql = std::string(kSelectEvents) + " WHERE model != '' AND time >= ?";
  if (!model.empty()) sql += " AND model = ?";
  auto st = repo.index().prepare(sql);
  st.bind(1, since);
  if (!model.empty()) st.bind(2, model);
  std::vector<Event> out;
  while (st.step()) out.push_back(event_from_row(st));
  std::stable_sort(out.begin(), out.end(), event_before);
  return out;
}

}  // namespace mlo::registry
