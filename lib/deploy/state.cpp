// Deployment state serialisation, mlo.yaml `deployments:`, runner lookup and
// the deployment event log.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <set>

#include <chrono>
#include <ctime>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/process.h"
#include "deploy/deploy.h"
#include "repo/config.h"
#include "repo/repo.h"
#include "repo/yaml_read.h"
#include "repo/yaml_schema.h"

namespace mlo::deploy {

using nlohmann::json;

std::string utc_now_iso() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03lldZ", buf, static_cast<long long>(ms));
  return out;
}

json to_json(const Backend& b) {
  return {{"id", b.id},           {"model", b.model},       {"version", b.version},
          {"sha256", b.sha256},   {"artifact_type", b.artifact_type}, {"run_id", b.run_id},
          {"artifact", b.artifact}, {"runner", b.runner},   {"runner_path", b.runner_path}};
}

Backend backend_from_json(const json& j) {
  Backend b;
  b.id = j.value("id", "");
  b.model = j.value("model", "");
  b.version = j.value("version", "");
  b.sha256 = j.value("sha256", "");
  b.artifact_type = j.value("artifact_type", "");
  b.run_id = j.value("run_id", "");
  b.artifact = j.value("artifact", "");
  b.runner = j.value("runner", "");
  b.runner_path = j.value("runner_path", "");
  return b;
}

json to_json(const EnvState& s) {
  auto opt = [](const std::optional<Backend>& b) { return b ? to_json(*b) : json(nullptr); };
  json hist = json::array();
  for (const auto& b : s.history) hist.push_back(to_json(b));
  return {{"version", 1},
          {"env", s.env},
          {"host", s.host},
          {"port", s.port},
          {"generation", s.generation},
          {"strategy", s.strategy},
          {"primary", opt(s.primary)},
          {"candidate", opt(s.candidate)},
          {"standby", opt(s.standby)},
          {"weight", s.weight},
          {"split", s.split},
          {"sticky_key", s.sticky_key},
          {"history", hist},
          {"thresholds",
           {{"max_error_rate", s.thresholds.max_error_rate},
            {"max_p99_ms", s.thresholds.max_p99_ms},
            {"min_requests", s.thresholds.min_requests}}},
          {"max_restarts", s.max_restarts},
          {"ready_timeout_s", s.ready_timeout_s},
          {"threads", s.threads},
          {"serving", to_json(s.serving)}};
}

json to_json(const ServeSettings& s) {
  return {{"workers", s.workers},
          {"max_batch_size", s.max_batch_size},
          {"max_batch_time_ms", s.max_batch_time_ms},
          {"max_inflight", s.max_inflight},
          {"max_queue", s.max_queue}};
}

ServeSettings serve_settings_from_json(const json& j) {
  ServeSettings s;
  if (!j.is_object()) return s;
  s.workers = j.value("workers", 0);
  s.max_batch_size = j.value("max_batch_size", 0);
  s.max_batch_time_ms = j.value("max_batch_time_ms", 0);
  s.max_inflight = j.value("max_inflight", 64);
  s.max_queue = j.value("max_queue", 1024);
  return s;
}

EnvState env_state_from_json(const json& j) {
  EnvState s;
  auto opt = [&](const char* k) -> std::optional<Backend> {
    if (j.contains(k) && j[k].is_object()) return backend_from_json(j[k]);
    return std::nullopt;
  };
  s.env = j.value("env", "");
  s.host = j.value("host", "127.0.0.1");
  s.port = j.value("port", 0);
  s.generation = j.value("generation", 0L);
  s.strategy = j.value("strategy", "replace");
  s.primary = opt("primary");
  s.candidate = opt("candidate");
  s.standby = opt("standby");
  s.weight = j.value("weight", 0);
  s.split = j.value("split", "deterministic");
  s.sticky_key = j.value("sticky_key", "");
  if (j.contains("history") && j["history"].is_array())
    for (const auto& b : j["history"]) s.history.push_back(backend_from_json(b));
  if (j.contains("thresholds") && j["thresholds"].is_object()) {
    const json& t = j["thresholds"];
    s.thresholds.max_error_rate = t.value("max_error_rate", -1.0);
    s.thresholds.max_p99_ms = t.value("max_p99_ms", -1.0);
    s.thresholds.min_requests = t.value("min_requests", 20L);
  }
  s.max_restarts = j.value("max_restarts", 3);
  s.ready_timeout_s = j.value("ready_timeout_s", 30);
  s.threads = j.value("threads", 2);
  if (j.contains("serving")) s.serving = serve_settings_from_json(j["serving"]);
  return s;
}

