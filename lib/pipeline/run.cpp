#include "pipeline/run.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/interrupt.h"
#include "core/log.h"
#include "data/data.h"
#include "data/pointer.h"
#include "data/workspace.h"
#include "environment/environment.h"
#include "pipeline/hashing.h"
#include "pipeline/plan.h"
#include "pipeline/dep_checks.h"
#include "pipeline/run_cache.h"
#include "pipeline/runs.h"
#include "repo/lock.h"
#include "repo/repo.h"
#include "runner/container.h"
#include "runner/exec.h"

namespace mlo {

using json = nlohmann::json;

namespace {
DepChecker g_dep_checker = nullptr;
}
void set_dep_checker(DepChecker checker) { g_dep_checker = checker; }
DepChecker dep_checker() { return g_dep_checker; }

json StageOutcome::to_json() const {
  json j = {{"stage", stage}, {"action", action}, {"reason", reason}, {"run_id", run_id}};
  if (!status.empty()) j["status"] = status;
  if (!message.empty()) j["message"] = message;
  if (!point.empty()) j["point"] = point;
  if (!metrics.empty()) j["metrics"] = metrics;
  return j;
}

bool RunReport::ok() const {
  return std::none_of(stages.begin(), stages.end(), [](auto& s) {
    return s.action == "failed" || s.action == "interrupted" || s.action == "skipped";
  });
}

json RunReport::to_json() const {
  json j = {{"ok", ok()}, {"stages", json::array()}};
  if (!sweep.empty()) j["sweep"] = sweep;
  j["lock_changed"] = lock_changed;
  for (const auto& s : stages) j["stages"].push_back(s.to_json());
  return j;
}

// ---------------------------------------------------------------- helpers

namespace {

json resources_json(const Resources& r) {
  json j = json::object();
  if (r.cpus) j["cpus"] = *r.cpus;
  if (r.gpus) j["gpus"] = r.gpus;
  if (r.memory_bytes) j["memory_bytes"] = *r.memory_bytes;
  if (r.time_limit_s) j["time_limit_s"] = *r.time_limit_s;
  return j;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string param_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::string env_name(const std::string& display) {
  std::string n = "MLO_PARAM_";
  for (char c : display) n += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(c)) : '_';
  return n;
}

std::string cpu_model() {
  static std::string model = [] {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return std::string();
  }();
  return model;
}

bool same_or_under(const std::string& a, const std::string& b) {
  return a == b || (a.size() > b.size() && a.compare(0, b.size(), b) == 0 && a[b.size()] == '/');
}

// Replaces ${params.KEY} in a command: raw in argv form, shell-quoted in shell form.
std::string substitute(const std::string& text, const json& params, bool quote, const StageDef& s) {
  static const std::regex re(R"(\$\{params\.([^}]+)\})");
  std::string out;
  auto begin = std::sregex_iterator(text.begin(), text.end(), re);
  size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    const auto& m = *it;
    out += text.substr(last, static_cast<size_t>(m.position()) - last);
    std::string key = m[1];
    std::string ref = normalize_param_ref(key);
    if (!params.contains(ref))
      throw InputError(s.where + ": cmd uses ${params." + key + "} but the stage does not list '" + key + "' in params",
                       "add it to the stage's params so that changing it re-runs the stage");
    std::string v = param_text(params[ref]);
    out += quote ? runner::shell_quote_always(v) : v;
    last = static_cast<size_t>(m.position() + m.length());
  }
  return out + text.substr(last);
}

// A param file reader rooted at a folder.
FileReader reader_at(const fs::path& root) {
  return [root](const std::string& rel) { return read_file_if_exists(root / rel); };
}

json nest_params(const json& flat) {
  json out = json::object();
  for (auto it = flat.begin(); it != flat.end(); ++it) {
    std::string ref = it.key();
    std::string file = ref.substr(0, ref.find(':'));
    std::string key = ref.substr(file.size() + 1);
    json* node = file == "params.yaml" ? &out : &out[file];
    std::stringstream ss(key);
    std::string part;
    std::vector<std::string> parts;
    while (std::getline(ss, part, '.')) parts.push_back(part);
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      if (!(*node)[parts[i]].is_object()) (*node)[parts[i]] = json::object();
      node = &(*node)[parts[i]];
    }
    (*node)[parts.back()] = it.value();
  }
  return out;
}


json read_metrics_file(const fs::path& path, const std::string& rel) {
  auto text = read_file_if_exists(path);
  return text ? parse_metrics_text(*text, rel) : json::object();
}

// Step-wise metrics (MLO_METRICS_FILE): {"key":..,"value":..,"step":..} per line.
json read_series(const fs::path& path, std::vector<std::string>& warnings) {
  json series = json::object();
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json e = json::parse(line, nullptr, false);
    if (e.is_discarded() || !e.is_object() || !e.contains("key") || !e["key"].is_string() || !e.contains("value") ||
        !e["value"].is_number()) {
      if (warnings.size() < 3) warnings.push_back("metrics log line " + std::to_string(n) + " ignored: " + line.substr(0, 80));
      continue;
    }
    json point = {{"value", e["value"]}};
    if (e.contains("step") && e["step"].is_number()) point["step"] = e["step"];
    else point["step"] = series[e["key"].get<std::string>()].size();
    if (e.contains("time") && e["time"].is_number()) point["time"] = e["time"];
    series[e["key"].get<std::string>()].push_back(point);
  }
  return series;
}

// ---------------------------------------------------------------- sweeps

// A scratch tree for one sweep point: real folders down to each excluded
// output, symlinks to the work tree for everything else.
void mirror(const fs::path& src, const fs::path& dst, const std::string& rel, const std::vector<std::string>& excluded) {
  fs::create_directories(dst);
  for (const auto& entry : fs::directory_iterator(src)) {
    std::string name = entry.path().filename().string();
    std::string r = rel.empty() ? name : rel + "/" + name;
    if (rel.empty() && (name == ".git" || name == ".mlo")) continue;
    bool skip = false, descend = false;
    for (const auto& e : excluded) {
      if (e == r) skip = true;
      else if (same_or_under(e, r)) descend = true;
    }
    if (skip) continue;
    if (descend && entry.is_directory()) mirror(entry.path(), dst / name, r, excluded);
    else fs::create_symlink(entry.path(), dst / name);
  }
  if (rel.empty()) fs::create_directory_symlink(src / ".git", dst / ".git");
}

