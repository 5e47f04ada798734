// Triggers: when to retrain, checked by `mlo triggers check [--act]` from
// cron, a systemd timer or a CI schedule. Each trigger of `triggers:` in
// mlo.yaml (schemas/mlo-triggers.schema.json) has one condition:
//   schedule     cron (UTC): due once per period
//   new_data     a tracked dataset has a new version (grown by >= rows)
//   drift        a monitor finds dataset drift (the check runs it)
//   performance  labelled traffic (mlo monitor labels) below a threshold or
//                worse than its first window by more than max_drop
// and an action (run stages, register, propose). An occasion (a period, a
// dataset version, a monitor's inputs, a labelled window) fires once: --act
// claims it as the git ref refs/mlo/triggers/NAME/KEY (create-only; with
// --push also on the git remote, where a second machine's push is refused),
// then acts and records the outcome under refs/mlo/trigger-outcomes/NAME/KEY.
// Those refs are the decisions' history (`mlo triggers history`, `mlo audit`).
// Man page: mlo-triggers(1).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "monitor/monitor.h"
#include "triggers/cron.h"

namespace mlo {
class Repo;
}

namespace mlo::triggers {

struct Trigger {
  std::string name, description;
  std::string kind;  // schedule | new_data | drift | performance
  Cron schedule;
  std::string data_path;  // new_data
  std::int64_t rows = 0;
  std::string monitor;    // drift
  std::string env, metric;  // performance
  std::optional<double> below, above, max_drop;
  monitor::OnDrift action;
  int line = 0;  // in mlo.yaml
};

// The triggers: section (empty when absent). Throws InputError with file:line.
std::vector<Trigger> load_triggers(const std::filesystem::path& mlo_yaml);

// One trigger's verdict at one check.
struct Decision {
  std::string trigger, kind;
  bool due = false;        // the condition holds for an occasion not yet claimed
  std::string key;         // the occasion (ref-safe): period, dataset version, ...
  std::string reason;      // for people
  nlohmann::json evidence = nlohmann::json::object();
  // what happened: due | not-due | already-fired | baseline | claimed-elsewhere | done | unchanged | refused | failed
  std::string state;
  nlohmann::json outcome;  // the action's record (with --act)
  nlohmann::json to_json() const;
};

struct CheckOptions {
  bool act = false;
  bool push = false;            // claim on the registry's git remote too (fetch first)
  std::string only;             // one trigger by name ("" = all)
  std::int64_t now = 0;         // epoch seconds (0 = the clock); tests and --now
  std::string mlo_exe;          // the binary that runs actions and drift monitors
  std::function<void(const std::string&)> say;  // progress lines (may be empty)
};

// Evaluates every trigger; with act, claims and acts on the due ones.
std::vector<Decision> check(Repo& repo, const CheckOptions& options);

// The recorded decisions (claims and their outcomes), oldest first.
std::vector<nlohmann::json> history(Repo& repo, const std::string& trigger = "");

// Triggers with their condition, next due time (schedules) and last decision.
nlohmann::json list(Repo& repo, std::int64_t now);

}  // namespace mlo::triggers
