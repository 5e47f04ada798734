// The retraining action shared by `mlo monitor --act` (on_drift:) and
// `mlo triggers check --act` (action:): run stages, register the model the
// last stage made, propose the new version for a stage through its gates.
// Each step runs this same binary (`mlo --json ...`), so it does exactly what
// a user typing it would, with its own locks, records and notifications.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <string>

#include "monitor/monitor.h"

namespace mlo::triggers {

struct ActionOutcome {
  // done | unchanged (retraining reproduced the latest version) | refused
  // (the gates said no: a decision, not a failure) | failed (a step failed)
  std::string status = "done";
  std::string version;                              // the registered version
  nlohmann::json steps = nlohmann::json::array();   // {command, exit_code, ok, output|stderr}
  nlohmann::json gates;                             // the promotion's gate results
  // The JSON recorded with the decision ({action, steps, status, version, gates, reason}).
  nlohmann::json to_json(const monitor::OnDrift& action) const;
};

// Runs `action`; `why` goes into the registration's description and the
// promotion's message; `say` (may be empty) is told each command before it runs.
ActionOutcome run_action(const monitor::OnDrift& action, const std::filesystem::path& repo_root,
                         const std::string& mlo_exe, const std::string& why,
                         const std::function<void(const std::string&)>& say);

}  // namespace mlo::triggers