// ---------------------------------------------------------------- the executor

// Where a set of stages runs: the work tree (updates mlo.lock and the
// workspace) or a sweep point's scratch tree.
struct ExecContext {
  fs::path root;
  bool workspace = true;
  std::map<std::string, json> overrides;  // FILE:KEY -> value
  json point = json::object();            // display key -> value (sweeps)
  std::string sweep;
  // The experiment its records belong to (mlo exp show): the `mlo run`
  // invocation in the work tree, SWEEP-N for a sweep's point N.
  std::string experiment;
  std::unique_ptr<PathHasher> hasher;
  // Dry run: stages that would run here, those that would be restored, and
  // the hashes restored outputs would have (their dependents' deps).
  std::set<std::string> will_run, will_restore;
  std::map<std::string, std::string> predicted;
};

struct Task {
  ExecContext* ctx;
  const StageDef* stage;
  std::vector<size_t> after;  // task indexes that must finish first
};

// The stage key in mlo 0.2's form, computed on first use (see run_task).
using FlatKey = std::function<const std::optional<StageKey>&()>;

class Executor {
 public:
  Executor(Repo& repo, const Pipeline& p, const RunOptions& o,
           const std::function<void(const StageOutcome&, bool)>& on_event)
      : repo_(repo), pipeline_(p), upstream_(p.upstream()), opts_(o), on_event_(on_event) {}

  void load_lock() { lock_ = LockFile::load(repo_.root()); }

  void start_facts() {
    // Open what workers share before any thread starts (Repo opens lazily).
    repo_.cache();
    repo_.index();
    tmp_ = repo_.tmp_dir() / "runs";
    fs::create_directories(tmp_);
    cache_ = std::make_unique<RunCache>(repo_, tmp_);
    env_cache_ = repo_.cache().root() / "env";
  }

  // Runs tasks in dependency order on up to `jobs` threads.
  void schedule(std::vector<Task>& tasks, int jobs, RunReport& report) {
    if (opts_.on_planned && !opts_.dry_run) opts_.on_planned(tasks.size());
    std::vector<int> state(tasks.size(), 0);  // 0 waiting, 1 running, 2 ok, 3 failed
    std::vector<StageOutcome> outcomes(tasks.size());
    std::mutex mu;
    std::condition_variable cv;
    int running = 0;
    std::exception_ptr error;
    std::vector<std::thread> threads;
    auto pick = [&]() -> long {
      for (size_t i = 0; i < tasks.size(); ++i) {
        if (state[i] != 0) continue;
        bool ready = true, doomed = false;
        for (size_t a : tasks[i].after) {
          if (state[a] == 3) doomed = true;
          if (state[a] != 2) ready = false;
        }
        if (doomed) {
          state[i] = 3;
          outcomes[i].stage = tasks[i].stage->name;
          outcomes[i].action = interrupted() ? "interrupted" : "skipped";
          outcomes[i].reason = "an upstream stage did not succeed";
          outcomes[i].point = tasks[i].ctx->point;
          return -2;  // state changed: look again
        }
        if (ready) return static_cast<long>(i);
      }
      return -1;
    };
    std::unique_lock<std::mutex> lk(mu);
    for (;;) {
      if (error || interrupted()) {
        for (size_t i = 0; i < tasks.size(); ++i)
          if (state[i] == 0) {
            state[i] = 3;
            outcomes[i] = StageOutcome{tasks[i].stage->name, interrupted() ? "interrupted" : "skipped",
                                       interrupted() ? "interrupted before it started" : "stopped after an error"};
            outcomes[i].point = tasks[i].ctx->point;
          }
      }
      long next = running < std::max(jobs, 1) ? pick() : -1;
      if (next == -2) continue;
      if (next >= 0) {
        size_t i = static_cast<size_t>(next);
        state[i] = 1;
        ++running;
        auto work = [&, i] {
          StageOutcome out;
          bool ok = false;
          std::exception_ptr err;
          try {
            out = run_task(tasks[i]);
            ok = out.action != "failed" && out.action != "interrupted";
          } catch (...) {
            err = std::current_exception();
          }
          std::lock_guard<std::mutex> g(mu);
          outcomes[i] = out;
          state[i] = ok ? 2 : 3;
          if (err && !error) error = err;
          --running;
          cv.notify_all();
        };
        // One at a time runs here: a thread a stage cost a no-op run ~10% of
        // its CPU (issue 14), and nothing else waits on this thread meanwhile.
        if (jobs <= 1) {
          lk.unlock();
          work();
          lk.lock();
        } else {
          threads.emplace_back(work);
        }
        continue;
      }
      bool pending = std::any_of(state.begin(), state.end(), [](int s) { return s == 0 || s == 1; });
      if (!pending) break;
      cv.wait(lk);
    }
    lk.unlock();
    for (auto& t : threads) t.join();
    for (auto& o : outcomes) {
      if (o.action == "skipped") emit(o, false);
      report.stages.push_back(o);
    }
    if (error) std::rethrow_exception(error);
  }

  // One stage in one context, as a short sequence of named steps: what it
  // reads and its key (the plan), up to date?, the run cache, or run it.
  StageOutcome run_task(const Task& t) {
    const StageDef& s = *t.stage;
    ExecContext& ctx = *t.ctx;
    StageOutcome out;
    out.stage = s.name;
    out.point = ctx.point;
    if (opts_.dry_run && upstream_would_change(ctx, s, out)) return out;
    StageFacts facts = gather_facts(ctx, s);
    StageKey key = stage_key(s, facts);
    // The key mlo 0.2 and earlier wrote (folder deps as flat manifests), for
    // an old mlo.lock or run cache: computed only when the new key misses.
    std::optional<std::optional<StageKey>> flat;
    FlatKey flat_key = [&]() -> const std::optional<StageKey>& {
      if (!flat) flat = flat_manifest_key(s, with_flat_deps(ctx, s, facts));
      return *flat;
    };
    out.reason = why_run(ctx, s, key, flat_key);
    if (out.reason.empty()) {
      out.action = "up-to-date";
      out.run_id = lock_entry(s.name).value("run", "");
      emit(out, false);
      return out;
    }
    if (!opts_.dry_run && s.validate) {
      // Before the run cache too: an output computed from data that fails its contract is never restored.
      json failures = failed_contracts(s);
      if (!failures.empty()) return refuse(ctx, s, facts, key, failures, out);
    }
    std::optional<json> cached = lookup_cache(s, key.key);
    if (!cached && flat_key()) cached = lookup_cache(s, flat_key()->key);  // a run of mlo 0.2 or earlier
    if (opts_.dry_run) return would_change(ctx, s, cached, out);
    if (cached) return restore_cached(ctx, s, facts, key, *cached, out);
    if (facts.environment.is_null()) facts.environment = capture_environment(ctx, s, facts.runner_config);
    return execute(ctx, s, facts, key, out);
  }

