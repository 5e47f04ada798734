#include "triggers/triggers.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <iomanip>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/process.h"
#include "core/random.h"
#include "data/pointer.h"
#include "monitor/labels.h"
#include "notify/notify.h"
#include "registry/registry.h"
#include "repo/config.h"
#include "repo/record_refs.h"
#include "repo/yaml_schema.h"
#include "repo/repo.h"
#include "triggers/action.h"

namespace mlo::triggers {
namespace {

using json = nlohmann::json;
constexpr const char* kClaims = "refs/mlo/triggers/";
constexpr const char* kOutcomes = "refs/mlo/trigger-outcomes/";

std::string at(const YAML::Node& n, const std::string& file) { return file + ":" + std::to_string(n.Mark().line + 1); }

std::string iso(std::int64_t t) { return registry::format_time(t); }

std::string fmt_num(double v) {
  std::ostringstream o;
  o << std::setprecision(4) << v;
  return o.str();
}

std::string slot_key(std::int64_t t) {
  std::string s = iso(t);  // 2026-12-04T03:00:00Z -> s20261204T0300Z
  return "s" + s.substr(0, 4) + s.substr(5, 2) + s.substr(8, 2) + "T" + s.substr(11, 2) + s.substr(14, 2) + "Z";
}

// A trigger's name is part of git ref names (refs/mlo/triggers/NAME/...).
void check_name(const std::string& name, const std::string& where) {
  bool ok = !name.empty() && name.size() <= 100 && name[0] != '.' && name[0] != '-' &&
            name.find("..") == std::string::npos && !name.ends_with(".lock");
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') ok = false;
  if (!ok)
    throw InputError(where + ": bad trigger name '" + name + "'",
                     "use letters, digits, '-', '_' and '.' (it names git refs: refs/mlo/triggers/NAME/...)");
}

monitor::OnDrift parse_action(const YAML::Node& n, const std::string& file, const std::string& name) {
  monitor::OnDrift a;
  if (!n || !n.IsMap()) throw InputError(at(n, file) + ": trigger '" + name + "' needs action: {run, register, propose}");
  if (auto r = n["run"]) {
    if (r.IsScalar()) a.run.push_back(r.as<std::string>());
    else for (const auto& s : r) a.run.push_back(s.as<std::string>());
  }
  if (n["register"]) a.register_model = n["register"].as<std::string>();
  if (n["propose"]) a.propose_stage = n["propose"].as<std::string>();
  if (a.empty())
    throw InputError(at(n, file) + ": trigger '" + name + "' has an empty action",
                     "add run: [STAGE] and/or register: MODEL (propose: STAGE needs register)");
  if (!a.propose_stage.empty() && a.register_model.empty())
    throw InputError(at(n, file) + ": trigger '" + name + "' proposes for a stage but registers no model",
                     "add register: MODEL to the action");
  return a;
}

// Exactly one condition per trigger.
void parse_condition(Trigger& t, const YAML::Node& n, const std::string& file) {
  int count = 0;
  std::string where = at(n, file) + ": trigger '" + t.name + "'";
  if (auto s = n["schedule"]) {
    ++count;
    t.kind = "schedule";
    t.schedule = parse_cron(s.as<std::string>(), at(s, file) + ": trigger '" + t.name + "'");
  }
  if (auto d = n["new_data"]) {
    ++count;
    t.kind = "new_data";
    if (!d.IsMap() || !d["path"]) throw InputError(where + ": new_data needs path:", "write new_data: {path: data/train.csv, rows: 1000}");
    t.data_path = d["path"].as<std::string>();
    if (t.data_path.empty() || t.data_path[0] == '/' || t.data_path.find("..") != std::string::npos)
      throw InputError(at(d["path"], file) + ": trigger '" + t.name + "': new_data path must be relative to the repository root",
                       "write e.g. path: data/train.csv");
    if (d["rows"]) t.rows = d["rows"].as<std::int64_t>();
  }
  if (auto m = n["drift"]) {
    ++count;
    t.kind = "drift";
    t.monitor = m.as<std::string>();
  }
  if (auto p = n["performance"]) {
    ++count;
    t.kind = "performance";
    if (!p.IsMap() || !p["env"] || !p["metric"])
      throw InputError(where + ": performance needs env: and metric:", "write performance: {env: prod, metric: accuracy, below: 0.8}");
    t.env = p["env"].as<std::string>();
    t.metric = p["metric"].as<std::string>();
    if (p["below"]) t.below = p["below"].as<double>();
    if (p["above"]) t.above = p["above"].as<double>();
    if (p["max_drop"]) t.max_drop = p["max_drop"].as<double>();
    if (!t.below && !t.above && !t.max_drop)
      throw InputError(where + ": performance needs below:, above: or max_drop:",
                       "e.g. {metric: accuracy, below: 0.8}, {metric: mae, above: 2} or max_drop: 0.05");
  }
  if (count != 1)
    throw InputError(where + " has " + std::to_string(count) + " conditions; it needs exactly one",
                     "give one of schedule:, new_data:, drift:, performance: (split it into several triggers)");
}

// ---- git: claims and outcomes as refs to blobs ----

ProcessResult git(Repo& repo, std::vector<std::string> args, const std::string& input = "") {
  ProcessSpec p;
  p.argv = {"git"};
  p.argv.insert(p.argv.end(), args.begin(), args.end());
  p.cwd = repo.root();
  p.stdin_data = input;
  return run_process(p);
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

bool ref_exists(Repo& repo, const std::string& ref) {
  return git(repo, {"rev-parse", "--verify", "--quiet", ref}).ok();
}

// Claims and outcomes are create-only records (repo/record_refs.h).
bool create_ref(Repo& repo, const std::string& ref, const json& doc) {
  return create_record_ref(repo.root(), ref, doc.dump(1, ' ', false, json::error_handler_t::replace) + "\n");
}

std::string git_remote(Repo& repo) { return registry::load_registry_config(repo).git_remote; }

// The claims, their outcomes and the joined labels that performance
// triggers read (other clones may have joined them), in one fetch.
void fetch_claims(Repo& repo) {
  std::string remote = git_remote(repo);
  const std::string labels = monitor::kLabelsRefs;
  ProcessResult r = git(repo, {"fetch", "--quiet", remote, std::string("+") + kClaims + "*:" + kClaims + "*",
                               std::string("+") + kOutcomes + "*:" + kOutcomes + "*", "+" + labels + "*:" + labels + "*"});
  if (!r.ok()) throw RemoteError("git fetch " + remote + " (trigger claims) failed: " + trim(r.err),
                                 "check the registry's git remote; without --push the claim is local only");
}

// Pushes a new claim; false when the remote already has that occasion (another machine won).
bool push_claim(Repo& repo, const std::string& ref) {
  std::string remote = git_remote(repo);
  if (git(repo, {"push", "--quiet", remote, ref + ":" + ref}).ok()) return true;
  ProcessResult ls = git(repo, {"ls-remote", remote, ref});
  if (ls.ok() && !trim(ls.out).empty()) {
    git(repo, {"update-ref", "-d", ref});
    git(repo, {"fetch", "--quiet", remote, "+" + ref + ":" + ref});
    return false;
  }
  git(repo, {"update-ref", "-d", ref});
  throw RemoteError("git push " + remote + " " + ref + " failed", "the remote is unreachable: nothing was claimed or done; check again later");
}

std::string who(Repo& repo) {
  std::string by;
  try {
    GitIdentity id = repo.git().tagger_identity();
    by = id.name + " <" + id.email + ">";
  } catch (const std::exception&) {
  }
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  return by + (by.empty() ? "" : " ") + "on " + host;
}

std::vector<std::pair<std::string, json>> read_refs(Repo& repo, const std::string& prefix) {
  return read_record_refs(repo.root(), prefix);
}

// Claim order: claimed_at has whole seconds (and may be --now), so claims
// made in one second are told apart by claimed_ns, the clock's nanoseconds
// when the claim was made. Claims from before claimed_ns count as 0: they
// come first in their second, in ref-name order (the sorts are stable).
bool claimed_before(const json& a, const json& b) {
  auto time_of = [](const json& j) {
    auto it = j.find("claimed_at");
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto ns_of = [](const json& j) {
    auto it = j.find("claimed_ns");
    return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : std::int64_t{0};
  };
  std::string ta = time_of(a), tb = time_of(b);
  return ta != tb ? ta < tb : ns_of(a) < ns_of(b);
}

// Strictly increasing within a process, so one check's claims keep their order
// even on a clock coarser than a nanosecond.
std::int64_t claim_ns() {
  static std::int64_t last = 0;
  auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  last = std::max<std::int64_t>(last + 1, now);
  return last;
}

// The trigger's newest claim (for new_data: the version it last fired on).
json last_claim(Repo& repo, const std::string& trigger) {
  json best;
  for (auto& [ref, doc] : read_refs(repo, kClaims + trigger + "/"))
    if (best.is_null() || !claimed_before(doc, best)) best = doc;
  return best;
}

// ---- conditions ----

void decide_by_claim(Repo& repo, const Trigger& t, Decision& d) {
  if (ref_exists(repo, kClaims + t.name + "/" + d.key)) {
    d.state = "already-fired";
    d.reason += "; fired already for this occasion";
  } else {
    d.due = true;
    d.state = "due";
  }
}

void check_schedule(Repo& repo, const Trigger& t, std::int64_t now, Decision& d) {
  auto slot = latest_slot(t.schedule, now);
  if (!slot) {
    d.state = "not-due";
    d.reason = "schedule '" + t.schedule.text + "' has no matching minute in the last 400 days";
    return;
  }
  d.key = slot_key(*slot);
  d.evidence = {{"schedule", t.schedule.text}, {"period_start", iso(*slot)}};
  d.reason = "schedule '" + t.schedule.text + "': period starting " + iso(*slot);
  decide_by_claim(repo, t, d);
}

std::int64_t count_rows(const fs::path& file) {
  std::string text = read_file(file);
  std::int64_t lines = std::count(text.begin(), text.end(), '\n');
  if (!text.empty() && text.back() != '\n') ++lines;
  return std::max<std::int64_t>(0, lines - 1);  // less the header
}

void check_new_data(Repo& repo, const Trigger& t, Decision& d) {
  fs::path ptr_file = repo.root() / pointer_path_for(t.data_path);
  auto text = read_file_if_exists(ptr_file);
  if (!text)
    throw InputError("mlo.yaml: trigger '" + t.name + "': " + t.data_path + " is not tracked (no " +
                         pointer_path_for(t.data_path) + ")", "track it with 'mlo data add " + t.data_path + "'");
  Pointer p = parse_pointer(*text, ptr_file.string());
  d.key = "d" + p.sha256.substr(0, 16);
  std::int64_t rows = fs::is_regular_file(repo.root() / t.data_path) ? count_rows(repo.root() / t.data_path) : -1;
  d.evidence = {{"path", t.data_path}, {"sha256", p.sha256}, {"rows", rows}};
  json last = last_claim(repo, t.name);
  if (last.is_null()) {
    d.state = "baseline";
    d.due = true;  // --act records this version as the baseline; nothing runs
    d.reason = t.data_path + ": no earlier version recorded; this one becomes the baseline";
    return;
  }
  std::string prev = last["evidence"].value("sha256", "");
  std::int64_t prev_rows = last["evidence"].value("rows", std::int64_t{-1});
  d.evidence["previous_sha256"] = prev;
  d.evidence["previous_rows"] = prev_rows;
  if (prev == p.sha256) {
    d.state = "not-due";
    d.reason = t.data_path + " unchanged since " + last.value("claimed_at", "");
    return;
  }
  d.reason = t.data_path + ": new version " + p.sha256.substr(0, 12) + " (was " + prev.substr(0, 12) + ")";
  if (t.rows > 0) {
    std::int64_t grew = rows >= 0 && prev_rows >= 0 ? rows - prev_rows : -1;
    d.evidence["rows_added"] = grew;
    if (grew < t.rows) {
      d.state = "not-due";
      d.reason += grew < 0 ? "; rows unknown (check the file out)" : ", " + std::to_string(grew) + " rows added, needs " + std::to_string(t.rows);
      return;
    }
    d.reason += ", " + std::to_string(grew) + " rows added";
  }
  decide_by_claim(repo, t, d);
}

// The monitor's result is recorded (and drift notified) only when acting:
// a dry check leaves no trace.
void check_drift(Repo& repo, const Trigger& t, bool act, Decision& d) {
  auto all = monitor::load_monitors(repo.root() / "mlo.yaml");
  auto it = all.find(t.monitor);
  if (it == all.end())
    throw InputError("mlo.yaml: trigger '" + t.name + "' names monitor '" + t.monitor + "', which is not under monitors:",
                     "add the monitor or fix the name");
  monitor::MonitorSpec spec = it->second;
  for (auto* v : {&spec.reference, &spec.current})
    for (auto& p : *v)
      if (!p.empty() && p[0] != '/' && p != "auto") p = (repo.root() / p).string();
  json result = monitor::run_monitor(spec, &repo);
  if (act) {
    monitor::record_result(repo, result);
    notify::drift(repo.root(), t.monitor, result);
  }
  const json& s = result["summary"];
  d.key = "m" + notify::drift_fingerprint(result, repo.root()).substr(0, 16);
  d.evidence = {{"monitor", t.monitor}, {"result_id", result.value("id", "")}, {"drift", s.value("drift", "")},
                {"drifted_columns", s["drifted_columns"]}};
  if (s.value("drift", "") != "drift") {
    d.state = "not-due";
    d.reason = "monitor " + t.monitor + ": no dataset drift";
    return;
  }
  std::string cols;
  for (auto& c : s["drifted_columns"]) cols += (cols.empty() ? "" : ", ") + c.get<std::string>();
  d.reason = "monitor " + t.monitor + ": dataset drift (" + cols + ")";
  decide_by_claim(repo, t, d);
}

void check_performance(Repo& repo, const Trigger& t, Decision& d) {
  auto hist = monitor::labels_history(repo, t.env);
  if (hist.empty() || hist.back()["windows"].empty()) {
    d.state = "not-due";
    d.reason = "no labelled traffic for " + t.env + " yet (mlo monitor labels " + t.env + " --from FILE)";
    return;
  }
  const json& windows = hist.back()["windows"];
  const json* last = nullptr;
  for (const auto& w : windows)
    if (w.contains(t.metric) && w[t.metric].is_number()) last = &w;
  const json* first = nullptr;
  for (const auto& w : windows)
    if (!first && w.contains(t.metric) && w[t.metric].is_number()) first = &w;
  if (!last) throw InputError("mlo.yaml: trigger '" + t.name + "': the labels of " + t.env + " have no metric '" + t.metric + "'",
                              "metrics: accuracy, error_rate (classification); mae, rmse (regression)");
  double v = (*last)[t.metric], v0 = (*first)[t.metric];
  bool up = monitor::higher_is_better(t.metric);
  // One occasion per window and what was known of it (more labels: a new look).
  d.key = "p" + sha256_hex(t.metric + (*last)["start"].dump() + (*last)["labelled"].dump() + std::to_string(v)).substr(0, 16);
  d.evidence = {{"env", t.env}, {"metric", t.metric}, {"window_start", (*last)["start"]}, {"value", v}, {"first_value", v0},
                {"labelled", (*last)["labelled"]}};
  std::string why;
  if (t.below && v < *t.below) why = t.metric + " " + fmt_num(v) + " below " + fmt_num(*t.below);
  if (t.above && v > *t.above) why = t.metric + " " + fmt_num(v) + " above " + fmt_num(*t.above);
  double drop = v0 == 0 ? 0 : (up ? (v0 - v) / v0 : (v - v0) / std::abs(v0));
  if (why.empty() && t.max_drop && drop > *t.max_drop)
    why = t.metric + " " + fmt_num(v) + " is " + fmt_num(100 * drop) + "% worse than the first window (" + fmt_num(v0) + ")";
  d.reason = t.env + ": " + (why.empty() ? t.metric + " " + fmt_num(v) + " within limits" : why);
  if (why.empty()) {
    d.state = "not-due";
    return;
  }
  decide_by_claim(repo, t, d);
}

// ---- acting ----

void notify_fired(Repo& repo, const Trigger& t, const Decision& d) {
  notify::Event e;
  e.kind = t.kind == "performance" ? notify::kPerformance : notify::kTrigger;
  e.subject = t.name;
  e.summary = "trigger " + t.name + " fired: " + d.reason + " -> " + d.state;
  e.detail = d.to_json();
  e.dedup_key = t.name + "/" + d.key;
  notify::send(repo.root(), e);
}

void act_on(Repo& repo, const Trigger& t, Decision& d, const CheckOptions& o) {
  json claim = {{"trigger", t.name}, {"kind", t.kind}, {"key", d.key}, {"reason", d.reason}, {"evidence", d.evidence},
                {"claimed_at", iso(o.now)}, {"claimed_ns", claim_ns()}, {"claimed_by", who(repo)},
                {"baseline", d.state == "baseline"},
                // Distinct blobs: pushing the object the remote already holds succeeds, so
                // two equal claims made in the same second would both win.
                {"nonce", random_hex(8)}};
  std::string ref = kClaims + t.name + "/" + d.key;
  if (!create_ref(repo, ref, claim)) {
    d.state = "already-fired";
    return;
  }
  if (o.push && !push_claim(repo, ref)) {
    d.state = "claimed-elsewhere";
    d.reason += "; another machine claimed this occasion first";
    return;
  }
  if (d.state == "baseline") return;
  if (o.say) o.say("trigger " + t.name + ": " + d.reason);
  ActionOutcome out = run_action(t.action, repo.root(), o.mlo_exe, "trigger " + t.name + ": " + d.reason, o.say);
  d.state = out.status;
  d.outcome = out.to_json(t.action);
  json record = {{"trigger", t.name}, {"key", d.key}, {"state", d.state}, {"outcome", d.outcome},
                 {"finished_at", iso(std::time(nullptr))}};
  std::string oref = kOutcomes + t.name + "/" + d.key;
  create_ref(repo, oref, record);
  if (o.push) git(repo, {"push", "--quiet", git_remote(repo), oref + ":" + oref});  // best effort: the claim is what counts
  notify_fired(repo, t, d);
}

}  // namespace

json Decision::to_json() const {
  json j = {{"trigger", trigger}, {"kind", kind}, {"due", due}, {"key", key}, {"reason", reason}, {"evidence", evidence},
            {"state", state}};
  if (!outcome.is_null()) j["outcome"] = outcome;
  return j;
}

std::vector<Trigger> load_triggers(const fs::path& mlo_yaml) {
  std::vector<Trigger> out;
  if (!fs::exists(mlo_yaml)) return out;
  const std::string file = mlo_yaml.filename().string();
  YAML::Node root = load_yaml_file(mlo_yaml);
  if (root && root.IsMap()) check_mlo_yaml(root, file);  // a typo must not drop a trigger or a target
  if (!root || !root.IsMap() || !root["triggers"]) return out;
  YAML::Node sec = root["triggers"];
  if (!sec.IsMap()) throw InputError(at(sec, file) + ": 'triggers' must map trigger names to settings", "see man mlo-triggers");
  for (auto it = sec.begin(); it != sec.end(); ++it) {
    Trigger t;
    t.name = it->first.as<std::string>();
    t.line = it->first.Mark().line + 1;
    check_name(t.name, at(it->first, file));
    YAML::Node n = it->second;
    if (!n.IsMap()) throw InputError(at(n, file) + ": trigger '" + t.name + "' must be a map");
    if (n["description"]) t.description = n["description"].as<std::string>();
    parse_condition(t, n, file);
    t.action = parse_action(n["action"], file, t.name);
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<Decision> check(Repo& repo, const CheckOptions& given) {
  CheckOptions o = given;
  if (o.now == 0) o.now = std::time(nullptr);
  auto all = load_triggers(repo.root() / "mlo.yaml");
  if (!o.only.empty() && std::none_of(all.begin(), all.end(), [&](auto& t) { return t.name == o.only; }))
    throw InputError("no trigger '" + o.only + "' in mlo.yaml", "see 'mlo triggers ls'");
  if (o.act && o.push) fetch_claims(repo);
  std::vector<Decision> out;
  for (const auto& t : all) {
    if (!o.only.empty() && t.name != o.only) continue;
    Decision d;
    d.trigger = t.name;
    d.kind = t.kind;
    if (t.kind == "schedule") check_schedule(repo, t, o.now, d);
    else if (t.kind == "new_data") check_new_data(repo, t, d);
    else if (t.kind == "drift") check_drift(repo, t, o.act, d);
    else check_performance(repo, t, d);
    if (o.act && d.due) act_on(repo, t, d, o);
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<json> history(Repo& repo, const std::string& trigger) {
  std::string sub = trigger.empty() ? "" : trigger + "/";
  std::map<std::string, json> outcomes;
  for (auto& [ref, doc] : read_refs(repo, kOutcomes + sub)) outcomes[ref.substr(std::string(kOutcomes).size())] = doc;
  std::vector<json> out;
  for (auto& [ref, doc] : read_refs(repo, kClaims + sub)) {
    std::string id = ref.substr(std::string(kClaims).size());
    json j = doc;
    j["ref"] = ref;
    auto o = outcomes.find(id);
    if (o != outcomes.end()) {
      j["state"] = o->second.value("state", "");
      j["outcome"] = o->second.value("outcome", json());
      j["finished_at"] = o->second.value("finished_at", "");
    } else {
      j["state"] = doc.value("baseline", false) ? "baseline" : "claimed";
    }
    out.push_back(std::move(j));
  }
  std::stable_sort(out.begin(), out.end(), claimed_before);
  return out;
}

json list(Repo& repo, std::int64_t now) {
  if (now == 0) now = std::time(nullptr);
  json out = json::array();
  auto hist = history(repo);
  for (const auto& t : load_triggers(repo.root() / "mlo.yaml")) {
    json j = {{"name", t.name}, {"kind", t.kind}, {"description", t.description},
              {"action", {{"run", t.action.run}, {"register", t.action.register_model}, {"propose", t.action.propose_stage}}}};
    if (t.kind == "schedule") {
      j["condition"] = t.schedule.text;
      if (auto n = next_slot(t.schedule, now)) j["next"] = iso(*n);
    } else if (t.kind == "new_data") {
      j["condition"] = t.data_path + (t.rows ? " grows by " + std::to_string(t.rows) + " rows" : " changes");
    } else if (t.kind == "drift") {
      j["condition"] = "monitor " + t.monitor + " finds dataset drift";
    } else {
      j["condition"] = t.env + " " + t.metric + (t.below ? " below " + fmt_num(*t.below) : "") +
                       (t.above ? " above " + fmt_num(*t.above) : "") +
                       (t.max_drop ? " or drops by " + fmt_num(100 * *t.max_drop) + "%" : "");
    }
    for (const auto& h : hist)
      if (h.value("trigger", "") == t.name) j["last"] = {{"at", h.value("claimed_at", "")}, {"state", h.value("state", "")}};
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace mlo::triggers