void check_env_name(const std::string& env) {
  bool ok = !env.empty() && env.size() <= 64 && env[0] != '.' && env[0] != '-';
  for (char c : env)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) ok = false;
  if (!ok)
    throw UsageError("bad environment name '" + env + "'",
                     "use letters, digits, '-', '_' or '.' (e.g. --env production)");
  if (env == kArtifactsDir)
    throw UsageError("'" + env + "' cannot name an environment: .mlo/deploy/" + env + " holds the deployed models' bytes",
                     "choose another name (e.g. --env production)");
}

std::filesystem::path env_dir(Repo& repo, const std::string& env) {
  check_env_name(env);
  return repo.mlo_dir() / "deploy" / env;
}

namespace {

std::optional<DeploymentConfig> read_deployment_config(const fs::path& file, const std::string& env) {
  YAML::Node root = load_yaml_file(file);
  if (root.IsMap()) check_mlo_yaml(root, "mlo.yaml");  // a typo must not change what is deployed
  if (!root.IsMap() || !root["deployments"]) return std::nullopt;
  YAML::Node deployments = root["deployments"];
  if (!deployments.IsMap())
    throw InputError("mlo.yaml:" + std::to_string(deployments.Mark().line + 1) + ": 'deployments' must be a mapping of environments",
                     "write deployments:\\n  production:\\n    model: NAME#production");
  YAML::Node d = deployments[env];
  if (!d) return std::nullopt;
  std::string where = "mlo.yaml:" + std::to_string(d.Mark().line + 1);
  if (!d.IsMap()) throw InputError(where + ": deployments." + env + " must be a mapping", "see man mlo-deploy");
  DeploymentConfig c;
  c.env = env;
  auto str = [&](const char* k) -> std::string {
    YAML::Node n = d[k];
    if (!n) return "";
    if (!n.IsScalar()) throw InputError(where + ": deployments." + env + "." + k + " must be a single value");
    return n.as<std::string>();
  };
  auto num = [&](const YAML::Node& parent, const char* k, double fallback) -> double {
    YAML::Node n = parent[k];
    if (!n) return fallback;
    try {
      return n.as<double>();
    } catch (const YAML::Exception&) {
      throw InputError("mlo.yaml:" + std::to_string(n.Mark().line + 1) + ": deployments." + env + "." + k +
                           " must be a number, not '" + n.as<std::string>("") + "'",
                       "fix mlo.yaml");
    }
  };
  // A whole number in [lo, hi]: the schema checks the kind, the cast to int needs the range.
  auto whole = [&](const YAML::Node& parent, const char* k, long fallback, long lo, long hi) -> long {
    double v = num(parent, k, static_cast<double>(fallback));
    if (parent[k] && !(v >= static_cast<double>(lo) && v <= static_cast<double>(hi)))
      throw InputError("mlo.yaml:" + std::to_string(parent[k].Mark().line + 1) + ": deployments." + env + "." + k +
                           " must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", not " +
                           parent[k].Scalar(),
                       "fix mlo.yaml");
    return static_cast<long>(v);
  };
  static const std::set<std::string> known = {"model", "artifact", "runner", "strategy", "host", "port", "weight",
                                              "split", "thresholds", "max_restarts", "ready_timeout_s", "image",
                                              "namespace", "serving", "validate_requests"};
  for (auto it = d.begin(); it != d.end(); ++it) {
    std::string k = it->first.as<std::string>();
    if (!known.count(k))
      throw InputError("mlo.yaml:" + std::to_string(it->first.Mark().line + 1) + ": unknown key deployments." + env +
                           "." + k,
                       "known keys: model, artifact, runner, strategy, host, port, weight, split, thresholds, "
                       "max_restarts, ready_timeout_s, image, namespace, serving, validate_requests");
  }
  c.model = str("model");
  c.artifact = str("artifact");
  c.runner = str("runner");
  c.strategy = str("strategy");
  c.host = str("host");
  c.split = str("split");
  c.image = str("image");
  c.namespace_ = str("namespace");
  c.validate_requests = str("validate_requests");
  if (!c.validate_requests.empty() && c.validate_requests != "warn" && c.validate_requests != "reject")
    throw InputError("mlo.yaml:" + std::to_string(d["validate_requests"].Mark().line + 1) + ": deployments." + env +
                         ".validate_requests must be warn or reject, not '" + c.validate_requests + "'",
                     "warn logs and counts requests that break the training data's contract; reject also answers 422");
  constexpr long int_max = std::numeric_limits<int>::max();
  c.port = static_cast<int>(whole(d, "port", 0, 0, 65535));
  c.weight = static_cast<int>(whole(d, "weight", -1, 0, 100));
  c.max_restarts = static_cast<int>(whole(d, "max_restarts", -1, 0, int_max));
  c.ready_timeout_s = static_cast<int>(whole(d, "ready_timeout_s", -1, 0, int_max));
  if (YAML::Node t = d["thresholds"]) {
    if (!t.IsMap()) throw InputError(where + ": deployments." + env + ".thresholds must be a mapping");
    c.has_thresholds = true;
    c.thresholds.max_error_rate = num(t, "max_error_rate", -1);
    c.thresholds.max_p99_ms = num(t, "max_p99_ms", -1);
    c.thresholds.min_requests = whole(t, "min_requests", 20, 0, int_max);
  }
  if (YAML::Node sv = d["serving"]) {
    std::string key = "deployments." + env + ".serving";
    if (!sv.IsMap()) throw InputError(where + ": " + key + " must be a mapping", "e.g. serving: {workers: 2, max_batch_size: 32}");
    for (auto it = sv.begin(); it != sv.end(); ++it) {
      std::string k = it->first.as<std::string>();
      if (k != "workers" && k != "max_batch_size" && k != "max_batch_time_ms" && k != "max_inflight" && k != "max_queue")
        throw InputError("mlo.yaml:" + std::to_string(it->first.Mark().line + 1) + ": unknown key " + key + "." + k,
                         "known keys: workers, max_batch_size, max_batch_time_ms, max_inflight, max_queue");
    }
    auto bounded = [&](const char* k, int lo, int hi, int fallback) {
      double v = num(sv, k, fallback);
      if (v < lo || v > hi || v != static_cast<int>(v))
        throw InputError("mlo.yaml:" + std::to_string(sv[k].Mark().line + 1) + ": " + key + "." + k +
                             " must be a whole number from " + std::to_string(lo) + " to " + std::to_string(hi),
                         "fix mlo.yaml");
      return static_cast<int>(v);
    };
    ServeSettings d0;
    c.serving = ServeSettings{bounded("workers", 0, 256, 0), bounded("max_batch_size", 0, 100000, 0),
                              bounded("max_batch_time_ms", 0, 10000, 0),
                              bounded("max_inflight", 1, 100000, d0.max_inflight),
                              bounded("max_queue", 0, 1000000, d0.max_queue)};
  }
  return c;
}

}  // namespace