  // The deps that fail their data contracts, each checked once per `mlo run`
  // (sweep points and stages sharing a dataset reuse the answer).
  json failed_contracts(const StageDef& s) {
    json failures = json::array();
    DepChecker check = dep_checker();
    if (!check) return failures;
    std::lock_guard<std::mutex> g(contracts_mu_);
    for (const auto& d : s.deps) {
      auto it = contract_memo_.find(d);
      if (it == contract_memo_.end()) it = contract_memo_.emplace(d, check(repo_, d)).first;
      if (it->second) failures.push_back(*it->second);
    }
    return failures;
  }

  // A stage whose data failed its contract: not run, recorded as a failed run naming the checks.
  StageOutcome refuse(ExecContext& ctx, const StageDef& s, const StageFacts& facts, const StageKey& key,
                      const json& failures, StageOutcome& out) {
    out.run_id = new_run_id();
    JobResult result;
    result.status = "failed";
    result.started_at = result.finished_at = now_s();
    for (const auto& f : failures)
      result.message += (result.message.empty() ? "data contract failed: " : "; ") + f.value("summary", std::string());
    json record = make_record(ctx, s, facts, key, out.run_id, result, StoredOutputs{}, "");
    record["contracts"] = failures;
    {
      std::lock_guard<std::mutex> g(mu_);
      record["record"] = store_run_record(repo_, record, false);
      wrote_ = true;
    }
    out.action = "failed";
    out.status = "failed";
    out.message = result.message;
    out.contract_failed = true;
    emit(out, false);
    return out;
  }

  // A dry run can not know the deps an upstream stage would write when it
  // runs; a restored one writes what its record says (exact paths only).
  bool upstream_would_change(ExecContext& ctx, const StageDef& s, StageOutcome& out) {
    std::lock_guard<std::mutex> g(mu_);
    std::string why;
    for (const auto& u : upstream_[s.name]) {
      if (ctx.will_run.count(u)) why = "upstream stage '" + u + "' would run";
      else if (ctx.will_restore.count(u))
        for (const auto& d : s.deps)
          if (pipeline_.producer_of(d) == pipeline_.find(u) && !ctx.predicted.count(d))
            why = "upstream stage '" + u + "' would be restored";
      if (why.empty()) continue;
      out.action = "would-run";
      out.reason = why;
      ctx.will_run.insert(s.name);
      return true;
    }
    return false;
  }

  // A dep's hash: what a dry run predicts it will be, or what it is.
  std::optional<PathHash> dep_hash(ExecContext& ctx, const std::string& d) {
    if (opts_.dry_run) {
      std::lock_guard<std::mutex> g(mu_);
      if (auto it = ctx.predicted.find(d); it != ctx.predicted.end()) return PathHash{it->second};
    }
    return ctx.hasher->hash(d);
  }

  StageFacts gather_facts(ExecContext& ctx, const StageDef& s) {
    StageFacts f;
    for (const auto& d : s.deps) {
      auto h = dep_hash(ctx, d);
      if (!h)
        throw InputError(s.where + ": dep '" + d + "' of stage '" + s.name + "' does not exist",
                         "create it, track it with 'mlo data add'/'mlo data checkout', or add a stage whose outs include it");
      f.deps[d] = h->sha256;
    }
    f.params = resolve_params(s.params, reader_at(ctx.root), ctx.overrides);
    {
      std::lock_guard<std::mutex> g(mu_);
      f.runner_config = yaml_to_json(repo_.config().node("runners." + s.runner));
    }
    if (f.runner_config.is_null()) f.runner_config = json::object();
    if (keys_environment(s)) {
      f.environment = capture_environment(ctx, s, f.runner_config);
      f.env_fingerprint = environment::fingerprint(f.environment, s.environment, s.where + ": stage '" + s.name + "'");
    }
    return f;
  }

  // `f` with its folder deps' flat manifest hashes (a dry run's predicted
  // deps have none, as they are not read).
  StageFacts& with_flat_deps(ExecContext& ctx, const StageDef& s, StageFacts& f) {
    for (const auto& d : s.deps) {
      if (opts_.dry_run) {
        std::lock_guard<std::mutex> g(mu_);
        if (ctx.predicted.count(d)) continue;
      }
      if (auto flat = ctx.hasher->flat_hash(d)) f.flat_deps[d] = *flat;
    }
    return f;
  }

  // A stage whose key holds part of its environment: `environment:`, or a container's image digest.
  static bool keys_environment(const StageDef& s) { return !s.environment.empty() || s.runner == "container"; }

  // What the stage runs on (lib/environment); a container stage's image
  // resolved to its digest. Only a keyed part may fail the stage.
  json capture_environment(const ExecContext& ctx, const StageDef& s, const json& runner_config) {
    environment::CaptureRequest r;
    r.root = ctx.root;
    r.wdir = s.wdir;
    r.argv = s.argv;
    r.shell = s.shell;
    r.env = s.env;
    for (const auto& e : s.environment)
      if (e != "python") r.lock_files.push_back(e);
    r.cache_dir = env_cache_;
    r.python = s.runner != "container";
    json env;
    try {
      env = environment::capture(r);
    } catch (const Error& e) {
      if (keys_environment(s)) throw;
      return {{"error", e.what()}};
    }
    if (s.runner == "container") env["container"] = resolve_image(runner_config, s.image).to_json();
    return env;
  }

