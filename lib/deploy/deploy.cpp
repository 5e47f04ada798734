// mlo deploy (local target) and the commands that manage a running
// environment: status, ls, stop, promote, rollback, traffic, logs. The CLI
// talks to the environment's router through its token-protected admin routes.
#include "deploy/deploy.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/fs.h"
#include "core/progress.h"
#include "deploy/env_check.h"
#include "deploy/http_server.h"
#include "deploy/router_internal.h"
#include "repo/lock.h"
#include "repo/repo.h"

namespace mlo::deploy {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

struct RouterInfo {
  pid_t pid = 0;
  std::string host;
  int port = 0;
  std::string token;
  std::string connect_host() const { return host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host; }
  std::string url() const { return "http://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port); }
};

// Alive and not a zombie (a detached router's reaper may be slow to reap it).
bool pid_alive(pid_t pid) {
  if (pid <= 0 || (::kill(pid, 0) != 0 && errno != EPERM)) return false;
  std::string stat = read_file_if_exists("/proc/" + std::to_string(pid) + "/stat").value_or("");
  std::size_t close = stat.rfind(')');
  return !(close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z');
}

std::optional<RouterInfo> read_router(const fs::path& dir) {
  auto text = read_file_if_exists(dir / "router.json");
  if (!text) return std::nullopt;
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  RouterInfo r;
  r.pid = j.value("pid", 0);
  r.host = j.value("host", "127.0.0.1");
  r.port = j.value("port", 0);
  r.token = j.value("token", "");
  if (!pid_alive(r.pid)) return std::nullopt;
  return r;
}

HttpResult admin(const RouterInfo& r, std::string_view method, std::string_view path, const std::string& body = {},
                 int timeout_ms = 10000) {
  return http_request(r.connect_host(), r.port, method, path, body, timeout_ms, {{"X-Mlo-Token", r.token}});
}

json router_status(const RouterInfo& r) {
  HttpResult res = admin(r, "GET", "/-/mlo/status");
  if (res.status != 200)
    throw RunnerError("the router of this environment (pid " + std::to_string(r.pid) + ") does not answer" +
                          (res.error.empty() ? "" : ": " + res.error),
                      "see 'mlo deploy logs ENV'; 'mlo deploy stop ENV' ends it");
  json j = json::parse(res.body, nullptr, false);
  if (!j.is_object()) throw RunnerError("the router answered with malformed status JSON");
  return j;
}

std::string tail_lines(const fs::path& file, int n) {
  std::string text = read_file_if_exists(file).value_or("");
  while (!text.empty() && text.back() == '\n') text.pop_back();
  std::size_t pos = text.size();
  for (int i = 0; i < n && pos != std::string::npos && pos > 0; ++i) pos = text.rfind('\n', pos - 1);
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

std::string new_backend_id() {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "b%08x", rd());
  return buf;
}

RouterInfo start_router(Repo& repo, const std::string& env, const std::string& host, int port, int threads) {
  fs::path dir = env_dir(repo, env);
  fs::create_directories(dir);
  write_file_atomic(dir / ".gitignore", "*\n", false);
  std::error_code ec;
  fs::remove(dir / "router.json", ec);
  fs::path self = fs::read_symlink("/proc/self/exe");
  fs::path log_file = dir / "router.log";
  std::vector<std::string> args = {self.string(), "-C",          repo.root().string(), "deploy",
                                   "serve-router", env,          "--host",             host,
                                   "--port",       std::to_string(port), "--threads", std::to_string(threads)};
  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork", errno);
  if (pid == 0) {
    ::setsid();
    child_stdio_to_log(log_file.c_str());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  auto deadline = Clock::now() + std::chrono::seconds(15);
  while (Clock::now() < deadline) {
    int st = 0;
    if (::waitpid(pid, &st, WNOHANG) == pid) {
      std::string tail = tail_lines(log_file, 3);
      std::string msg = tail;
      auto p = msg.find("mlo: error: ");
      if (p != std::string::npos) msg = msg.substr(p + 12);
      auto h = msg.find("\nhint:");
      std::string hint = h != std::string::npos ? msg.substr(h + 7) : "see " + log_file.string();
      if (h != std::string::npos) msg = msg.substr(0, h);
      throw InputError("the router for '" + env + "' could not start: " + msg, hint);
    }
    if (auto r = read_router(dir); r && r->pid == pid) {
      if (admin(*r, "GET", "/-/mlo/status", {}, 1000).status == 200) return *r;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGTERM);
  throw RunnerError("the router for '" + env + "' did not start within 15 s", "see " + log_file.string());
}

// Shows how many of the runners a change starts are ready (a model that
// takes a while to load is not a hang).
struct RunnerProgress {
  ProgressPhase phase{"waiting for runners", 0, 0, "ready"};
  std::uint64_t shown = 0;
  void update(const json& status) {
    std::uint64_t total = 0, ready = 0;
    for (const auto& b : status.value("backends", json::array()))
      if (b.value("role", "") == "starting") {
        ++total;
        ready += b.value("ready", false) ? 1 : 0;
      }
    if (total) progress().set_totals(total, 0);
    phase.add(ready > shown ? ready - shown : 0);  // also redraws the totals while none is ready
    shown = std::max(shown, ready);
  }
};

// Sends a new state and waits until the router applied it (or refused).
json apply_and_wait(const RouterInfo& r, const EnvState& desired, int timeout_s,
                    const std::string& fail_hint = "the previous version keeps serving; fix the model or runner and deploy again") {
  HttpResult res = admin(r, "POST", "/-/mlo/apply", to_json(desired).dump());
  if (res.status != 202) throw RunnerError("the router refused the change: " + (res.error.empty() ? res.body : res.error));
  long gen = json::parse(res.body, nullptr, false).value("generation", 0L);
  auto deadline = Clock::now() + std::chrono::seconds(timeout_s + 15);
  RunnerProgress shown;
  while (Clock::now() < deadline) {
    json st = router_status(r);
    shown.update(st);
    if (st.value("applied_generation", 0L) >= gen) {
      const json& last = st["last_result"];
      if (last.is_object() && last.value("generation", 0L) == gen && !last.value("ok", false))
        throw RunnerError(last.value("error", std::string("the change failed")), fail_hint);
      return st;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  throw RunnerError("the router did not apply the change within " + std::to_string(timeout_s + 15) + " s",
                    "see 'mlo deploy logs " + desired.env + "'");
}

RouterInfo require_router(Repo& repo, const std::string& env) {
  fs::path dir = env_dir(repo, env);
  std::error_code ec;
  if (!fs::exists(dir, ec))
    throw InputError("no deployment named '" + env + "'", "list them with 'mlo deploy ls'");
  auto r = read_router(dir);
  if (!r) throw InputError("deployment '" + env + "' is not running", "start it with 'mlo deploy MODEL --env " + env + "'");
  return *r;
}

EnvState state_of(const json& status) { return env_state_from_json(status["state"]); }

json backend_brief(const std::optional<Backend>& b) {
  if (!b) return nullptr;
  return {{"model", b->model}, {"version", b->version}, {"runner", b->runner}, {"sha256", b->sha256}};
}

// A/B (--strategy ab --split 50): a number in --split is arm B's share;
// --sticky-key keeps one user (a header or body field) on one arm.
void ab_split(const std::string& strategy, const std::string& sticky_key, std::string& split, int& weight) {
  bool number = !split.empty() && split.size() <= 3 && split.find_first_not_of("0123456789") == std::string::npos;
  if (number && !has_arms(strategy))
    throw UsageError("--split " + split + " is a percentage, which only --strategy ab or bandit takes",
                     "use --weight " + split + " for a canary, or --strategy ab --split " + split);
  if (!sticky_key.empty() && !has_arms(strategy))
    throw UsageError("--sticky-key assigns users to A/B arms", "add --strategy ab");
  if (number) {
    weight = std::stoi(split);
    split = "deterministic";
  }
}

void check_strategy(const std::string& s) {
  if (s != "replace" && s != "blue-green" && s != "canary" && s != "shadow" && !has_arms(s))
    throw UsageError("unknown strategy '" + s + "'", "use replace, blue-green, canary, shadow, ab or bandit");
}

// How an event names an artifact given by path: repo-relative, or its file
// name when it lies outside (events.jsonl is tracked: no local paths).
std::string artifact_label(Repo& repo, const fs::path& path) {
  try {
    return repo.relative(path);
  } catch (const Error&) {
    return path.filename().string();
  }
}

// The same version: same model, version, bytes and runner.
bool same_version(const Backend& a, const Backend& b) {
  return a.model == b.model && a.version == b.version && a.sha256 == b.sha256 && a.runner_path == b.runner_path;
}

// Ids of the runners the router gave up on (restarted too often).
std::set<std::string> failed_backends(const json& status) {
  std::set<std::string> out;
  for (const auto& b : status.value("backends", json::array()))
    if (b.value("state", "") == "failed") out.insert(b.value("id", ""));
  return out;
}

// Puts `b` where `strategy` says. A version that already serves in that
// role keeps its runner (its id, so the router restarts it only for changed
// settings) and adds no history entry: rollback steps to the previous
// *different* version. A failed runner of that version is started afresh.
void place_backend(EnvState& s, Backend b, const std::string& strategy, int weight, const std::set<std::string>& failed) {
  auto reuse = [&](const std::optional<Backend>& cur) {
    bool same = cur && same_version(*cur, b);
    if (same && !failed.count(cur->id)) b.id = cur->id;
    return same;
  };
  if (!s.primary) {
    s.primary = b;
    s.candidate.reset();
    s.standby.reset();
    s.weight = 0;
    s.strategy = "replace";
  } else if (strategy == "replace" || strategy == "blue-green") {
    bool redeploy = reuse(s.primary);
    if (!redeploy) {
      s.history.push_back(*s.primary);
      s.standby = strategy == "blue-green" ? s.primary : std::nullopt;
    }
    // Redeploying what serves leaves the strategy label alone unless it ends a canary.
    if (!redeploy || s.candidate) s.strategy = strategy;
    s.primary = b;
    s.candidate.reset();
    s.weight = 0;
  } else {
    reuse(s.candidate);
    s.candidate = b;
    s.weight = weight;
    s.strategy = strategy;
  }
}

// A deploy that would change nothing (same versions, runners, split and
// settings). --ready-timeout is how long this deploy waits, not a setting
// of what serves: alone it changes nothing.
bool same_state(EnvState next, const EnvState& cur) {
  next.generation = cur.generation;
  next.ready_timeout_s = cur.ready_timeout_s;
  return to_json(next) == to_json(cur);
}

json local_doc(const std::string& env, const RouterInfo& r, const EnvState& s, const DeployModel& m, const json& env_diffs) {
  return {{"env", env},
          {"target", "local"},
          {"url", r.url()},
          {"strategy", s.strategy},
          {"model", m.name},
          {"version", m.version},
          {"weight", s.candidate ? s.weight : 100},
          {"router_pid", r.pid},
          {"started_router", false},
          {"changed", true},
          {"primary", backend_brief(s.primary)},
          {"candidate", backend_brief(s.candidate)},
          {"environment_differences", env_diffs}};
}

// The answer to a redeploy of what already serves: no apply, no event, no restart.
json unchanged_doc(const std::string& env, const RouterInfo& r, const EnvState& s, const DeployModel& m, const json& env_diffs) {
  json doc = local_doc(env, r, s, m, env_diffs);
  doc["changed"] = false;
  std::string role = s.candidate && s.candidate->sha256 == m.sha256 && s.candidate->version == m.version
                         ? " as " + s.strategy + " at " + std::to_string(s.weight) + "%"
                         : "";
  doc["message"] = m.name + "@" + m.version + " already serves " + env + role + "; nothing changed";
  return doc;
}

}  // namespace

json deploy_local(Repo& repo, const DeployOptions& o, const DeployModel& m, const std::optional<DeploymentConfig>& cfg);
// targets.cpp
json deploy_batch(Repo& repo, const DeployOptions& o, const DeployModel& m, const std::optional<DeploymentConfig>& cfg);
json deploy_k8s(Repo& repo, const DeployOptions& o, const DeployModel& m, const std::optional<DeploymentConfig>& cfg);

DeployResult deploy(Repo& repo, const DeployOptions& o_in) {
  DeployOptions o = o_in;
  check_env_name(o.env);
  auto cfg = load_deployment_config(repo, o.env);
  if (o.ref.empty() && cfg) o.ref = cfg->model;
  if (o.artifact.empty() && cfg && !cfg->artifact.empty()) o.artifact = (repo.root() / cfg->artifact).string();
  if (o.ref.empty() && o.artifact.empty())
    throw UsageError("which model? give NAME#STAGE or NAME@VERSION, or --artifact PATH",
                     "or set deployments." + o.env + ".model in mlo.yaml");
  if (o.target != "local" && o.target != "batch" && o.target != "k8s")
    throw UsageError("unknown target '" + o.target + "'", "use --target local, batch or k8s");
  if (!o.outputs.empty() && o.target != "batch")
    throw UsageError("--outputs applies to --target batch", "a served model answers the outputs each request names");
  DeployModel m = o.artifact.empty() ? resolve_deploy_model(repo, o.ref) : model_from_artifact(o.artifact, o.ref);
  if (m.source.empty()) m.source = artifact_label(repo, m.path);
  DeployResult r;
  if (o.target == "local") r.doc = deploy_local(repo, o, m, cfg);
  else if (o.target == "batch") r.doc = deploy_batch(repo, o, m, cfg);
  else r.doc = deploy_k8s(repo, o, m, cfg);
  return r;
}

json deploy_local(Repo& repo, const DeployOptions& o, const DeployModel& m, const std::optional<DeploymentConfig>& cfg) {
  std::string runner = !o.runner.empty() ? o.runner : cfg && !cfg->runner.empty() ? cfg->runner : default_runner_for(m.artifact_type);
  if (runner.empty())
    throw InputError("cannot tell which inference runner serves '" + m.path.string() + "' (type " + m.artifact_type + ")",
                     "pass --runner NAME (native, sklearn, or a plugin mlo-serve-NAME on PATH)");
  Backend b;
  b.id = new_backend_id();
  b.model = m.name;
  b.version = m.version;
  b.sha256 = m.sha256;
  b.artifact_type = m.artifact_type;
  b.run_id = m.run_id;
  b.artifact = m.path.string();
  b.runner = runner;
  b.runner_path = find_inference_runner(runner).string();
  json env_diffs = check_serving_python(m, b.runner_path, o.strict_env);

  std::string strategy = !o.strategy.empty() ? o.strategy : cfg && !cfg->strategy.empty() ? cfg->strategy : "replace";
  check_strategy(strategy);
  int weight = o.weight >= 0 ? o.weight : cfg && cfg->weight >= 0 ? cfg->weight : strategy == "shadow" ? 100 : has_arms(strategy) ? 50 : 10;
  std::string split = !o.split.empty() ? o.split : cfg && !cfg->split.empty() ? cfg->split : "deterministic";
  ab_split(strategy, o.sticky_key, split, weight);
  if (weight < 0 || weight > 100) throw UsageError("--weight must be 0..100, not " + std::to_string(weight));
  if (split != "deterministic" && split != "random")
    throw UsageError("unknown split '" + split + "'", "use deterministic or random");
  std::string host = !o.host.empty() ? o.host : cfg && !cfg->host.empty() ? cfg->host : "127.0.0.1";
  int port = o.port >= 0 ? o.port : cfg && cfg->port > 0 ? cfg->port : 0;
  if (port > 65535) throw UsageError("--port must be 0..65535");

  fs::path dir = env_dir(repo, o.env);
  fs::create_directories(repo.tmp_dir());
  RepoLock lock(repo.tmp_dir(), "deploy-" + o.env, repo.lock_timeout_ms());
  auto running = read_router(dir);
  bool fresh = !running;
  if (running && port != 0 && port != running->port)
    throw UsageError("deployment '" + o.env + "' already serves on port " + std::to_string(running->port),
                     "deploy without --port, or 'mlo deploy stop " + o.env + "' first");
  RouterInfo r = running ? *running : start_router(repo, o.env, host, port, o.threads > 0 ? o.threads : 4);
  try {
    json status = router_status(r);
    EnvState cur = state_of(status);
    EnvState s = cur;
    if (cfg && cfg->has_thresholds) s.thresholds = cfg->thresholds;
    if (cfg && cfg->max_restarts >= 0) s.max_restarts = cfg->max_restarts;
    if (cfg && cfg->serving) s.serving = *cfg->serving;
    if (o.ready_timeout_s > 0) s.ready_timeout_s = o.ready_timeout_s;
    else if (cfg && cfg->ready_timeout_s > 0) s.ready_timeout_s = cfg->ready_timeout_s;
    s.split = split;
    s.sticky_key = has_arms(strategy) ? o.sticky_key : "";
    place_backend(s, b, strategy, weight, failed_backends(status));
    if (same_state(s, cur)) return unchanged_doc(o.env, r, s, m, env_diffs);
    apply_and_wait(r, s, s.ready_timeout_s,
                   cur.primary ? "the previous version keeps serving; fix the model or runner and deploy again"
                               : "nothing was deployed; check the runner's log above, then deploy again");
    record_deploy_event(repo, DeployEvent{"", o.env, "deploy", m.name, m.version,
                                          {{"target", "local"}, {"strategy", s.strategy}, {"weight", s.candidate ? s.weight : 100},
                                           {"sha256", m.sha256}, {"run_id", m.run_id}, {"artifact", m.source},
                                           {"runner", runner}, {"url", r.url()}}});
    json doc = local_doc(o.env, r, s, m, env_diffs);
    doc["started_router"] = fresh;
    return doc;
  } catch (...) {
    if (fresh) {
      admin(r, "POST", "/-/mlo/shutdown");
      for (int i = 0; i < 250 && pid_alive(r.pid); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw;
  }
}

json deploy_status(Repo& repo, const std::string& env) {
  fs::path dir = env_dir(repo, env);
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw InputError("no deployment named '" + env + "'", "list them with 'mlo deploy ls'");
  auto r = read_router(dir);
  if (!r) {
    json state = json::parse(read_file_if_exists(dir / "state.json").value_or("null"), nullptr, false);
    return {{"env", env}, {"running", false}, {"url", nullptr}, {"versions", json::array()},
            {"last_state", state.is_discarded() ? json(nullptr) : state}};
  }
  json st = router_status(*r);
  EnvState s = state_of(st);
  json versions = json::array();
  for (const auto& b : st["backends"]) {
    std::string role = b.value("role", "");
    int w = role == "primary" ? ((s.strategy == "canary" || has_arms(s.strategy)) && s.candidate ? 100 - s.weight : 100)
            : role == "canary" ? s.weight
            : role == "shadow" ? s.weight
                               : 0;
    json v = {{"role", role},           {"model", b["model"]},       {"version", b["version"]},
              {"weight", w},            {"state", b["state"]},       {"ready", b["ready"]},
              {"restarts", b["restarts"]}, {"runner", b["runner"]},  {"port", b["port"]},
              {"pid", b["pid"]}};
    for (auto& [k, val] : b["stats"].items()) v[k] = val;
    versions.push_back(v);
  }
  std::sort(versions.begin(), versions.end(), [](const json& a, const json& b) {
    auto rank = [](const std::string& r) { return r == "primary" ? 0 : r == "canary" ? 1 : r == "shadow" ? 2 : 3; };
    return rank(a.value("role", "")) < rank(b.value("role", ""));
  });
  bool healthy = true;
  for (const auto& v : versions)
    if (v.value("role", "") != "standby" && !v.value("ready", false)) healthy = false;
  return {{"env", env},
          {"running", true},
          {"url", r->url()},
          {"router_pid", r->pid},
          {"strategy", s.strategy},
          {"split", s.split},
          {"healthy", healthy && !versions.empty()},
          {"versions", versions},
          {"history", [&] {
             json h = json::array();
             for (const auto& b : s.history) h.push_back(backend_brief(b));
             return h;
           }()},
          {"notices", st["notices"]},
          {"request_validation", st.contains("request_validation") ? st["request_validation"] : json(nullptr)}};
}

json list_deployments(Repo& repo) {
  json out = json::array();
  fs::path root = repo.mlo_dir() / "deploy";
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return out;
  std::vector<std::string> envs;
  for (const auto& e : fs::directory_iterator(root))
    if (e.is_directory() && e.path().filename() != kArtifactsDir) envs.push_back(e.path().filename().string());
  std::sort(envs.begin(), envs.end());
  for (const auto& env : envs) {
    json row = {{"env", env}, {"running", false}, {"url", nullptr}, {"primary", nullptr}, {"candidate", nullptr}, {"weight", 0}};
    fs::path dir = root / env;
    auto r = read_router(dir);
    json state = json::parse(read_file_if_exists(dir / "state.json").value_or("null"), nullptr, false);
    if (r) {
      row["running"] = true;
      row["url"] = r->url();
      try {
        state = router_status(*r)["state"];
      } catch (const Error&) {
      }
    }
    if (state.is_object()) {
      EnvState s = env_state_from_json(state);
      row["primary"] = backend_brief(s.primary);
      row["candidate"] = backend_brief(s.candidate);
      row["weight"] = s.candidate ? s.weight : 0;
      row["strategy"] = s.strategy;
    }
    out.push_back(row);
  }
  return out;
}

json stop_deployment(Repo& repo, const std::string& env) {
  fs::path dir = env_dir(repo, env);
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw InputError("no deployment named '" + env + "'", "list them with 'mlo deploy ls'");
  fs::create_directories(repo.tmp_dir());
  RepoLock lock(repo.tmp_dir(), "deploy-" + env, repo.lock_timeout_ms());
  auto r = read_router(dir);
  if (!r) return {{"env", env}, {"stopped", false}, {"was_running", false}};
  EnvState s;
  try {
    s = state_of(router_status(*r));
  } catch (const Error&) {
  }
  admin(*r, "POST", "/-/mlo/shutdown", {}, 2000);
  for (int i = 0; i < 500 && pid_alive(r->pid); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (pid_alive(r->pid)) {
    ::kill(r->pid, SIGTERM);
    for (int i = 0; i < 250 && pid_alive(r->pid); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (pid_alive(r->pid)) ::kill(r->pid, SIGKILL);
  }
  record_deploy_event(repo, DeployEvent{"", env, "stop", s.primary ? s.primary->model : "",
                                        s.primary ? s.primary->version : "", {{"router_pid", r->pid}}});
  return {{"env", env}, {"stopped", true}, {"was_running", true}, {"router_pid", r->pid}};
}

namespace {
json change_and_record(Repo& repo, const std::string& env, const std::string& action,
                       const std::function<json(EnvState&)>& change) {
  fs::create_directories(repo.tmp_dir());
  RouterInfo r = require_router(repo, env);
  RepoLock lock(repo.tmp_dir(), "deploy-" + env, repo.lock_timeout_ms());
  EnvState s = state_of(router_status(r));
  json detail = change(s);
  apply_and_wait(r, s, s.ready_timeout_s);
  record_deploy_event(repo, DeployEvent{"", env, action, s.primary ? s.primary->model : "",
                                        s.primary ? s.primary->version : "", detail});
  json out = {{"env", env}, {"action", action}, {"primary", backend_brief(s.primary)},
              {"candidate", backend_brief(s.candidate)}, {"weight", s.candidate ? s.weight : 0}};
  out.update(detail);
  return out;
}
}  // namespace

json promote_deployment(Repo& repo, const std::string& env) {
  return change_and_record(repo, env, "promote", [&](EnvState& s) -> json {
    if (s.candidate) {
      json d = {{"from", backend_brief(s.primary)}, {"to", backend_brief(s.candidate)}, {"was", s.strategy}};
      if (s.primary) s.history.push_back(*s.primary);
      s.primary = s.candidate;
      s.candidate.reset();
      s.weight = 0;
      s.strategy = "replace";
      return d;
    }
    if (s.standby) {  // blue-green: finish the switch, free the old side
      json d = {{"from", backend_brief(s.standby)}, {"to", backend_brief(s.primary)}, {"was", "blue-green"}};
      s.standby.reset();
      s.strategy = "replace";
      return d;
    }
    throw InputError("nothing to promote in '" + env + "': no canary, shadow or blue-green switch in progress",
                     "start one with 'mlo deploy MODEL --env " + env + " --strategy canary'");
  });
}

json rollback_deployment(Repo& repo, const std::string& env) {
  return change_and_record(repo, env, "rollback", [&](EnvState& s) -> json {
    if (s.candidate) {  // abort the canary/shadow
      json d = {{"from", backend_brief(s.candidate)}, {"to", backend_brief(s.primary)}, {"aborted", s.strategy}};
      s.candidate.reset();
      s.weight = 0;
      s.strategy = "replace";
      return d;
    }
    // Entries of the serving version itself (left by redeploys before they
    // became no-ops) are no step back.
    while (!s.standby && !s.history.empty() && s.primary && same_version(s.history.back(), *s.primary)) s.history.pop_back();
    std::optional<Backend> prev;
    if (s.standby) {
      prev = s.standby;
      s.standby.reset();
    } else if (!s.history.empty()) {
      prev = s.history.back();
    } else {
      throw InputError("nothing to roll back to in '" + env + "': it has served only one version",
                       "deploy another version first; 'mlo deploy stop " + env + "' ends the deployment");
    }
    if (!s.history.empty() && s.history.back().id == prev->id) s.history.pop_back();
    // A retired version starts again under a new runner.
    Backend back = *prev;
    json d = {{"from", backend_brief(s.primary)}, {"to", backend_brief(back)}};
    s.primary = back;
    s.strategy = "replace";
    return d;
  });
}

json set_traffic(Repo& repo, const std::string& env, int weight) {
  if (weight < 0 || weight > 100) throw UsageError("--weight must be 0..100, not " + std::to_string(weight));
  return change_and_record(repo, env, "traffic", [&](EnvState& s) -> json {
    if (!s.candidate)
      throw InputError("no canary or shadow in '" + env + "' to send traffic to",
                       "start one with 'mlo deploy MODEL --env " + env + " --strategy canary --weight N'");
    json d = {{"from_weight", s.weight}, {"to_weight", weight}, {"candidate", backend_brief(s.candidate)}};
    s.weight = weight;
    return d;
  });
}

std::vector<fs::path> deployment_logs(Repo& repo, const std::string& env) {
  fs::path dir = env_dir(repo, env);
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw InputError("no deployment named '" + env + "'", "list them with 'mlo deploy ls'");
  std::vector<fs::path> out;
  if (fs::exists(dir / "router.log", ec)) out.push_back(dir / "router.log");
  std::vector<fs::path> runners;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string n = e.path().filename().string();
    if (n.rfind("runner-", 0) == 0 && e.path().extension() == ".log") runners.push_back(e.path());
  }
  std::sort(runners.begin(), runners.end(), [](const fs::path& a, const fs::path& b) {
    return fs::last_write_time(a) < fs::last_write_time(b);
  });
  out.insert(out.end(), runners.begin(), runners.end());
  return out;
}

}  // namespace mlo::deploy
