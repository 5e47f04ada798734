// Notifications: mlo tells people (or their tools) when something needs them:
// dataset drift, a failed data contract, performance decay on labelled
// traffic, a gate refusal, a forced promotion, an automatic rollback, a fired
// trigger. Targets come from `notify:` in mlo.yaml (schemas/mlo-notify.schema.json):
// a signed JSON webhook, a Slack-compatible incoming webhook, or a command.
//
// Sending never fails or stalls the command that reports: every target gets a
// bounded time (timeout per attempt, retries with backoff, a deadline), every
// outcome goes to .mlo/notify/log.jsonl, and errors become warnings. The same
// event (same kind, subject and evidence) is sent once per target; another
// event of that kind for that subject waits out the target's cooldown.
// Man page: mlo-notify(5).
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace mlo::notify {

// Event kinds (the `events:` filter of a target, and X-Mlo-Event).
inline constexpr const char* kDrift = "drift";
inline constexpr const char* kContractFailed = "contract_failed";
inline constexpr const char* kPerformance = "performance";
inline constexpr const char* kGateRefused = "gate_refused";
inline constexpr const char* kForcedPromotion = "forced_promotion";
inline constexpr const char* kAutoRollback = "auto_rollback";
inline constexpr const char* kTrigger = "trigger";

struct Target {
  std::string name;
  std::string type;  // webhook | slack | command
  std::string url, url_env, secret_env;
  std::vector<std::string> command;
  std::vector<std::string> events;  // empty: all
  double cooldown_s = 3600;
  int retries = 3;
  double timeout_s = 5;
  // shared: true (origin) or a git remote's name: de-duplication and cooldown
  // are claimed on that remote, so clones do not send the same news twice
  // (notify/shared.h). Empty: this clone's state only.
  std::string shared_remote;
};

// The `notify:` section of mlo.yaml; empty when the file or the key is absent.
// Throws InputError (file:line) for a bad entry.
std::vector<Target> load_targets(const std::filesystem::path& mlo_yaml);

struct Event {
  std::string kind;     // one of the kinds above
  std::string subject;  // the monitor, model@version or environment it is about
  std::string summary;  // one line for people
  nlohmann::json detail = nlohmann::json::object();  // the evidence
  // What makes two events the same one (a result's inputs, a version...):
  // an event whose key equals the last one sent is a duplicate. Empty: the
  // detail's hash.
  std::string dedup_key;
};

struct Delivery {
  std::string target;
  std::string status;  // sent | failed | duplicate | cooldown
  int attempts = 0;
  std::string error;
  nlohmann::json to_json() const;
};

// Sends `event` to every target of repo_root/mlo.yaml that takes its kind.
// Never throws; failures are logged and printed as warnings on stderr.
std::vector<Delivery> send(const std::filesystem::path& repo_root, const Event& event);

// A monitor result with dataset drift (nothing is sent without drift); the
// same current data with the same drifted columns is one event.
std::vector<Delivery> drift(const std::filesystem::path& repo_root, const std::string& monitor,
                            const nlohmann::json& result);
// What makes two monitor results the same drift: the current data (named
// relative to the repository root, so clones agree), its size, the drifted
// columns and every metric's value (results name files, not their content;
// the same data gives the same values).
std::string drift_fingerprint(const nlohmann::json& result, const std::filesystem::path& root);

// For the data-contract check: a failed contract on `dataset` (details: which
// rules failed and where).
std::vector<Delivery> contract_failed(const std::filesystem::path& repo_root, const std::string& contract,
                                      const std::string& dataset, const nlohmann::json& failures);

// The webhook body of an event (what is signed) and its signature header
// value "sha256=HEX" (HMAC-SHA256 of the body under the secret).
std::string webhook_body(const Event& event, const std::string& delivery_id, const std::string& time_iso);
std::string signature_header(const std::string& secret, const std::string& body);

}  // namespace mlo::notify