  // The fingerprint of the environment the stage's last run (mlo.lock) ran
  // in, to name what changed; null when its record is not here.
  json previous_fingerprint(const StageDef& s, const json& prev) {
    std::string hash = prev.is_object() ? prev.value("record", "") : "";
    if (!keys_environment(s) || hash.empty()) return nullptr;
    try {
      std::lock_guard<std::mutex> g(mu_);
      if (!repo_.cache().has(hash)) return nullptr;
      json record = json::parse(repo_.cache().read(hash), nullptr, false);
      if (!record.is_object() || !record.contains("environment")) return nullptr;
      return environment::fingerprint(record["environment"], s.environment, s.where);
    } catch (const Error&) {
      return nullptr;
    }
  }

  json lock_entry(const std::string& stage) {
    std::lock_guard<std::mutex> g(mu_);
    return lock_.entry(stage);
  }

  // Why the stage must run here; "" when it is up to date. An mlo.lock
  // entry of mlo 0.2 or earlier (folders hashed as flat manifests) matches
  // `flat_key` and the outputs' flat hashes; it stays as it is until the
  // stage runs again.
  std::string why_run(ExecContext& ctx, const StageDef& s, const StageKey& new_key, const FlatKey& flat_key) {
    bool forced = opts_.force && is_target(s.name);
    if (!ctx.workspace) return forced ? "forced" : ctx.point.empty() ? "sweep" : "sweep point";
    json prev = lock_entry(s.name);
    std::string prev_key = prev.is_object() ? prev.value("key", "") : "";
    bool old_lock = prev.is_object() && prev_key != new_key.key && flat_key() && prev_key == flat_key()->key;
    const StageKey& key = old_lock ? *flat_key() : new_key;
    TreeState tree;
    if (prev.is_object() && prev.contains("outs") && prev["outs"].is_array())
      for (const auto& o : prev["outs"]) {
        std::string path = o.value("path", "");
        auto h = ctx.hasher->hash(path);
        if (!h) continue;
        tree.outs[path] = h->sha256;
        if (h->dir && h->sha256 != o.value("sha256", ""))  // recorded by mlo 0.2 or earlier?
          if (auto flat = ctx.hasher->flat_hash(path)) tree.flat_outs[path] = *flat;
      }
    for (const auto& m : s.metrics)
      if (fs::exists(ctx.root / m)) tree.metrics_present.insert(m);
    json prev_env = prev.is_object() && prev.value("key", "") != key.key ? previous_fingerprint(s, prev) : json();
    std::string why = stale_reason(s, prev, key, tree, prev_env);
    return why.empty() && forced ? "forced" : why;
  }

  std::optional<json> lookup_cache(const StageDef& s, const std::string& key) {
    if (opts_.force && is_target(s.name)) return std::nullopt;
    std::lock_guard<std::mutex> g(mu_);
    return cache_->lookup(key);
  }

  StageOutcome would_change(ExecContext& ctx, const StageDef& s, const std::optional<json>& cached, StageOutcome& out) {
    out.action = cached ? "would-restore" : "would-run";
    std::lock_guard<std::mutex> g(mu_);
    if (!cached) {
      ctx.will_run.insert(s.name);
      return out;
    }
    out.run_id = (*cached)["run_id"];
    ctx.will_restore.insert(s.name);
    for (auto it = (*cached)["outs"].begin(); it != (*cached)["outs"].end(); ++it)
      ctx.predicted[it.key()] = it.value().value("sha256", "");
    return out;
  }

  StageOutcome restore_cached(ExecContext& ctx, const StageDef& s, const StageFacts& facts, const StageKey& key,
                              const json& cached, StageOutcome& out) {
    if (ctx.workspace) cache_->backup(ctx.root, *ctx.hasher, s);
    cache_->restore(ctx.root, cached);
    out.action = "restored";
    out.run_id = cached["run_id"];
    out.metrics = cached.value("metrics", json::object());
    if (ctx.workspace) set_lock(s, key.key, facts, cached);
    else out.run_id = record_restored_point(ctx, cached);
    emit(out, false);
    return out;
  }

  // A sweep point restored from the run cache is still a point of this
  // sweep: it gets its own record (the cached one's results, this sweep's
  // id and point, `restored_from` naming the run that computed them), so
  // `mlo runs ls --where sweep=ID` and `mlo exp show` list every point.
  std::string record_restored_point(ExecContext& ctx, const json& cached) {
    json record = cached;
    record.erase("record");
    record["run_id"] = new_run_id();
    record["restored_from"] = cached.value("restored_from", cached.value("run_id", std::string()));
    record["started_at"] = record["finished_at"] = now_s();
    record["overrides"] = display_params(overrides_json(ctx));
    tag_record(ctx, record);
    std::lock_guard<std::mutex> g(mu_);
    git_facts();
    record["git"] = {{"commit", commit_}, {"dirty", dirty_}};
    store_run_record(repo_, record, false);  // synced once, in finish_writes()
    wrote_ = true;
    return record["run_id"];
  }

  // What ties a record to its experiment: the invocation or sweep point, and
  // the point's params (a downstream stage was computed from them too).
  static void tag_record(const ExecContext& ctx, json& record) {
    record["experiment"] = ctx.experiment;
    if (ctx.sweep.empty()) return;
    record["sweep"] = ctx.sweep;
    record["point"] = ctx.point;
  }

  struct StoredOutputs {
    json outs = json::object();
    json metrics = json::object();
    json metric_files = json::object();
    json series = json::object();
  };

  // The files a job writes besides its outputs, in .mlo/tmp/runs.
  struct JobFiles {
    fs::path log, metrics, params;
  };

  StageOutcome execute(ExecContext& ctx, const StageDef& s, const StageFacts& facts, const StageKey& key,
                       StageOutcome& out) {
    out.run_id = new_run_id();
    emit(out, true);
    if (ctx.workspace) cache_->backup(ctx.root, *ctx.hasher, s);
    cache_->clear_outputs(ctx.root, s);
    JobFiles files{tmp_ / (out.run_id + ".log"), tmp_ / (out.run_id + ".metrics.jsonl"),
                   tmp_ / (out.run_id + ".params.json")};
    JobResult result = run_job(s, job_spec(ctx, s, facts, out.run_id, files));
    StoredOutputs stored = store_outputs(ctx, s, result);
    add_series(s, files.metrics, stored);
    std::string log_hash = store_log(out.run_id, files);
    json record = make_record(ctx, s, facts, key, out.run_id, result, stored, log_hash);
    {
      std::lock_guard<std::mutex> g(mu_);
      record["record"] = store_run_record(repo_, record, false);  // synced once, in finish_writes()
      wrote_ = true;
    }
    out.status = result.status;
    out.metrics = stored.metrics;
    if (result.ok()) {
      out.action = "ran";
      if (ctx.workspace) set_lock(s, key.key, facts, record);
    } else {
      out.action = result.status == "interrupted" ? "interrupted" : "failed";
      out.message = result.message;
    }
    emit(out, false);
    return out;
  }

