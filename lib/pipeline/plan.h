// The plan of `mlo run` (pure: no process, no file): a stage's cache key
// from what it reads, and whether it is up to date against its mlo.lock
// entry and, if not, why. Sweep axes and points. The executor gathers the
// facts (hashes, params) and acts on the answer.
#pragma once
#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pipeline/pipeline.h"

namespace mlo {

// What a stage reads, as hashed and resolved in one tree.
struct StageFacts {
  nlohmann::json deps = nlohmann::json::object();    // path -> sha256
  nlohmann::json flat_deps = nlohmann::json::object();  // folder deps: path -> flat (version 1) manifest hash
  nlohmann::json params = nlohmann::json::object();  // FILE:KEY -> value
  nlohmann::json runner_config = nlohmann::json::object();
  // The captured environment (lib/environment; null until captured) and
  // the part the stage keys on (mlo.yaml `environment:`, a container's
  // image digest): empty for other stages, so their keys do not change.
  nlohmann::json environment;
  nlohmann::json env_fingerprint = nlohmann::json::object();
};

// The document whose hash is the stage's cache key, and that hash.
struct StageKey {
  nlohmann::json doc;
  std::string key;
};
StageKey stage_key(const StageDef& s, const StageFacts& facts);
// The key mlo 0.2 and earlier computed, with folder deps hashed as flat
// manifests: an unchanged stage still matches the mlo.lock they wrote.
// nullopt when the stage has no folder dep (both keys are the same).
std::optional<StageKey> flat_manifest_key(const StageDef& s, const StageFacts& facts);

// What the work tree holds of a stage's outputs: path -> sha256 (absent: missing).
struct TreeState {
  std::map<std::string, std::string> outs;
  std::set<std::string> metrics_present;
  std::map<std::string, std::string> flat_outs;  // folders: their flat (version 1) manifest hash
};

// Why the stage must run (or be restored) in the work tree; "" when it is
// up to date. `prev` is its mlo.lock entry (null when none); `prev_env` the
// fingerprint of the environment it ran in (null when unknown), so that a
// changed package is named ("scikit-learn 1.3.2 → 1.4.0").
std::string stale_reason(const StageDef& s, const nlohmann::json& prev, const StageKey& key, const TreeState& tree,
                         const nlohmann::json& prev_env = nullptr);
// What changed between an mlo.lock entry and a key document, for humans.
std::string explain_change(const nlohmann::json& prev, const nlohmann::json& key_doc,
                           const nlohmann::json& prev_env = nullptr);

// FILE:KEY -> value, keyed as people write params (train.lr, other.yaml:x).
nlohmann::json display_params(const nlohmann::json& flat);

// One axis of a sweep (--grid KEY=...).
struct SweepAxis {
  std::string ref;                  // FILE:KEY
  std::string display;              // as typed
  std::vector<nlohmann::json> values;  // grid values / choices
  std::string dist;                 // uniform, loguniform, randint ("" for a list)
  double lo = 0, hi = 0;
};
SweepAxis parse_axis(const std::string& spec, int random);
// The full grid, or `random` samples (seed 0: from the clock). Each point: FILE:KEY -> value.
std::vector<nlohmann::json> sweep_points(const std::vector<SweepAxis>& axes, int random, unsigned seed);

}  // namespace mlo
