#include "app/lineage.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>

#include "app/lineage_walk.h"
#include "contracts/results.h"
#include "deploy/deploy.h"
#include "monitor/monitor.h"
#include "registry/registry.h"
#include "repo/repo.h"
#include "triggers/triggers.h"

namespace mlo::app {

namespace {

using nlohmann::json;

// "2026-11-22T17:00:00.123Z" -> unix seconds (0 when unreadable).
double iso_seconds(const std::string& ts) {
  try {
    double s = static_cast<double>(registry::parse_date(ts));
    size_t dot = ts.find('.');
    if (dot != std::string::npos) s += std::atof(("0" + ts.substr(dot, ts.find_first_not_of("0123456789", dot + 1) - dot)).c_str());
    return s;
  } catch (...) {
    return 0;
  }
}

std::string who(const deploy::DeployEvent& e) { return e.detail.is_object() ? e.detail.value("by", "") : ""; }

json deployment_node(const deploy::DeployEvent& e) {
  const json& d = e.detail;
  std::string target = d.value("target", e.action == "batch" ? "batch" : "local");
  std::string strategy = d.value("strategy", "");
  std::string label = e.action + " " + e.model + "@" + e.version + " in " + e.env + " (" + target;
  if (!strategy.empty()) label += ", " + strategy;
  if (d.contains("weight") && d["weight"].is_number() && strategy != "replace")
    label += ", " + std::to_string(d["weight"].get<int>()) + "%";
  label += ") " + e.ts;
  if (!who(e).empty()) label += " by " + who(e);
  json n = {{"kind", "deployment"},
            {"id", e.env + "@" + e.ts},
            {"label", label},
            {"env", e.env},
            {"action", e.action},
            {"target", target},
            {"strategy", strategy},
            {"when", e.ts},
            {"by", who(e)},
            {"children", json::array()}};
  return n;
}

// Monitor results, with the deployment environment whose request log they read.
struct MonitorUse {
  json summary;  // {"id","monitor","created_at","drift","quality","performance"}
  std::string env;
  std::string checked;  // NAME@VERSION whose training data was the reference (-r auto)
  double time = 0;
};

// The environment ENV when `source` is (or ends with) .mlo/deploy/ENV/requests.jsonl.
std::string env_of_source(const std::string& source) {
  const std::string tail = "/requests.jsonl";
  std::string s = source;
  if (s.size() <= tail.size() || s.compare(s.size() - tail.size(), tail.size(), tail) != 0) return {};
  s.resize(s.size() - tail.size());
  size_t slash = s.rfind('/');
  std::string env = s.substr(slash == std::string::npos ? 0 : slash + 1);
  std::string parent = slash == std::string::npos ? "" : s.substr(0, slash);
  if (parent != ".mlo/deploy" && (parent.size() < 12 || parent.compare(parent.size() - 12, 12, "/.mlo/deploy") != 0))
    return {};
  return env;
}

// What a monitor node shows; `verdicts` has drift, quality, performance.
json use_summary(const std::string& id, const std::string& monitor, double time, const json& verdicts) {
  return {{"id", id},
          {"monitor", monitor},
          {"created_at", time},
          {"drift", verdicts.value("drift", "")},
          {"quality", verdicts.value("quality", "")},
          {"performance", verdicts.value("performance", "")}};
}

// Results another clone recorded: the "monitor" events in the tracked
// deploy/ENV/events.jsonl (record_monitor_use), shared through git.
void add_shared_uses(const std::vector<deploy::DeployEvent>& events, std::vector<MonitorUse>& out) {
  for (const auto& e : events) {
    if (e.action != "monitor" || !e.detail.is_object()) continue;
    std::string id = e.detail.value("result_id", "");
    if (id.empty() || std::any_of(out.begin(), out.end(), [&](const MonitorUse& u) { return u.summary["id"] == id; }))
      continue;
    MonitorUse u;
    u.env = e.env;
    u.time = e.detail.value("created_at", iso_seconds(e.ts));
    u.summary = use_summary(id, e.detail.value("monitor", ""), u.time, e.detail);
    out.push_back(std::move(u));
  }
}

std::vector<MonitorUse> monitor_uses(Repo& repo) {
  std::vector<MonitorUse> out;
  json results = monitor::history(repo, "", 1 << 30);
  for (const auto& r : results) {
    std::string id = r.value("id", "");
    json doc;
    try {
      doc = json::parse(repo.cache().read(id), nullptr, false);
    } catch (...) {
      continue;  // the result object is not in this cache (gc'd, or another machine's index)
    }
    if (doc.is_discarded() || !doc.contains("current")) continue;
    std::string env;
    for (const auto& s : doc["current"].value("sources", json::array()))
      if (s.is_string() && env.empty()) env = env_of_source(s.get<std::string>());
    std::string checked;
    if (doc.contains("reference") && doc["reference"].contains("lineage") && doc["reference"]["lineage"].is_object())
      checked = doc["reference"]["lineage"].value("version", "");
    if (env.empty() && checked.empty()) continue;
    const json sum = doc.value("summary", json::object());
    MonitorUse u;
    u.env = env;
    u.checked = checked;
    u.time = r.value("created_at", 0.0);
    u.summary = use_summary(id, r.value("monitor", ""), u.time, sum);
    out.push_back(std::move(u));
  }
  return out;
}

json monitor_node(const MonitorUse& u) {
  std::string when = registry::format_time(static_cast<std::int64_t>(u.time));
  std::string label = "monitor " + u.summary["monitor"].get<std::string>() + ": drift " +
                      u.summary["drift"].get<std::string>() + ", quality " + u.summary["quality"].get<std::string>() +
                      ", performance " + u.summary["performance"].get<std::string>() + " " + when + " (result " +
                      u.summary["id"].get<std::string>().substr(0, 12) + ")";
  json n = u.summary;
  n["kind"] = "monitor_result";
  n["label"] = label;
  n["date"] = when;
  n["children"] = json::array();
  return n;
}

bool serving_action(const std::string& action) {
  return action == "deploy" || action == "promote" || action == "rollback" || action == "auto-rollback" ||
         action == "traffic";
}

}  // namespace

namespace {
// A data node's label ends "(sha256 PREFIX)": the newest stored contract
// check of that version goes beside it (mlo data validate, mlo run).
void add_validation(Repo& repo, json& n) {
  const std::string label = n.value("label", "");
  auto at = label.rfind("(sha256 ");
  if (at == std::string::npos || !n["id"].is_string()) return;
  std::string prefix = label.substr(at + 8, label.find(')', at) - at - 8);
  auto v = contracts::latest_validation(repo, n["id"].get<std::string>(), prefix);
  if (!v) return;
  n["validation"] = {{"result", v->id}, {"passed", v->passed}, {"failed_checks", v->failed_checks},
                     {"rows", v->rows}, {"created_at", v->created_at}};
  n["label"] = label + (v->passed ? " [contract passed]"
                                  : " [contract FAILED: " + std::to_string(v->failed_checks) + " checks]");
}
}  // namespace

json full_lineage(Repo& repo, const std::string& target) {
  json tree = registry::lineage(repo, target);
  extend_lineage(repo, tree);
  std::vector<deploy::DeployEvent> events = deploy::list_deploy_events(repo);
  std::vector<MonitorUse> uses;
  bool uses_loaded = false;
  // Which version an environment's request log ends with at a given time: the
  // deploy events replayed in order (a stop ends serving but not the log, and
  // a monitor typically reads the log afterwards).
  std::map<std::string, std::vector<std::pair<double, std::string>>> serving;  // env -> (time, "name@version")
  for (const auto& e : events)
    if (serving_action(e.action)) serving[e.env].emplace_back(iso_seconds(e.ts), e.model + "@" + e.version);
  auto served_at = [&](const std::string& env, double t) -> std::string {
    std::string who;
    for (const auto& [at, mv] : serving[env])
      if (at <= t) who = mv;
    return who;
  };

  std::function<void(json&)> walk = [&](json& n) {
    for (auto& c : n["children"]) walk(c);
    if (n["kind"] == "data") add_validation(repo, n);
    if (n["kind"] != "model_version") return;
    const std::string id = n["id"].get<std::string>();  // NAME@VERSION
    std::map<std::string, size_t> last_in_env;  // env -> index of its newest serving deployment node
    for (const auto& e : events) {
      if (e.model + "@" + e.version != id || e.action == "monitor") continue;
      n["children"].push_back(deployment_node(e));
      if (serving_action(e.action)) last_in_env[e.env] = n["children"].size() - 1;
    }
    if (!uses_loaded) {
      uses = monitor_uses(repo);
      add_shared_uses(events, uses);
      uses_loaded = true;
    }
    for (const auto& u : uses) {
      // A check of data against this version's training data (-r auto), not on a deployment's log.
      if (u.env.empty()) {
        if (u.checked == id) n["children"].push_back(monitor_node(u));
        continue;
      }
      auto it = last_in_env.find(u.env);
      if (it == last_in_env.end() || served_at(u.env, u.time) != id) continue;
      n["children"][it->second]["children"].push_back(monitor_node(u));
    }
  };
  walk(tree);
  return tree;
}

void record_monitor_use(Repo& repo, const json& result) {
  std::string env;
  for (const auto& src : result["current"].value("sources", json::array()))
    if (src.is_string() && env.empty()) env = env_of_source(src.get<std::string>());
  if (env.empty() || !result.contains("id")) return;
  // The version serving the environment when the monitor ran (as lineage replays it).
  double now = result.value("created_at", 0.0);
  std::string model, version;
  for (const auto& e : deploy::list_deploy_events(repo, env))
    if (serving_action(e.action) && iso_seconds(e.ts) <= now) model = e.model, version = e.version;
  const json sum = result.value("summary", json::object());
  json detail = {{"result_id", result["id"]},         {"monitor", result.value("monitor", "")},
                 {"created_at", now},                 {"drift", sum.value("drift", "")},
                 {"quality", sum.value("quality", "")}, {"performance", sum.value("performance", "")},
                 {"current_rows", result["current"].value("rows", 0)}};
  if (result["reference"].contains("lineage")) detail["reference"] = result["reference"]["lineage"];
  deploy::record_deploy_event(repo, deploy::DeployEvent{"", env, "monitor", model, version, detail});
}

// Trigger decisions (claims in refs/mlo/triggers, outcomes beside them): who
// claimed the occasion, why, and what the action did.
void add_trigger_decisions(const std::vector<json>& decisions, const std::string& model, std::int64_t since,
                           std::vector<std::pair<double, json>>& all) {
  for (const auto& d : decisions) {
    double t = iso_seconds(d.value("claimed_at", ""));
    std::string registers = d.contains("outcome") && d["outcome"].is_object()
                                ? d["outcome"].value("action", json::object()).value("register", "") : "";
    if (t < static_cast<double>(since) || (!model.empty() && registers != model)) continue;
    std::string version = d.contains("outcome") && d["outcome"].is_object() ? d["outcome"].value("version", "") : "";
    all.emplace_back(t, json{{"source", "trigger"}, {"event", "trigger " + d.value("state", "")},
                             {"name", d.value("trigger", "")}, {"version", version}, {"time", static_cast<std::int64_t>(t)},
                             {"date", registry::format_time(static_cast<std::int64_t>(t))},
                             {"author", d.value("claimed_by", "")}, {"author_email", ""},
                             {"detail", {{"reason", d.value("reason", "")}, {"evidence", d.value("evidence", json())},
                                         {"key", d.value("key", "")}}}});
  }
}

std::vector<json> audit_log(Repo& repo, const std::string& model, std::int64_t since) {
  return audit_log(repo, model, since, triggers::history(repo));
}

std::vector<json> audit_log(Repo& repo, const std::string& model, std::int64_t since,
                            const std::vector<json>& trigger_decisions) {
  std::vector<std::pair<double, json>> all;
  for (const auto& e : registry::all_events(repo, model, since)) {
    json j = e.to_json();
    j["source"] = "registry";
    all.emplace_back(static_cast<double>(e.order_ms()) / 1000.0, std::move(j));
  }
  for (const auto& e : deploy::list_deploy_events(repo, "", model)) {
    if (e.action == "monitor") continue;  // a check's result, not a change anyone made (lineage shows it)
    double t = iso_seconds(e.ts);
    if (t < static_cast<double>(since)) continue;
    std::string by = who(e), name = by, email;
    size_t lt = by.rfind(" <");
    if (lt != std::string::npos && by.back() == '>') {
      name = by.substr(0, lt);
      email = by.substr(lt + 2, by.size() - lt - 3);
    }
    json j = {{"source", "deploy"},
              {"event", e.action},
              {"name", e.model},
              {"version", e.version},
              {"env", e.env},
              {"time", static_cast<std::int64_t>(t)},
              {"date", registry::format_time(static_cast<std::int64_t>(t))},
              {"author", name},
              {"author_email", email},
              {"detail", e.detail}};
    all.emplace_back(t, std::move(j));
  }
  add_trigger_decisions(trigger_decisions, model, since, all);
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<json> out;
  out.reserve(all.size());
  for (auto& [t, j] : all) out.push_back(std::move(j));
  return out;
}

}  // namespace mlo::app