  JobSpec job_spec(ExecContext& ctx, const StageDef& s, const StageFacts& facts, const std::string& run_id,
                   const JobFiles& files) {
    write_file_atomic(files.params, nest_params(facts.params).dump(2) + "\n", false);
    JobSpec spec;
    spec.run_id = run_id;
    spec.stage = s.name;
    if (s.argv.empty()) spec.shell = substitute(s.shell, facts.params, true, s);
    else
      for (const auto& a : s.argv) spec.argv.push_back(substitute(a, facts.params, false, s));
    spec.workdir = ctx.root / s.wdir;
    spec.env = s.env;
    spec.env["MLO_RUN_ID"] = run_id;
    spec.env["MLO_STAGE"] = s.name;
    spec.env["MLO_METRICS_FILE"] = files.metrics.string();
    spec.env["MLO_PARAMS_FILE"] = files.params.string();
    spec.env["MLO_REPO"] = ctx.root.string();
    for (auto it = facts.params.begin(); it != facts.params.end(); ++it)
      spec.env[env_name(display_param(it.key()))] = param_text(it.value());
    spec.resources = s.resources;
    spec.runner = s.runner;
    spec.runner_config = facts.runner_config;
    if (facts.environment.contains("container")) {  // run exactly the image that was resolved and keyed
      spec.runner_config["image"] = s.image;
      spec.runner_config["image_id"] = facts.environment["container"].value("id", "");
    }
    spec.log_path = files.log;
    for (const auto& o : s.outs) spec.outs.push_back(fs::path(o).lexically_relative(s.wdir).generic_string());
    spec.stream_output = opts_.stream_output;
    { std::ofstream touch(files.log, std::ios::app); }
    return spec;
  }

  // Runs the job; a runner's error (not Ctrl-C) becomes a failed result.
  JobResult run_job(const StageDef& s, const JobSpec& spec) {
    JobResult result;
    try {
      std::unique_ptr<Runner> runner;
      {
        std::lock_guard<std::mutex> g(mu_);
        runner = make_runner(s.runner, repo_);
      }
      result = runner->run(spec);
    } catch (const InterruptedError&) {
      throw;
    } catch (const Error& e) {
      result.status = "error";
      result.message = e.what();
      result.started_at = result.finished_at = now_s();
    }
    return result;
  }

  // A succeeded job must have written every declared output; each is stored
  // (not after Ctrl-C: nothing half-stored). A missing one fails the run.
  StoredOutputs store_outputs(ExecContext& ctx, const StageDef& s, JobResult& result) {
    StoredOutputs st;
    auto fail = [&](const std::string& msg) {
      result.status = "failed";
      result.message = msg;
    };
    for (const auto& o : s.outs)
      if (result.ok() && !fs::exists(ctx.root / o)) fail("the stage did not write its declared output '" + o + "'");
    for (const auto& m : s.metrics)
      if (result.ok() && !fs::exists(ctx.root / m)) fail("the stage did not write its declared metrics file '" + m + "'");
    if (!result.ok()) return st;
    try {
      for (const auto& o : s.outs) st.outs[o] = cache_->store_output(ctx.root, o);
      for (const auto& m : s.metrics) {
        json values = read_metrics_file(ctx.root / m, m);
        // The bytes go into the store too, so a run-cache restore can write them back.
        std::string h = repo_.cache().add_bytes(read_file(ctx.root / m), false);
        st.metric_files[m] = {{"sha256", h}, {"values", values}};
        for (auto it = values.begin(); it != values.end(); ++it) st.metrics[it.key()] = it.value();
      }
    } catch (const Error& e) {
      fail(std::string("storing outputs: ") + e.what());
    }
    return st;
  }

  // Step-wise metrics: the last value of a series counts unless a metrics file has the key.
  void add_series(const StageDef& s, const fs::path& path, StoredOutputs& st) {
    std::vector<std::string> warnings;
    st.series = read_series(path, warnings);
    for (auto it = st.series.begin(); it != st.series.end(); ++it)
      if (!st.metrics.contains(it.key()) && !it.value().empty()) st.metrics[it.key()] = it.value().back()["value"];
    for (const auto& w : warnings) log::warn("stage " + s.name + ": " + w);
  }

  // The captured log goes into the store (synced with the record); the job's files go.
  std::string store_log(const std::string& run_id, const JobFiles& files) {
    std::string log_hash;
    try {
      // After Ctrl-C the copying add_file stops at once: the log is read whole
      // instead, so that 'mlo runs log ID' shows what the job printed.
      log_hash = interrupted() ? repo_.cache().add_bytes(read_file(files.log), false)
                               : repo_.cache().add_file(files.log, {LinkMode::copy}, false);
    } catch (const Error& e) {
      log::warn("could not store the log of run " + run_id + ": " + e.what());
    }
    std::error_code ec;
    for (const auto& f : {files.log, files.metrics, files.params}) fs::remove(f, ec);
    return log_hash;
  }

