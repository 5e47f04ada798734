#include "pipeline/run.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <fstream>
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
#include "pipeline/hashing.h"
#include "pipeline/runs.h"
#include "repo/lock.h"
#include "repo/repo.h"

namespace mlo {

using json = nlohmann::json;

// ---------------------------------------------------------------- mlo.lock

json parse_lock(const std::string& text, const std::string& where) {
  json doc = yaml_to_json(load_yaml(text, where));
  if (doc.is_null()) return {{"version", 1}, {"stages", json::object()}};
  if (!doc.is_object() || doc.value("version", 0) != 1 || !doc.contains("stages") || !doc["stages"].is_object())
    throw InputError(where + ": not a version 1 mlo.lock", "restore it with 'git checkout -- mlo.lock', or delete it and run 'mlo run'");
  return doc;
}

std::string serialize_lock(const json& lock) {
  return "# Written by 'mlo run': the resolved deps, params and outs of each stage. Commit it.\n" + json_to_yaml(lock);
}

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
  for (const auto& s : stages) j["stages"].push_back(s.to_json());
  return j;
}

// ---------------------------------------------------------------- helpers

namespace {

// The members of an object-valued field (empty when absent). Returns a copy:
// iterating value(...).items() would dangle.
std::vector<std::pair<std::string, json>> object_items(const json& j, const char* key) {
  std::vector<std::pair<std::string, json>> out;
  if (j.is_object() && j.contains(key) && j[key].is_object())
    for (auto it = j[key].begin(); it != j[key].end(); ++it) out.emplace_back(it.key(), it.value());
  return out;
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
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
    out += quote ? shell_quote(v) : v;
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

json display_params(const json& flat) {
  json out = json::object();
  for (auto it = flat.begin(); it != flat.end(); ++it) out[display_param(it.key())] = it.value();
  return out;
}

json read_metrics_file(const fs::path& path, const std::string& rel) {
  auto text = read_file_if_exists(path);
  if (!text) return json::object();
  json doc;
  if (rel.size() > 5 && rel.substr(rel.size() - 5) == ".json") {
    doc = json::parse(*text, nullptr, false);
    if (doc.is_discarded()) throw InputError(rel + ": metrics file is not valid JSON");
  } else {
    doc = yaml_to_json(load_yaml(*text, rel));
  }
  return flatten_json(doc);
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

struct SweepAxis {
  std::string ref;      // FILE:KEY
  std::string display;  // as typed
  std::vector<json> values;            // grid values / choices
  std::string dist;                    // uniform, loguniform, randint ("" for a list)
  double lo = 0, hi = 0;
};

SweepAxis parse_axis(const std::string& spec, int random) {
  auto eq = spec.find('=');
  if (eq == std::string::npos || eq == 0)
    throw UsageError("bad --grid '" + spec + "'", "write KEY=V1,V2,... or KEY=uniform(LO,HI) / loguniform / randint / choice(A,B)");
  SweepAxis a;
  a.display = spec.substr(0, eq);
  a.ref = normalize_param_ref(a.display);
  std::string rhs = spec.substr(eq + 1);
  static const std::regex fn(R"(^(uniform|loguniform|randint|choice)\((.*)\)$)");
  std::smatch m;
  auto split = [](const std::string& s) {
    std::vector<std::string> parts;
    std::stringstream ss(s);
    std::string p;
    while (std::getline(ss, p, ',')) {
      p.erase(0, p.find_first_not_of(' '));
      while (!p.empty() && p.back() == ' ') p.pop_back();
      parts.push_back(p);
    }
    return parts;
  };
  if (std::regex_match(rhs, m, fn)) {
    std::string f = m[1];
    auto args = split(m[2]);
    if (f == "choice") {
      for (auto& v : args) a.values.push_back(scalar_to_json(v));
      if (a.values.empty()) throw UsageError("--grid " + spec + ": choice() needs values");
    } else {
      if (args.size() != 2) throw UsageError("--grid " + spec + ": " + f + "() takes two numbers: LO,HI");
      char *e1 = nullptr, *e2 = nullptr;
      a.lo = std::strtod(args[0].c_str(), &e1);
      a.hi = std::strtod(args[1].c_str(), &e2);
      if (*e1 || *e2 || args[0].empty() || args[1].empty() || !(a.lo <= a.hi) || (f == "loguniform" && a.lo <= 0))
        throw UsageError("--grid " + spec + ": bad range", "LO and HI are numbers with LO <= HI (and > 0 for loguniform)");
      a.dist = f;
      if (!random) throw UsageError("--grid " + spec + ": " + f + "() needs --random N", "sample N points with --random N");
    }
  } else {
    for (auto& v : split(rhs)) a.values.push_back(scalar_to_json(v));
    if (a.values.empty() || rhs.empty()) throw UsageError("--grid " + spec + ": no values");
  }
  return a;
}

std::vector<json> sweep_points(const std::vector<SweepAxis>& axes, int random, unsigned seed) {
  std::vector<json> points;
  if (random > 0) {
    std::mt19937_64 rng(seed ? seed : static_cast<unsigned>(std::random_device{}()));
    for (int i = 0; i < random; ++i) {
      json p = json::object();
      for (const auto& a : axes) {
        if (a.dist.empty()) {
          p[a.ref] = a.values[std::uniform_int_distribution<size_t>(0, a.values.size() - 1)(rng)];
        } else if (a.dist == "uniform") {
          p[a.ref] = std::uniform_real_distribution<double>(a.lo, a.hi)(rng);
        } else if (a.dist == "loguniform") {
          p[a.ref] = std::exp(std::uniform_real_distribution<double>(std::log(a.lo), std::log(a.hi))(rng));
        } else {
          p[a.ref] = std::uniform_int_distribution<long long>(static_cast<long long>(std::ceil(a.lo)),
                                                              static_cast<long long>(std::floor(a.hi)))(rng);
        }
      }
      points.push_back(p);
    }
    return points;
  }
  points.push_back(json::object());
  for (const auto& a : axes) {
    std::vector<json> next;
    for (const auto& p : points)
      for (const auto& v : a.values) {
        json q = p;
        q[a.ref] = v;
        next.push_back(q);
      }
    points = std::move(next);
  }
  return points;
}

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
  std::unique_ptr<PathHasher> hasher;
  std::set<std::string> will_change;      // dry run: stages that would run here
};

struct Task {
  ExecContext* ctx;
  const StageDef* stage;
  std::vector<size_t> after;  // task indexes that must finish first
};

class Executor {
 public:
  Executor(Repo& repo, const Pipeline& p, const RunOptions& o,
           const std::function<void(const StageOutcome&, bool)>& on_event)
      : repo_(repo), pipeline_(p), upstream_(p.upstream()), opts_(o), on_event_(on_event) {}

  void load_lock() {
    auto text = read_file_if_exists(repo_.root() / "mlo.lock");
    lock_ = text ? parse_lock(*text, "mlo.lock") : json{{"version", 1}, {"stages", json::object()}};
  }

  void start_facts() {
    modes_ = repo_.link_modes();
    // Open what workers share before any thread starts (Repo opens lazily).
    repo_.cache();
    repo_.index();
    tmp_ = repo_.tmp_dir() / "runs";
    fs::create_directories(tmp_);
  }

  // Runs tasks in dependency order on up to `jobs` threads.
  void schedule(std::vector<Task>& tasks, int jobs, RunReport& report) {
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
        threads.emplace_back([&, i] {
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
        });
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

  StageOutcome run_task(const Task& t) {
    const StageDef& s = *t.stage;
    ExecContext& ctx = *t.ctx;
    StageOutcome out;
    out.stage = s.name;
    out.point = ctx.point;

    // A dry run can not know the deps an upstream stage would write.
    if (opts_.dry_run) {
      for (const auto& u : upstream_[s.name]) {
        std::lock_guard<std::mutex> g(mu_);
        if (ctx.will_change.count(u)) {
          out.action = "would-run";
          out.reason = "upstream stage '" + u + "' would run";
          ctx.will_change.insert(s.name);
          return out;
        }
      }
    }

    // Deps, params, the key.
    json deps = json::object();
    for (const auto& d : s.deps) {
      auto h = ctx.hasher->hash(d);
      if (!h)
        throw InputError(s.where + ": dep '" + d + "' of stage '" + s.name + "' does not exist",
                         "create it, track it with 'mlo data add'/'mlo data checkout', or add a stage whose outs include it");
      deps[d] = h->sha256;
    }
    json params = resolve_params(s.params, reader_at(ctx.root), ctx.overrides);
    json runner_config = json::object();
    {
      std::lock_guard<std::mutex> g(mu_);
      runner_config = yaml_to_json(repo_.config().node("runners." + s.runner));
      if (runner_config.is_null()) runner_config = json::object();
    }
    json cmd = s.argv.empty() ? json(s.shell) : json(s.argv);
    json key_doc = {{"v", 1},         {"cmd", cmd},          {"wdir", s.wdir},     {"deps", deps},
                    {"params", params}, {"outs", s.outs},   {"metrics", s.metrics}, {"runner", s.runner},
                    {"runner_config", runner_config},        {"gpus", s.resources.gpus}, {"env", s.env}};
    std::string key = sha256_hex(key_doc.dump());

    // Up to date? (work tree: mlo.lock says this key and the outs are as recorded)
    std::string why;
    json prev;
    {
      std::lock_guard<std::mutex> g(mu_);
      if (lock_["stages"].contains(s.name)) prev = lock_["stages"][s.name];
    }
    if (ctx.workspace) {
      if (prev.is_null()) why = "never ran";
      else if (prev.value("key", "") != key) why = explain_change(prev, key_doc);
      else {
        for (const auto& o : prev.value("outs", json::array())) {
          auto h = ctx.hasher->hash(o.value("path", ""));
          if (!h) { why = "output " + o.value("path", "") + " is missing"; break; }
          if (h->sha256 != o.value("sha256", "")) { why = "output " + o.value("path", "") + " was changed"; break; }
        }
        for (const auto& m : s.metrics)
          if (why.empty() && !fs::exists(ctx.root / m)) why = "metrics file " + m + " is missing";
      }
      if (why.empty() && opts_.force && is_target(s.name)) why = "forced";
      if (why.empty()) {
        out.action = "up-to-date";
        out.run_id = prev.value("run", "");
        emit(out, false);
        return out;
      }
    } else {
      why = ctx.point.empty() ? "sweep" : "sweep point";
      if (opts_.force && is_target(s.name)) why = "forced";
    }
    out.reason = why;

    // The run cache: an earlier run with this key whose outputs are stored.
    std::optional<json> cached;
    if (!(opts_.force && is_target(s.name))) {
      std::lock_guard<std::mutex> g(mu_);
      cached = find_run_by_key(repo_, key);
      // Restorable only when every output and metrics file is in the cache.
      auto all_cached = [&](const json& record, const char* key) {
        for (const auto& [path, o] : object_items(record, key)) {
          std::string h = o.value("sha256", "");
          if (!repo_.cache().has(h)) return false;
          if (o.value("type", "file") != "dir") continue;
          try {  // a folder: its files too (a pull may have brought the manifest only)
            for (const auto& e : parse_manifest(repo_.cache().read(h), path).entries)
              if (!repo_.cache().has(e.sha256)) return false;
          } catch (const Error&) {
            return false;
          }
        }
        return true;
      };
      if (cached && (!cached->contains("metric_files") || !all_cached(*cached, "outs") ||
                     !all_cached(*cached, "metric_files")))
        cached.reset();
    }
    if (opts_.dry_run) {
      out.action = cached ? "would-restore" : "would-run";
      if (cached) out.run_id = (*cached)["run_id"];
      std::lock_guard<std::mutex> g(mu_);
      ctx.will_change.insert(s.name);
      return out;
    }
    if (cached) {
      restore(ctx, s, *cached);
      out.action = "restored";
      out.run_id = (*cached)["run_id"];
      out.metrics = cached->value("metrics", json::object());
      if (ctx.workspace) update_lock(s, key, deps, params, *cached);
      emit(out, false);
      return out;
    }

    // Run it.
    std::string run_id = new_run_id();
    out.run_id = run_id;
    emit(out, true);
    backup_outputs(ctx, s);
    std::error_code ec;
    for (const auto& o : s.outs) fs::remove_all(ctx.root / o, ec);
    for (const auto& m : s.metrics) fs::remove(ctx.root / m, ec);
    for (const auto& o : s.outs) fs::create_directories((ctx.root / o).parent_path(), ec);
    for (const auto& m : s.metrics) fs::create_directories((ctx.root / m).parent_path(), ec);

    fs::path log_path = tmp_ / (run_id + ".log");
    fs::path metrics_path = tmp_ / (run_id + ".metrics.jsonl");
    fs::path params_path = tmp_ / (run_id + ".params.json");
    write_file_atomic(params_path, nest_params(params).dump(2) + "\n", false);
    JobSpec spec;
    spec.run_id = run_id;
    spec.stage = s.name;
    if (s.argv.empty()) spec.shell = substitute(s.shell, params, true, s);
    else
      for (const auto& a : s.argv) spec.argv.push_back(substitute(a, params, false, s));
    spec.workdir = ctx.root / s.wdir;
    spec.env = s.env;
    spec.env["MLO_RUN_ID"] = run_id;
    spec.env["MLO_STAGE"] = s.name;
    spec.env["MLO_METRICS_FILE"] = metrics_path.string();
    spec.env["MLO_PARAMS_FILE"] = params_path.string();
    spec.env["MLO_REPO"] = ctx.root.string();
    for (auto it = params.begin(); it != params.end(); ++it)
      spec.env[env_name(display_param(it.key()))] = param_text(it.value());
    spec.resources = s.resources;
    spec.runner = s.runner;
    spec.runner_config = runner_config;
    spec.log_path = log_path;
    for (const auto& o : s.outs) spec.outs.push_back(fs::path(o).lexically_relative(s.wdir).generic_string());
    spec.stream_output = opts_.stream_output;
    { std::ofstream touch(log_path, std::ios::app); }

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

    // Check and store the outputs (not after Ctrl-C: nothing half-stored).
    json outs = json::object();
    std::vector<std::string> warnings;
    if (result.ok()) {
      for (const auto& o : s.outs)
        if (!fs::exists(ctx.root / o) && result.ok()) {
          result.status = "failed";
          result.message = "the stage did not write its declared output '" + o + "'";
        }
      for (const auto& m : s.metrics)
        if (!fs::exists(ctx.root / m) && result.ok()) {
          result.status = "failed";
          result.message = "the stage did not write its declared metrics file '" + m + "'";
        }
    }
    json metrics = json::object(), metric_files = json::object();
    if (result.ok()) {
      try {
        for (const auto& o : s.outs) outs[o] = store_output(ctx, o);
        for (const auto& m : s.metrics) {
          json values = read_metrics_file(ctx.root / m, m);
          // The bytes go into the store too, so a run-cache restore can write them back.
          std::string h = repo_.cache().add_bytes(read_file(ctx.root / m), false);
          metric_files[m] = {{"sha256", h}, {"values", values}};
          for (auto it = values.begin(); it != values.end(); ++it) metrics[it.key()] = it.value();
        }
      } catch (const Error& e) {
        result.status = "failed";
        result.message = std::string("storing outputs: ") + e.what();
      }
    }
    json series = read_series(metrics_path, warnings);
    for (auto it = series.begin(); it != series.end(); ++it)
      if (!metrics.contains(it.key()) && !it.value().empty()) metrics[it.key()] = it.value().back()["value"];
    for (const auto& w : warnings) log::warn("stage " + s.name + ": " + w);

    std::string log_hash;
    try {
      log_hash = repo_.cache().add_file(log_path, {LinkMode::copy}, false);  // synced with the record
    } catch (const Error& e) {
      log::warn("could not store the log of run " + run_id + ": " + e.what());
    }
    fs::remove(log_path, ec);
    fs::remove(metrics_path, ec);
    fs::remove(params_path, ec);

    {
      std::lock_guard<std::mutex> g(mu_);
      git_facts();
    }
    json resources = json::object();
    if (s.resources.cpus) resources["cpus"] = *s.resources.cpus;
    if (s.resources.gpus) resources["gpus"] = s.resources.gpus;
    if (s.resources.memory_bytes) resources["memory_bytes"] = *s.resources.memory_bytes;
    if (s.resources.time_limit_s) resources["time_limit_s"] = *s.resources.time_limit_s;
    json record = {{"version", 1},
                   {"run_id", run_id},
                   {"stage", s.name},
                   {"cmd", cmd},
                   {"wdir", s.wdir},
                   {"git", {{"commit", commit_}, {"dirty", dirty_}}},
                   {"deps", deps},
                   {"outs", outs},
                   {"params", display_params(params)},
                   {"overrides", ctx.point.empty() && opts_.sets.empty() ? json::object() : display_params(overrides_json(ctx))},
                   {"metrics", metrics},
                   {"metric_files", metric_files},
                   {"metric_series", series},
                   {"runner", s.runner},
                   {"runner_config", runner_config},
                   {"resources", resources},
                   {"env", s.env},
                   {"job", result.to_json()},
                   {"status", result.status},
                   {"exit_code", result.exit_code},
                   {"signal", result.signal},
                   {"message", result.message},
                   {"host", result.host},
                   {"cpu_model", cpu_model()},
                   {"started_at", result.started_at},
                   {"finished_at", result.finished_at},
                   {"cache_key", key},
                   {"log", log_hash}};
    if (result.info.contains("gpu_model")) record["gpu_model"] = result.info["gpu_model"];
    if (!ctx.sweep.empty()) record["sweep"] = ctx.sweep;
    std::string record_hash;
    {
      std::lock_guard<std::mutex> g(mu_);
      record_hash = store_run_record(repo_, record, false);  // synced once, in finish_writes()
      wrote_ = true;
    }
    record["record"] = record_hash;
    out.status = result.status;
    out.metrics = metrics;
    if (result.ok()) {
      out.action = "ran";
      if (ctx.workspace) update_lock(s, key, deps, params, record);
    } else {
      out.action = result.status == "interrupted" ? "interrupted" : "failed";
      out.message = result.message;
    }
    emit(out, false);
    return out;
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
  void finish_writes() {
    std::lock_guard<std::mutex> g(mu_);
    if (wrote_) repo_.cache().sync();
    wrote_ = false;
    if (!lock_dirty_) return;
    lock_dirty_ = false;
    json out = {{"version", 1}, {"stages", json::object()}};
    for (const auto& st : pipeline_.stages)
      if (lock_["stages"].contains(st.name)) out["stages"][st.name] = lock_["stages"][st.name];
    // Not fsynced (like git's own files): the objects it names already are.
    write_file_atomic(repo_.root() / "mlo.lock", serialize_lock(out), false);
    for (const auto* s : lock_stages_) ignore_outputs(*s);
    lock_stages_.clear();
  }

  void emit(const StageOutcome& o, bool started) {
    if (!on_event_) return;
    std::lock_guard<std::mutex> g(event_mu_);
    on_event_(o, started);
  }

  std::string explain_change(const json& prev, const json& key_doc) {
    std::vector<std::string> why;
    json pc = prev.value("cmd", json());
    if (pc != key_doc["cmd"]) why.push_back("cmd changed");
    json pd = json::object();
    for (const auto& d : prev.value("deps", json::array())) pd[d.value("path", "")] = d.value("sha256", "");
    for (auto it = key_doc["deps"].begin(); it != key_doc["deps"].end(); ++it) {
      if (!pd.contains(it.key())) why.push_back("new dep " + it.key());
      else if (pd[it.key()] != it.value()) why.push_back("dep " + it.key() + " changed");
    }
    json pp = prev.value("params", json::object());
    for (auto it = key_doc["params"].begin(); it != key_doc["params"].end(); ++it) {
      std::string d = display_param(it.key());
      if (!pp.contains(d)) why.push_back("new param " + d);
      else if (pp[d] != it.value()) why.push_back("param " + d + " changed (" + param_text(pp[d]) + " -> " + param_text(it.value()) + ")");
    }
    if (why.empty()) why.push_back("stage definition changed (outs, runner, resources, env or wdir)");
    std::string s;
    for (size_t i = 0; i < why.size() && i < 4; ++i) s += (i ? ", " : "") + why[i];
    if (why.size() > 4) s += ", ...";
    return s;
  }

  // Outputs about to be replaced go into the cache first, unless already there.
  void backup_outputs(ExecContext& ctx, const StageDef& s) {
    if (!ctx.workspace) return;
    bool added = false;
    for (const auto& o : s.outs) {
      auto h = ctx.hasher->hash(o);
      if (!h) continue;
      if (h->dir) {
        for (const auto& e : ctx.hasher->manifest(o).entries)
          if (!repo_.cache().has(e.sha256)) {
            repo_.cache().add_file(ctx.root / o / e.path, {LinkMode::copy}, false);
            added = true;
          }
      } else if (!repo_.cache().has(h->sha256)) {
        repo_.cache().add_file(ctx.root / o, {LinkMode::copy}, false);
        added = true;
      }
    }
    if (added) repo_.cache().sync();
  }

  json store_output(ExecContext& ctx, const std::string& o) {
    fs::path abs = ctx.root / o;
    if (fs::is_directory(abs)) {
      Manifest m;
      for (auto it = fs::recursive_directory_iterator(abs); it != fs::recursive_directory_iterator(); ++it) {
        check_interrupted();
        if (!it->is_regular_file()) continue;
        ManifestEntry e;
        e.path = it->path().lexically_relative(abs).generic_string();
        e.size = it->file_size();
        e.executable = (fs::status(it->path()).permissions() & fs::perms::owner_exec) != fs::perms::none;
        e.sha256 = repo_.cache().add_file(it->path(), {LinkMode::reflink, LinkMode::copy}, false);
        m.entries.push_back(e);
      }
      m.sort();
      std::string h = repo_.cache().add_bytes(serialize_manifest(m), false);
      return {{"sha256", h}, {"size", m.total_size()}, {"type", "dir"}, {"files", m.entries.size()}};
    }
    std::uint64_t size = fs::file_size(abs);
    std::string h = repo_.cache().add_file(abs, {LinkMode::reflink, LinkMode::copy}, false);
    return {{"sha256", h}, {"size", size}, {"type", "file"}};
  }

  void restore(ExecContext& ctx, const StageDef& s, const json& record) {
    if (ctx.workspace) backup_outputs(ctx, s);
    for (const auto& [path, o] : object_items(record, "outs")) {
      fs::path dest = ctx.root / path;
      std::error_code ec;
      if (o.value("type", "file") == "dir") {
        Manifest m = parse_manifest(repo_.cache().read(o.value("sha256", "")), path);
        fs::remove_all(dest, ec);
        for (const auto& e : m.entries) {
          fs::create_directories((dest / e.path).parent_path());
          repo_.cache().materialize(e.sha256, dest / e.path, modes_, e.executable);
        }
        fs::create_directories(dest);
      } else {
        if (fs::is_directory(dest)) fs::remove_all(dest, ec);
        fs::create_directories(dest.parent_path());
        repo_.cache().materialize(o.value("sha256", ""), dest, modes_);
      }
    }
    // Metrics files: rewritten from the record (their bytes are small and in git).
    for (const auto& [path, m] : object_items(record, "metric_files")) {
      std::string h = m.value("sha256", "");
      if (repo_.cache().has(h)) {
        fs::create_directories((ctx.root / path).parent_path());
        write_file_atomic(ctx.root / path, repo_.cache().read(h), false);
      }
    }
  }

  void update_lock(const StageDef& s, const std::string& key, const json& deps, const json& params, const json& record) {
    json e = json::object();
    e["cmd"] = s.argv.empty() ? json(s.shell) : json(s.argv);
    e["key"] = key;
    e["run"] = record.value("run_id", "");
    e["record"] = record.value("record", "");
    e["deps"] = json::array();
    for (auto it = deps.begin(); it != deps.end(); ++it) e["deps"].push_back({{"path", it.key()}, {"sha256", it.value()}});
    e["params"] = display_params(params);
    e["outs"] = json::array();
    for (const auto& [path, o] : object_items(record, "outs")) {
      json entry = o;
      entry["path"] = path;
      e["outs"].push_back(entry);
    }
    e["metrics"] = json::array();
    for (const auto& [path, m] : object_items(record, "metric_files"))
      e["metrics"].push_back({{"path", path}, {"sha256", m.value("sha256", "")}, {"values", m.value("values", json::object())}});
    std::lock_guard<std::mutex> g(mu_);
    lock_["stages"][s.name] = e;
    lock_dirty_ = true;
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
  json lock_;
  std::mutex mu_;        // repo.index(), repo.config(), lock_
  std::mutex event_mu_;
  std::string commit_;
  bool dirty_ = false;
  bool facts_ = false;
  bool wrote_ = false;       // objects stored without a sync yet
  bool lock_dirty_ = false;  // lock_ changed since mlo.lock was written
  std::vector<const StageDef*> lock_stages_;
  std::vector<LinkMode> modes_;
  fs::path tmp_;

 public:
  std::mutex& db_mutex() { return mu_; }
};

}  // namespace

// ---------------------------------------------------------------- run_pipeline

RunReport run_pipeline(Repo& repo, const RunOptions& opts,
                       const std::function<void(const StageOutcome&, bool)>& on_event) {
  Pipeline p = load_pipeline(repo.root());
  if (p.stages.empty()) throw InputError("mlo.yaml has no stages", "add stages under 'stages:' (see 'man mlo-run')");
  std::vector<std::string> order = p.order(opts.targets);
  bool sweeping = !opts.grid.empty() || opts.random > 0;
  if (opts.random > 0 && opts.grid.empty()) throw UsageError("--random N needs --grid KEY=RANGE axes to sample");
  if (sweeping && opts.targets.empty()) throw UsageError("a sweep needs the stage(s) to sweep", "e.g. mlo run train --grid train.lr=0.1,0.01");

  // Every param any stage in play reads: --set and --grid keys must be among them.
  std::set<std::string> known_params;
  for (const auto& n : sweeping ? p.downstream(opts.targets) : order)
    for (const auto& r : p.get(n).params) known_params.insert(r);
  if (sweeping)
    for (const auto& n : order)
      for (const auto& r : p.get(n).params) known_params.insert(r);
  std::map<std::string, json> overrides;
  for (const auto& s : opts.sets) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0) throw UsageError("bad --set '" + s + "'", "write --set KEY=VALUE, e.g. --set train.lr=0.01");
    std::string ref = normalize_param_ref(s.substr(0, eq));
    if (!known_params.count(ref))
      throw UsageError("--set " + s + ": no stage to run uses param '" + s.substr(0, eq) + "'",
                       "list it in a stage's params in mlo.yaml");
    overrides[ref] = scalar_to_json(s.substr(eq + 1));
  }
  std::vector<SweepAxis> axes;
  for (const auto& g : opts.grid) {
    axes.push_back(parse_axis(g, opts.random));
    if (!known_params.count(axes.back().ref))
      throw UsageError("--grid " + g + ": no swept stage uses param '" + axes.back().display + "'",
                       "list it in the params of the stage you sweep");
  }

  // Unknown runners fail before anything runs.
  std::map<std::string, int> capacity;
  std::vector<std::string> in_play = order;
  if (sweeping)
    for (const auto& n : p.downstream(opts.targets))
      if (std::find(in_play.begin(), in_play.end(), n) == in_play.end()) in_play.push_back(n);
  for (const auto& n : in_play) {
    const StageDef& s = p.get(n);
    if (capacity.count(s.runner)) continue;
    try {
      capacity[s.runner] = make_runner(s.runner, repo)->capacity();
    } catch (const InputError& e) {
      throw InputError(s.where + ": stage '" + s.name + "': " + e.what(), e.hint());
    }
  }
  // Missing deps that no stage writes fail before anything runs too.
  for (const auto& n : order) {
    const StageDef& s = p.get(n);
    for (const auto& d : s.deps)
      if (!p.producer_of(d) && !fs::exists(repo.root() / d))
        throw InputError(s.where + ": dep '" + d + "' of stage '" + s.name + "' does not exist and no stage writes it",
                         "create it, fetch it with 'mlo data checkout'/'mlo pull', or fix the path in mlo.yaml");
  }

  std::optional<RepoLock> lock;
  if (!opts.dry_run) lock.emplace(repo.tmp_dir(), "pipeline", repo.lock_timeout_ms());
  Executor ex(repo, p, opts, on_event);
  ex.load_lock();
  ex.start_facts();
  RunReport report;

  std::vector<std::unique_ptr<ExecContext>> contexts;
  auto make_ctx = [&](fs::path root, bool workspace) {
    auto c = std::make_unique<ExecContext>();
    c->root = root;
    c->workspace = workspace;
    c->overrides = overrides;
    c->hasher = make_path_hasher(repo, root, workspace, &ex.db_mutex());
    contexts.push_back(std::move(c));
    return contexts.back().get();
  };
  auto add_tasks = [&](std::vector<Task>& tasks, ExecContext* ctx, const std::vector<std::string>& names) {
    auto up = p.upstream();
    size_t base = tasks.size();
    for (const auto& n : names) {
      Task t{ctx, &p.get(n), {}};
      for (const auto& u : up[n])
        for (size_t k = base; k < tasks.size(); ++k)
          if (tasks[k].stage->name == u) t.after.push_back(k);
      tasks.push_back(t);
    }
  };

  ExecContext* work = make_ctx(repo.root(), true);
  auto finish = [&] {
    try {
      work->hasher->flush();
    } catch (const Error&) {
    }
  };
  auto failed = [&] {
    finish();
    try {
      ex.finish_writes();
    } catch (const Error& e) {
      log::warn(std::string("could not write mlo.lock: ") + e.what());
    }
  };
  try {
    if (!sweeping) {
      std::vector<Task> tasks;
      add_tasks(tasks, work, order);
      ex.schedule(tasks, opts.jobs > 0 ? opts.jobs : 1, report);
    } else {
      // 1. What the swept stages read, brought up to date in the work tree.
      std::vector<std::string> swept = p.downstream(opts.targets);
      std::vector<std::string> before;
      for (const auto& n : order)
        if (std::find(swept.begin(), swept.end(), n) == swept.end()) before.push_back(n);
      std::vector<Task> tasks;
      add_tasks(tasks, work, before);
      ex.schedule(tasks, opts.jobs > 0 ? opts.jobs : 1, report);
      // 2. Each point in its own scratch tree.
      if (report.ok()) {
        report.sweep = new_run_id();
        std::vector<std::string> excluded;
        for (const auto& n : swept) {
          for (const auto& o : p.get(n).outs) excluded.push_back(o);
          for (const auto& o : p.get(n).metrics) excluded.push_back(o);
        }
        fs::path sweep_dir = repo.tmp_dir() / "sweeps" / report.sweep;
        std::vector<Task> point_tasks;
        int cap = 1;
        for (const auto& n : opts.targets) cap = std::max(cap, capacity[p.get(n).runner]);
        auto points = sweep_points(axes, opts.random, opts.seed);
        for (size_t i = 0; i < points.size(); ++i) {
          fs::path root = sweep_dir / std::to_string(i);
          if (!opts.dry_run) mirror(repo.root(), root, "", excluded);
          ExecContext* c = make_ctx(opts.dry_run ? repo.root() : root, false);
          c->sweep = report.sweep;
          for (auto it = points[i].begin(); it != points[i].end(); ++it) {
            c->overrides[it.key()] = it.value();
            c->point[display_param(it.key())] = it.value();
          }
          add_tasks(point_tasks, c, swept);
        }
        try {
          ex.schedule(point_tasks, opts.jobs > 0 ? opts.jobs : cap, report);
        } catch (...) {
          std::error_code ec;
          fs::remove_all(sweep_dir, ec);
          throw;
        }
        std::error_code ec;
        fs::remove_all(sweep_dir, ec);
      }
    }
  } catch (...) {
    failed();
    throw;
  }
  finish();
  ex.finish_writes();

  if (interrupted()) throw InterruptedError();
  for (const auto& s : report.stages) {
    if (s.action == "failed") {
      std::string msg = "stage '" + s.stage + "' " + (s.status.empty() ? "failed" : s.status) + ": " + s.message;
      if (!s.run_id.empty()) msg += " (run " + s.run_id + ")";
      throw RunnerError(msg, s.run_id.empty() ? "" : "see its output with 'mlo runs log " + s.run_id + "'");
    }
  }
  return report;
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