std::optional<DeploymentConfig> load_deployment_config(Repo& repo, const std::string& env) {
  fs::path file = repo.root() / "mlo.yaml";
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  return read_yaml_checked("mlo.yaml", [&] { return read_deployment_config(file, env); });
}

std::filesystem::path find_inference_runner(const std::string& runner) {
  if (runner.find('/') != std::string::npos) {
    fs::path p = fs::absolute(runner);
    if (::access(p.c_str(), X_OK) != 0)
      throw InputError("inference runner '" + runner + "' is not an executable file", "check the path");
    return p;
  }
  std::string prog = "mlo-serve-" + runner;
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path next = self.parent_path() / prog;
    if (::access(next.c_str(), X_OK) == 0) return next;
  }
  if (auto found = find_program(prog)) return fs::absolute(*found);
  throw InputError("inference runner '" + runner + "' not found (looked for " + prog + " next to mlo and on PATH)",
                   "install it, put it on PATH, or pass --runner PATH");
}

// ---------------------------------------------------------------- events

namespace {
const Migrations kMigrations{"deploy",
                             {"CREATE TABLE deploy_events (id INTEGER PRIMARY KEY, ts TEXT NOT NULL, env TEXT NOT NULL,"
                              " action TEXT NOT NULL, model TEXT, version TEXT, detail TEXT,"
                              " UNIQUE(ts, env, action, model, version))",
                              "CREATE INDEX deploy_events_env ON deploy_events(env, ts)",
                              "CREATE TABLE deploy_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)"}};

// A stat fingerprint of the tracked event files (size, mtime, inode of each
// deploy/ENV/events.jsonl): `git pull` brings a teammate's events, and the
// index must notice, as the registry's does for refs/tags.
std::string events_fingerprint(Repo& repo) {
  std::vector<std::string> parts;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(repo.root() / "deploy", ec)) {
    struct stat st;
    fs::path f = entry.path() / "events.jsonl";
    if (::stat(f.c_str(), &st) != 0) continue;
    parts.push_back(entry.path().filename().string() + ":" + std::to_string(st.st_size) + ":" +
                    std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ":" +
                    std::to_string(st.st_ino));
  }
  std::sort(parts.begin(), parts.end());
  std::string fp;
  for (const auto& p : parts) fp += p + "\n";
  return fp;
}

std::string stored_fingerprint(Database& db) {
  Statement st = db.prepare("SELECT value FROM deploy_state WHERE key = 'events'");
  return st.step() ? st.text(0) : std::string("-");
}