  json make_record(ExecContext& ctx, const StageDef& s, const StageFacts& facts, const StageKey& key,
                   const std::string& run_id, const JobResult& result, const StoredOutputs& st, const std::string& log_hash) {
    {
      std::lock_guard<std::mutex> g(mu_);
      git_facts();
    }
    json record = {{"version", 1},
                   {"run_id", run_id},
                   {"stage", s.name},
                   {"cmd", key.doc["cmd"]},
                   {"wdir", s.wdir},
                   {"git", {{"commit", commit_}, {"dirty", dirty_}}},
                   {"deps", facts.deps},
                   {"outs", st.outs},
                   {"params", display_params(facts.params)},
                   {"overrides", ctx.point.empty() && opts_.sets.empty() ? json::object() : display_params(overrides_json(ctx))},
                   {"metrics", st.metrics},
                   {"metric_files", st.metric_files},
                   {"metric_series", st.series},
                   {"runner", s.runner},
                   {"runner_config", facts.runner_config},
                   {"resources", resources_json(s.resources)},
                   {"env", s.env},
                   {"job", result.to_json()},
                   {"status", result.status},
                   {"exit_code", result.exit_code},
                   {"signal", result.signal},
                   {"message", result.message},
                   {"host", result.host},
                   {"cpu_model", cpu_model()},
                   {"environment", facts.environment},
                   {"started_at", result.started_at},
                   {"finished_at", result.finished_at},
                   {"cache_key", key.key},
                   {"log", log_hash}};
    if (result.info.contains("gpu_model")) record["gpu_model"] = result.info["gpu_model"];
    tag_record(ctx, record);
    return record;
  }

  bool is_target(const std::string& name) const {
    return opts_.targets.empty() || std::find(opts_.targets.begin(), opts_.targets.end(), name) != opts_.targets.end();
  }

  json overrides_json(const ExecContext& ctx) const {
    json o = json::object();
    for (const auto& [k, v] : ctx.overrides) o[k] = v;
    return o;
  }

  // The git commit and whether the work tree is dirty: asked once, and only
  // when a stage runs (a run with nothing to do never scans the work tree).
  void git_facts() {
    if (facts_) return;
    facts_ = true;
    try {
      commit_ = repo_.git().head_commit().value_or("");
      dirty_ = repo_.git().is_dirty();
    } catch (const Error&) {
    }
  }

  // Once per command, after the stages: one syncfs for every object the
  // runs stored (records, logs, outputs), then mlo.lock and .gitignore,
  // which name them. Nothing written: no sync.
  // Returns true when mlo.lock changed.
  bool finish_writes() {
    std::lock_guard<std::mutex> g(mu_);
    if (wrote_) repo_.cache().sync();
    wrote_ = false;
    bool changed = lock_.write(repo_.root(), pipeline_);
    for (const auto* s : lock_stages_) ignore_outputs(*s);
    lock_stages_.clear();
    return changed;
  }

  void emit(const StageOutcome& o, bool started) {
    if (!on_event_) return;
    std::lock_guard<std::mutex> g(event_mu_);
    on_event_(o, started);
  }

  void set_lock(const StageDef& s, const std::string& key, const StageFacts& facts, const json& record) {
    std::lock_guard<std::mutex> g(mu_);
    lock_.set(s, key, facts.deps, facts.params, record);
    lock_stages_.push_back(&s);  // mlo.lock is written once, in finish_writes()
  }

  // Outputs live in the store, not in git: add them to the root .gitignore.
  void ignore_outputs(const StageDef& s) {
    std::vector<std::string> add;
    for (const auto& o : s.outs) {
      try {
        if (!repo_.git().is_ignored(o) && !repo_.git().is_tracked(o)) add.push_back("/" + o);
      } catch (const Error&) {
      }
    }
    if (add.empty()) return;
    fs::path gi = repo_.root() / ".gitignore";
    std::string text = read_file_if_exists(gi).value_or("");
    if (!text.empty() && text.back() != '\n') text += "\n";
    for (const auto& a : add) text += a + "\n";
    write_file_atomic(gi, text);
  }

  Repo& repo_;
  const Pipeline& pipeline_;
  std::map<std::string, std::vector<std::string>> upstream_;
  const RunOptions& opts_;
  std::function<void(const StageOutcome&, bool)> on_event_;
  LockFile lock_;
  std::mutex mu_;        // repo.index(), repo.config(), lock_
  std::mutex event_mu_;
  std::string commit_;
  bool dirty_ = false;
  bool facts_ = false;
  bool wrote_ = false;       // objects stored without a sync yet
  std::vector<const StageDef*> lock_stages_;
  fs::path tmp_;
  fs::path env_cache_;  // CACHE/env: interpreters' package lists, GPUs
  std::unique_ptr<RunCache> cache_;
  std::mutex contracts_mu_;  // one contract check at a time
  std::map<std::string, std::optional<json>> contract_memo_;  // dep -> failure (nullopt: none or passed)

 public:
  std::mutex& db_mutex() { return mu_; }
};

}  // namespace

// ---------------------------------------------------------------- run_pipeline

namespace {

// Every param a stage in play reads: --set and --grid keys must be among them.
std::set<std::string> known_params(const Pipeline& p, const RunOptions& opts, const std::vector<std::string>& order,
                                   bool sweeping) {
  std::set<std::string> known;
  for (const auto& n : sweeping ? p.downstream(opts.targets) : order)
    for (const auto& r : p.get(n).params) known.insert(r);
  if (sweeping)
    for (const auto& n : order)
      for (const auto& r : p.get(n).params) known.insert(r);
  return known;
}

// --set KEY=VALUE -> FILE:KEY -> value. A key under a whole-section param
// (params: [train]) counts as read by that stage.
bool reads_param(const std::set<std::string>& known, const std::string& ref) {
  if (known.count(ref)) return true;
  for (const auto& k : known)
    if (ref.size() > k.size() && ref.compare(0, k.size(), k) == 0 && ref[k.size()] == '.') return true;
  return false;
}

std::map<std::string, json> parse_overrides(const std::vector<std::string>& sets, const std::set<std::string>& known) {
  std::map<std::string, json> overrides;
  for (const auto& s : sets) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0) throw UsageError("bad --set '" + s + "'", "write --set KEY=VALUE, e.g. --set train.lr=0.01");
    std::string ref = normalize_param_ref(s.substr(0, eq));
    if (!reads_param(known, ref))
      throw UsageError("--set " + s + ": no stage to run uses param '" + s.substr(0, eq) + "'",
                       "list it in a stage's params in mlo.yaml");
    overrides[ref] = scalar_to_json(s.substr(eq + 1));
  }
  return overrides;
}

std::vector<SweepAxis> parse_axes(const RunOptions& opts, const std::set<std::string>& known) {
  std::vector<SweepAxis> axes;
  for (const auto& g : opts.grid) {
    axes.push_back(parse_axis(g, opts.random));
    if (!reads_param(known, axes.back().ref))
      throw UsageError("--grid " + g + ": no swept stage uses param '" + axes.back().display + "'",
                       "list it in the params of the stage you sweep");
  }
  return axes;
}

