// What happened to model versions after the registry: the registry's lineage
// (data -> runs -> versions -> stages, lib/registry) extended with the
// deployments of each version (lib/deploy's event log) and the monitor
// results that read those deployments' request logs (lib/monitor), and an
// audit log that merges registry events with deploy and rollback events.
// Lives in app/ because it joins three domain modules that do not know each other.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mlo {
class Repo;
}

namespace mlo::app {

// registry::lineage(target) with, under every model_version node, a
// "deployment" node per deploy event of that version (env, action, target,
// strategy, time, by) and, under the deployment, the "monitor_result" nodes
// of results computed on that environment's request log while it served the
// version (this clone's, and other clones' through their monitor events);
// directly under the version, this clone's results whose reference was the
// version's training data (-r auto) on other data.
nlohmann::json full_lineage(Repo& repo, const std::string& target);

// After a monitor result is recorded: when it read a deployment's request
// log (.mlo/deploy/ENV/requests.jsonl), a "monitor" event in the tracked
// deploy/ENV/events.jsonl names the result, its verdicts, the version that
// served and the reference it compared with, so every clone's lineage (after
// git pull) reaches it.
void record_monitor_use(Repo& repo, const nlohmann::json& result);

// Registry events (registrations, approvals, promotions, forced overrides...)
// and deploy events (deploy, traffic, promote, rollback, auto-rollback, stop,
// render, batch; not monitor results), oldest first, as JSON objects with "source" ("registry" or
// "deploy"), "event", "name", "version", "time", "date", "author",
// "author_email"; registry entries add "tag", "stage", "forced"...; deploy
// entries add "env" and "detail". Filters apply when non-empty/non-zero.
std::vector<nlohmann::json> audit_log(Repo& repo, const std::string& model, std::int64_t since);
// The same with the trigger decisions already read (triggers::history, two
// git processes): mlo ui reads the log in widening windows, them once.
std::vector<nlohmann::json> audit_log(Repo& repo, const std::string& model, std::int64_t since,
                                      const std::vector<nlohmann::json>& trigger_decisions);

}  // namespace mlo::app