void store_fingerprint(Database& db, const std::string& fp) {
  db.prepare("INSERT OR REPLACE INTO deploy_state(key, value) VALUES ('events', ?)").bind(1, fp).run();
}

void insert_event(Database& db, const DeployEvent& e) {
  db.prepare("INSERT OR IGNORE INTO deploy_events(ts, env, action, model, version, detail) VALUES (?,?,?,?,?,?)")
      .bind(1, e.ts)
      .bind(2, e.env)
      .bind(3, e.action)
      .bind(4, e.model)
      .bind(5, e.version)
      .bind(6, e.detail.dump())
      .run();
}

DeployEvent event_from_json(const json& j);

// Creates the table on first use; a fresh (deleted) index, or one that the
// tracked event files have moved past (git pull, git checkout), is refilled
// from them, so the index stays a cache.
void ensure_index(Repo& repo) {
  Database& db = repo.index();
  db.migrate(kMigrations);
  if (stored_fingerprint(db) != events_fingerprint(repo)) rebuild_deploy_index(repo);
}

DeployEvent event_from_json(const json& j) {
  DeployEvent e;
  e.ts = j.value("ts", "");
  e.env = j.value("env", "");
  e.action = j.value("action", "");
  e.model = j.value("model", "");
  e.version = j.value("version", "");
  e.detail = j.value("detail", json::object());
  return e;
}
}  // namespace

json to_json(const DeployEvent& e) {
  return {{"ts", e.ts}, {"env", e.env}, {"action", e.action}, {"model", e.model}, {"version", e.version},
          {"detail", e.detail}};
}

void record_deploy_event(Repo& repo, DeployEvent e) {
  if (e.ts.empty()) e.ts = utc_now_iso();
  // Who did it, for `mlo audit` and `mlo lineage`: the router's own decisions
  // are automatic; everything else is the user's git identity (as a tagger).
  if (!e.detail.is_object()) e.detail = json::object();
  if (!e.detail.contains("by")) {
    if (e.action == "auto-rollback" || e.action == "runner-failed") {
      e.detail["by"] = "mlo router (automatic)";
    } else {
      try {
        GitIdentity id = repo.git().tagger_identity();
        e.detail["by"] = id.name + " <" + id.email + ">";
      } catch (const std::exception&) {
        e.detail["by"] = "";
      }
    }
  }
  // The tracked log first (source of truth), then the index.
  fs::path file = repo.root() / "deploy" / e.env / "events.jsonl";
  fs::create_directories(file.parent_path());
  std::string line = to_json(e).dump() + "\n";
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!fd) throw_errno(file.string(), errno);
  ensure_index(repo);
  write_all(fd.get(), line, file.string());
  insert_event(repo.index(), e);
  store_fingerprint(repo.index(), events_fingerprint(repo));  // our own line is in the index already
}

std::vector<DeployEvent> list_deploy_events(Repo& repo, const std::string& env, const std::string& model) {
  ensure_index(repo);
  Database& db = repo.index();
  Statement st = db.prepare(
      "SELECT ts, env, action, model, version, detail FROM deploy_events WHERE (?1 = '' OR env = ?1)"
      " AND (?2 = '' OR model = ?2) ORDER BY ts, id");
  st.bind(1, env).bind(2, model);
  std::vector<DeployEvent> out;
  while (st.step()) {
    DeployEvent e;
    e.ts = st.text(0);
    e.env = st.text(1);
    e.action = st.text(2);
    e.model = st.text(3);
    e.version = st.text(4);
    e.detail = json::parse(st.text(5), nullptr, false);
    if (e.detail.is_discarded()) e.detail = json::object();
    out.push_back(std::move(e));
  }
  return out;
}

void rebuild_deploy_index(Repo& repo) {
  Database& db = repo.index();
  db.migrate(kMigrations);
  Transaction tx(db);
  db.exec("DELETE FROM deploy_events");
  fs::path dir = repo.root() / "deploy";
  std::error_code ec;
  if (fs::is_directory(dir, ec)) {
    for (const auto& entry : fs::directory_iterator(dir)) {
      fs::path file = entry.path() / "events.jsonl";
      if (!fs::is_regular_file(file, ec)) continue;
      std::istringstream in(read_file(file));
      std::string line;
      while (std::getline(in, line)) {
        if (line.empty()) continue;
        json j = json::parse(line, nullptr, false);
        if (j.is_object()) insert_event(db, event_from_json(j));
      }
    }
  }
  store_fingerprint(db, events_fingerprint(repo));
  tx.commit();
}

}  // namespace mlo::deploy