// Unknown runners fail before anything runs. Returns each runner's capacity.
std::map<std::string, int> runner_capacities(Repo& repo, const Pipeline& p, const std::vector<std::string>& in_play) {
  std::map<std::string, int> capacity;
  for (const auto& n : in_play) {
    const StageDef& s = p.get(n);
    if (capacity.count(s.runner)) continue;
    try {
      capacity[s.runner] = make_runner(s.runner, repo)->capacity();
    } catch (const InputError& e) {
      throw InputError(s.where + ": stage '" + s.name + "': " + e.what(), e.hint());
    }
  }
  return capacity;
}

// Missing deps that no stage writes fail before anything runs too.
void check_missing_deps(Repo& repo, const Pipeline& p, const std::vector<std::string>& order) {
  for (const auto& n : order) {
    const StageDef& s = p.get(n);
    for (const auto& d : s.deps)
      if (!p.producer_of(d) && !fs::exists(repo.root() / d))
        throw InputError(s.where + ": dep '" + d + "' of stage '" + s.name + "' does not exist and no stage writes it",
                         "create it, fetch it with 'mlo data checkout'/'mlo pull', or fix the path in mlo.yaml");
  }
}

bool same_or_above(const std::string& a, const std::string& b) { return same_or_under(a, b) || same_or_under(b, a); }

// The tracked data paths the deps are, lie in, or hold: only those are
// scanned (a repository's other tracked data can be large and is not read).
std::vector<std::string> tracked_data_of(Repo& repo, const std::vector<std::pair<std::string, std::string>>& deps) {
  std::set<std::string> paths;
  for (const auto& [d, stage] : deps) {
    for (std::string at = d; !at.empty(); at = at.find('/') == std::string::npos ? "" : at.substr(0, at.rfind('/')))
      if (fs::exists(repo.root() / (at + kPointerSuffix))) {
        paths.insert((repo.root() / at).string());
        break;
      }
    std::error_code ec;
    if (fs::is_directory(repo.root() / d, ec))
      for (const auto& ptr : find_pointer_files(repo, {d})) paths.insert((repo.root() / *data_path_for(ptr)).string());
  }
  return {paths.begin(), paths.end()};
}

// A dep that is tracked data with changes not recorded in its pointer file:
// the run would not be reproducible from git. A warning, or an error with --strict.
void check_uncommitted_data(Repo& repo, const Pipeline& p, const std::vector<std::string>& order, bool strict) {
  std::vector<std::pair<std::string, std::string>> deps;  // (dep, stage) that no stage writes
  for (const auto& n : order)
    for (const auto& d : p.get(n).deps)
      if (!p.producer_of(d)) deps.emplace_back(d, n);
  std::vector<std::string> tracked = tracked_data_of(repo, deps);
  if (tracked.empty()) return;
  StatusResult status;
  try {
    status = data_status(repo, tracked);
  } catch (const Error& e) {
    log::debug(std::string("data status for mlo run: ") + e.what());
    return;
  }
  for (const auto& e : status.entries) {
    if (e.state == DataState::clean) continue;
    for (const auto& [d, stage] : deps) {
      if (!same_or_above(d, e.path)) continue;
      std::string msg = "dep '" + d + "' of stage '" + stage + "' is tracked data with uncommitted changes (" +
                        to_string(e.state) + " " + e.path + ")";
      std::string hint = "record them with 'mlo data commit " + e.path + "' (and commit the pointer), or discard them with "
                         "'mlo data checkout --force " + e.path + "'";
      if (strict) throw InputError(msg, hint);
      log::warn(msg + "; the run can not be reproduced from git: " + hint);
      break;
    }
  }
}

void throw_if_failed(const RunReport& report) {
  if (interrupted()) throw InterruptedError();
  for (const auto& s : report.stages) {
    if (s.action != "failed") continue;
    std::string msg = "stage '" + s.stage + "' " + (s.status.empty() ? "failed" : s.status) + ": " + s.message;
    if (!s.run_id.empty()) msg += " (run " + s.run_id + ")";
    if (s.contract_failed)  // a check said no: exit 1, like mlo data validate
      throw Error(Exit::check_failed, msg, "see the failures with 'mlo data validate'; fix the data or its checks");
    std::string hint = s.run_id.empty() ? "" : "see its output with 'mlo runs log " + s.run_id + "'";
    if (!report.sweep.empty())  // the points that did run are still worth comparing
      hint += std::string(hint.empty() ? "" : "; ") + "the sweep's runs: mlo runs ls --where sweep=" + report.sweep;
    throw RunnerError(msg, hint);
  }
}

// One `mlo run`: the contexts (work tree, sweep points) and their tasks.
class Session {
 public:
  Session(Repo& repo, const Pipeline& p, const RunOptions& opts, std::map<std::string, json> overrides,
          const std::function<void(const StageOutcome&, bool)>& on_event)
      : repo_(repo), p_(p), opts_(opts), overrides_(std::move(overrides)), ex_(repo, p, opts, on_event) {
    ex_.load_lock();
    ex_.start_facts();
    work_ = make_ctx(repo.root(), true);
    work_->experiment = new_run_id();
  }

  void run_stages(const std::vector<std::string>& names) {
    std::vector<Task> tasks;
    add_tasks(tasks, work_, names);
    ex_.schedule(tasks, opts_.jobs > 0 ? opts_.jobs : 1, report_);
  }

  // The swept stages once per point, each in its own scratch tree.
  void run_sweep(const std::vector<std::string>& swept, const std::vector<SweepAxis>& axes, int capacity) {
    report_.sweep = new_run_id();
    std::vector<std::string> excluded;
    for (const auto& n : swept) {
      for (const auto& o : p_.get(n).outs) excluded.push_back(o);
      for (const auto& o : p_.get(n).metrics) excluded.push_back(o);
    }
    fs::path sweep_dir = repo_.tmp_dir() / "sweeps" / report_.sweep;
    std::vector<Task> tasks;
    auto points = sweep_points(axes, opts_.random, opts_.seed);
    for (size_t i = 0; i < points.size(); ++i) {
      fs::path root = sweep_dir / std::to_string(i);
      if (!opts_.dry_run) mirror(repo_.root(), root, "", excluded);
      ExecContext* c = make_ctx(opts_.dry_run ? repo_.root() : root, false);
      c->sweep = report_.sweep;
      c->experiment = report_.sweep + "-" + std::to_string(i + 1);
      for (auto it = points[i].begin(); it != points[i].end(); ++it) {
        c->overrides[it.key()] = it.value();
        c->point[display_param(it.key())] = it.value();
      }
      add_tasks(tasks, c, swept);
    }
    std::error_code ec;
    try {
      ex_.schedule(tasks, opts_.jobs > 0 ? opts_.jobs : capacity, report_);
    } catch (...) {
      fs::remove_all(sweep_dir, ec);
      throw;
    }
    fs::remove_all(sweep_dir, ec);
  }

