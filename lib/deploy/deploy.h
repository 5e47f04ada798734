// mlo deploy: local serving behind mlo's router, batch scoring, Kubernetes
// manifests, and the deployment event log. Man pages: mlo-deploy(1),
// mlo-inference-runners(7). Design: ARCHITECTURE.md "Deployment".
//
// Local deployments live under .mlo/deploy/ENV/ (ignored by git):
//   state.json      the applied state (written by the router)
//   router.json     router pid, host, port, admin token
//   router.log, runner-ID.log, runner-ID.pid, runner-ID.spec.json
//   requests.jsonl  one line per request (what `mlo monitor` reads)
// Events (deploy, traffic, promote, rollback, stop, runner-failed) go to the
// tracked file deploy/ENV/events.jsonl and the index table deploy_events.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "deploy/model_source.h"

namespace mlo {
class Repo;
}

namespace mlo::deploy {

// One model version served by one inference runner process.
struct Backend {
  std::string id;  // unique within the environment ("b" + 8 hex)
  std::string model, version, sha256, artifact_type, run_id;
  std::string artifact;  // absolute path
  std::string runner;    // runner name (native, sklearn, NAME) or a path
  std::string runner_path;  // resolved executable
};
nlohmann::json to_json(const Backend& b);
Backend backend_from_json(const nlohmann::json& j);

struct Thresholds {
  double max_error_rate = -1;  // fraction of 5xx among the candidate's requests; <0: off
  double max_p99_ms = -1;      // candidate's p99 latency; <0: off
  long min_requests = 20;      // judged only after this many requests
};

// How runners serve and the router forwards to them (deployments.ENV.serving
// in mlo.yaml; mlo-deploy(1)).
struct ServeSettings {
  int workers = 0;            // runner processes sharing its port; 0: the runner's default (the cores)
  int max_batch_size = 0;     // rows merged into one predict call; 0 or 1: no batching
  int max_batch_time_ms = 0;  // how long a batch waits for more requests
  int max_inflight = 64;      // requests the router has sent to one runner and not yet had answered
  int max_queue = 1024;       // requests waiting for one of those; beyond, the router answers 503
};
nlohmann::json to_json(const ServeSettings& s);
// Reads the object written by to_json (absent keys keep their defaults).
ServeSettings serve_settings_from_json(const nlohmann::json& j);

// The state of one environment's router: what serves, and how traffic splits.
struct EnvState {
  std::string env;
  std::string host = "127.0.0.1";
  int port = 0;
  long generation = 0;
  std::string strategy = "replace";  // of the last change: replace|blue-green|canary|shadow|ab|bandit
  std::optional<Backend> primary;    // serves (100 - weight)% (all, for shadow)
  std::optional<Backend> candidate;  // canary or shadow target
  std::optional<Backend> standby;    // blue-green: the previous side, kept running, idle
  int weight = 0;                    // candidate percentage 0..100
  std::string split = "deterministic";  // deterministic | random
  std::string sticky_key;               // ab: header or body field whose hash picks the arm
  std::vector<Backend> history;         // earlier primaries, newest last (for rollback)
  Thresholds thresholds;
  int max_restarts = 3;
  int ready_timeout_s = 30;
  int threads = 4;  // router worker threads
  ServeSettings serving;
};
nlohmann::json to_json(const EnvState& s);
EnvState env_state_from_json(const nlohmann::json& j);
// Two arms judged on outcomes: ab (a fixed split) and bandit (the split
// follows the outcomes, mlo deploy experiment bandit); a sticky key keeps a
// user on one arm.
inline bool has_arms(const std::string& strategy) { return strategy == "ab" || strategy == "bandit"; }

std::filesystem::path env_dir(Repo& repo, const std::string& env);
// Checks an environment name (letters, digits, '-', '_', '.'). Throws UsageError.
void check_env_name(const std::string& env);
// .mlo/deploy/artifacts/: the registered bytes being served (not an environment).
inline constexpr const char* kArtifactsDir = "artifacts";

// deployments: in mlo.yaml (only that key is read here).
struct DeploymentConfig {
  std::string env, model, runner, strategy, host, split, artifact;
  int port = 0, weight = -1, max_restarts = -1, ready_timeout_s = -1;
  Thresholds thresholds;
  bool has_thresholds = false;
  std::string image, namespace_;  // k8s
  std::optional<ServeSettings> serving;
  std::string validate_requests;  // "" | warn | reject (deploy/request_checks.h)
};
std::optional<DeploymentConfig> load_deployment_config(Repo& repo, const std::string& env);

struct DeployOptions {
  std::string ref;                 // NAME#STAGE | NAME@VERSION (may be empty with --artifact or mlo.yaml)
  std::string artifact;            // a model file instead of a registered model
  std::string env;
  std::string target = "local";    // local | batch | k8s
  std::string strategy;            // replace | blue-green | canary | shadow
  int weight = -1;                 // canary/shadow percentage
  std::string split;               // deterministic | random | a percentage (ab: --split 50)
  std::string sticky_key;          // ab: header or JSON body field; one user, one arm
  std::string runner;              // inference runner name or path
  std::string host;                // router bind address
  int port = -1;
  int ready_timeout_s = -1;
  int threads = -1;
  // batch
  std::string input, output;
  std::vector<std::string> outputs;  // output names to write (predict, predict_proba, ...); empty: predict
  // k8s
  bool apply = false;
  std::string image;
  bool strict_env = false;         // the serving python differs in a package the model needs: error, not warning
};

struct DeployResult {
  nlohmann::json doc;  // printed by the CLI (text and --json)
};

DeployResult deploy(Repo& repo, const DeployOptions& options);

// The live status of an environment (router up: counts, percentiles, health).
nlohmann::json deploy_status(Repo& repo, const std::string& env);
// Every environment under .mlo/deploy with a one-line summary.
nlohmann::json list_deployments(Repo& repo);
nlohmann::json stop_deployment(Repo& repo, const std::string& env);
nlohmann::json promote_deployment(Repo& repo, const std::string& env);
nlohmann::json rollback_deployment(Repo& repo, const std::string& env);
// Sets the candidate's traffic share without changing versions.
nlohmann::json set_traffic(Repo& repo, const std::string& env, int weight);
// Paths of the router and runner logs of an environment.
std::vector<std::filesystem::path> deployment_logs(Repo& repo, const std::string& env);

// The router process (`mlo deploy serve-router ENV`): supervises runners and
// routes until stopped. `mlo_exe` is the mlo binary (runners are found next to it).
int serve_router(Repo& repo, const std::string& env, const std::string& host, int port, int threads);

// Finds an inference runner: a path, or mlo-serve-NAME next to mlo, or on PATH.
std::filesystem::path find_inference_runner(const std::string& runner);

// ---- events (index + tracked deploy/ENV/events.jsonl) ----
struct DeployEvent {
  std::string ts;      // UTC, ISO 8601
  std::string env;
  std::string action;  // deploy | traffic | promote | rollback | auto-rollback | stop | runner-failed | batch | render
  std::string model, version;
  nlohmann::json detail = nlohmann::json::object();
};
void record_deploy_event(Repo& repo, DeployEvent event);
// Newest last; filters are optional ("" = any).
std::vector<DeployEvent> list_deploy_events(Repo& repo, const std::string& env = "", const std::string& model = "");
// Refills the deploy_events table from deploy/*/events.jsonl.
void rebuild_deploy_index(Repo& repo);
nlohmann::json to_json(const DeployEvent& e);

// ---- k8s ----
// Validates a rendered manifest (parsed YAML as JSON) against the shipped
// schema (schemas/k8s-manifest.schema.json); returns problems, empty if valid.
std::vector<std::string> validate_k8s_manifest(const nlohmann::json& doc);
nlohmann::json k8s_manifest_schema();

std::string utc_now_iso();

}  // namespace mlo::deploy