  // Saves what was learnt and written, also after a failure.
  void finish(bool failed) {
    try {
      work_->hasher->flush();
    } catch (const Error&) {
    }
    if (!failed) {
      report_.lock_changed = ex_.finish_writes();
      return;
    }
    try {
      report_.lock_changed = ex_.finish_writes();
    } catch (const Error& e) {
      log::warn(std::string("could not write mlo.lock: ") + e.what());
    }
  }

  RunReport& report() { return report_; }

 private:
  ExecContext* make_ctx(fs::path root, bool workspace) {
    auto c = std::make_unique<ExecContext>();
    c->root = root;
    c->workspace = workspace;
    c->overrides = overrides_;
    c->hasher = make_path_hasher(repo_, root, workspace, &ex_.db_mutex());
    contexts_.push_back(std::move(c));
    return contexts_.back().get();
  }

  void add_tasks(std::vector<Task>& tasks, ExecContext* ctx, const std::vector<std::string>& names) {
    auto up = p_.upstream();
    size_t base = tasks.size();
    for (const auto& n : names) {
      Task t{ctx, &p_.get(n), {}};
      for (const auto& u : up[n])
        for (size_t k = base; k < tasks.size(); ++k)
          if (tasks[k].stage->name == u) t.after.push_back(k);
      tasks.push_back(t);
    }
  }

  Repo& repo_;
  const Pipeline& p_;
  const RunOptions& opts_;
  std::map<std::string, json> overrides_;
  Executor ex_;
  std::vector<std::unique_ptr<ExecContext>> contexts_;
  ExecContext* work_ = nullptr;
  RunReport report_;
};

}  // namespace

RunReport run_pipeline(Repo& repo, const RunOptions& opts,
                       const std::function<void(const StageOutcome&, bool)>& on_event) {
  Pipeline p = load_pipeline(repo.root());
  if (p.stages.empty()) throw InputError("mlo.yaml has no stages", "add stages under 'stages:' (see 'man mlo-run')");
  std::vector<std::string> order = p.order(opts.targets);
  bool sweeping = !opts.grid.empty() || opts.random > 0;
  if (opts.random > 0 && opts.grid.empty()) throw UsageError("--random N needs --grid KEY=RANGE axes to sample");
  if (sweeping && opts.targets.empty()) throw UsageError("a sweep needs the stage(s) to sweep", "e.g. mlo run train --grid train.lr=0.1,0.01");

  std::set<std::string> known = known_params(p, opts, order, sweeping);
  std::map<std::string, json> overrides = parse_overrides(opts.sets, known);
  std::vector<SweepAxis> axes = parse_axes(opts, known);
  std::vector<std::string> swept = sweeping ? p.downstream(opts.targets) : std::vector<std::string>{};
  std::vector<std::string> in_play = order;
  for (const auto& n : swept)
    if (std::find(in_play.begin(), in_play.end(), n) == in_play.end()) in_play.push_back(n);
  std::map<std::string, int> capacity = runner_capacities(repo, p, in_play);
  check_missing_deps(repo, p, order);
  check_uncommitted_data(repo, p, order, opts.strict);

  std::optional<RepoLock> lock;
  if (!opts.dry_run) lock.emplace(repo.tmp_dir(), "pipeline", repo.lock_timeout_ms());
  Session session(repo, p, opts, std::move(overrides), on_event);
  try {
    if (!sweeping) {
      session.run_stages(order);
    } else {
      // What the swept stages read, brought up to date in the work tree first.
      std::vector<std::string> before;
      for (const auto& n : order)
        if (std::find(swept.begin(), swept.end(), n) == swept.end()) before.push_back(n);
      session.run_stages(before);
      int cap = 1;
      for (const auto& n : opts.targets) cap = std::max(cap, capacity[p.get(n).runner]);
      if (session.report().ok()) session.run_sweep(swept, axes, cap);
    }
  } catch (...) {
    session.finish(true);
    throw;
  }
  session.finish(false);
  throw_if_failed(session.report());
  return session.report();
}

// ---------------------------------------------------------------- mlo dag

json dag_json(const Pipeline& p, const std::vector<std::string>& targets) {
  auto up = p.upstream();
  json out = {{"stages", json::array()}};
  for (const auto& n : p.order(targets)) {
    const StageDef& s = p.get(n);
    out["stages"].push_back({{"name", n}, {"cmd", s.cmd_text()}, {"runner", s.runner}, {"deps", s.deps},
                             {"outs", s.outs}, {"metrics", s.metrics}, {"upstream", up[n]}});
  }
  return out;
}

std::string dag_text(const Pipeline& p, const std::vector<std::string>& targets) {
  auto up = p.upstream();
  std::string out;
  for (const auto& n : p.order(targets)) {
    out += n;
    if (!up[n].empty()) {
      out += "  <- ";
      for (size_t i = 0; i < up[n].size(); ++i) out += (i ? ", " : "") + up[n][i];
    }
    out += "\n";
  }
  return out;
}

std::string dag_dot(const Pipeline& p, const std::vector<std::string>& targets) {
  auto up = p.upstream();
  auto q = [](const std::string& s) { return json(s).dump(); };
  std::string out = "digraph mlo {\n  rankdir=LR;\n  node [shape=box];\n";
  for (const auto& n : p.order(targets)) out += "  " + q(n) + ";\n";
  for (const auto& n : p.order(targets))
    for (const auto& u : up[n]) out += "  " + q(u) + " -> " + q(n) + ";\n";
  return out + "}\n";
}

}  // namespace mlo
