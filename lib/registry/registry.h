// The model registry: versions, stages, aliases, approvals, kept as annotated
// git tags in GTO's format (registry/names.h) with mlo's metadata in the tag
// message, mirrored into the SQLite index for fast queries.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "registry/fairness.h"
#include "registry/model_ref.h"
#include "registry/names.h"

namespace mlo {
class Database;
class Repo;
}  // namespace mlo

namespace mlo::registry {

// ---- tags as events ------------------------------------------------------

// The first line of every tag message is GTO's (e.g. "Registering artifact
// NAME version v1.2.0"); mlo's metadata follows as JSON after a line
// "mlo-metadata:". Tags without it (GTO's own) read as plain events.
inline constexpr const char* kMetaMarker = "mlo-metadata:";
std::string compose_message(const std::string& human, const nlohmann::json& meta);
nlohmann::json extract_meta(const std::string& message);  // null when absent or unreadable; checked_meta'd
// A teammate's tag: the metadata fields mlo reads, each dropped when it has
// another type than mlo writes (readers then need no type checks), null when
// not an object.
nlohmann::json checked_meta(nlohmann::json meta);
std::string_view meta_text(std::string_view message);      // the metadata's JSON text, "" when absent

struct Event {
  std::string tag;   // tag name
  std::string oid;   // tag object
  TagKind kind = TagKind::register_;
  std::string model, version, stage;
  std::int64_t counter = 0;
  std::int64_t time = 0;  // tagger time (unix seconds)
  std::int64_t order_ms() const;  // mlo's millisecond time when recorded, else time * 1000 (display only)
  // (counter, n): the model's counter this event carries (n = 0) or follows (n >= 1,
  // mlo's register and approval tags); nullopt when it has none (GTO's register tags).
  std::optional<std::pair<std::int64_t, std::int64_t>> sequence() const;
  std::string author, email;
  std::string commit;
  std::string message;  // first line
  nlohmann::json meta;  // mlo metadata, or null
  std::string meta_text;  // its JSON as written in the tag (when read from git)
  bool is_alias() const { return meta.is_object() && meta.value("event", "") == "alias"; }
  bool forced() const { return meta.is_object() && meta.value("forced", false); }
  nlohmann::json to_json() const;
};

struct VersionInfo {
  std::string version, tag, commit, author, email;
  std::int64_t time = 0, time_ms = 0;
  std::int64_t order = 0;  // position of its register event in the replay
  bool active = true;  // false once deregistered
  nlohmann::json meta = nlohmann::json::object();  // artifact, run, metrics, ... (mlo's)
  std::vector<std::string> stages, aliases;
};

struct ModelState {
  std::string name;
  bool deprecated = false;
  std::vector<VersionInfo> versions;  // registration order
  std::map<std::string, std::vector<std::string>> stages;  // stage -> holders, oldest first
  std::map<std::string, std::string> aliases;              // alias -> version
  std::vector<Event> events;                               // in order

  const VersionInfo* find(const std::string& version) const;
  const VersionInfo* latest() const;
  const VersionInfo* greatest() const;
  // The current holder of a stage (the newest if several); nullptr if none.
  const VersionInfo* holder(const std::string& stage) const;
  std::int64_t max_counter() const;
  std::int64_t max_seq_n(std::int64_t seq) const;  // the largest n of events following counter `seq`
  nlohmann::json summary_json() const;  // what `mlo models ls --json` shows per model
};

// Replays events into a state, in the order of their recorded sequence (the
// model's counter, Event::sequence), never by clock time where a sequence exists.
ModelState replay(const std::string& model, std::vector<Event> events);
// One model's events in that order.
std::vector<Event> sort_events(std::vector<Event> events);

// ---- configuration (mlo.yaml) -------------------------------------------

struct BeatGate {
  std::string metric;
  bool greater_is_better = true;
  std::optional<double> threshold, min_absolute_change, min_relative_change;
};
struct MetricGate {
  std::string metric, op;  // op: >=, >, <=, <, ==, !=
  double value = 0;
  std::string text;
};
struct StageConfig {
  std::string name;
  std::vector<FairnessGate> fairness;  // disparity gates (registry/fairness.h)
  FairnessColumns fairness_columns;
  bool single = true;  // one holder: promoting moves the previous one out
  std::vector<MetricGate> metrics;
  std::vector<BeatGate> beat;
  int approvals = 0;
  bool author_may_approve = false;
  bool on_remote = false;
  std::string check;  // shell command that must exit 0
  bool data_valid = false;  // the training data passed its contract (registry/data_gate.h)
};
struct RegistryConfig {
  std::vector<StageConfig> stages;
  std::string git_remote = "origin";
  const StageConfig* stage(const std::string& name) const;
  std::string stage_names() const;  // "dev, staging, production, archived"
};
struct ModelDecl {
  std::string name, path, type, description, runner;
};

// Reads `registry:` and `models:` from mlo.yaml (defaults when absent).
RegistryConfig load_registry_config(Repo& repo);
std::map<std::string, ModelDecl> load_model_decls(Repo& repo);
MetricGate parse_metric_gate(const std::string& text, const std::string& where);

// ---- the index -----------------------------------------------------------

// Brings the index up to date with refs/tags when they changed (a stat
// fingerprint of the ref store makes the unchanged case cheap).
void refresh_index(Repo& repo);
// Drops the registry tables and re-reads every tag (mlo index rebuild).
void rebuild_registry_index(Repo& repo);
// The same into another database (a new index being built beside the old one).
void rebuild_registry_index(Repo& repo, Database& db);
std::vector<nlohmann::json> list_models(Repo& repo);
// Throws InputError when the model has no tags.
ModelState load_model(Repo& repo, const std::string& name);
std::optional<ModelState> find_model(Repo& repo, const std::string& name);
// Every event, oldest first; filters when non-empty.
std::vector<Event> all_events(Repo& repo, const std::string& model = {}, std::int64_t since = 0);

// ---- changing the registry ----------------------------------------------

struct RegisterOptions {
  std::string name;
  std::string path;       // artifact in the work tree
  std::string run_id;     // --run
  std::string stage_out;  // --stage
  std::string bump;       // major|minor|patch
  std::string version;    // explicit
  std::string description, type, signature_file, metrics_file;
  std::string target;  // the training data's target column (the rest are the inputs), for the inferred signature
  std::map<std::string, std::string> labels;
  bool push = false;
  bool if_changed = false;  // register nothing when the latest version has the same bytes
};
struct RegisterResult {
  std::string tag, version;
  VersionInfo info;
  bool pushed = false;
  bool unchanged = false;  // if_changed and the latest version has these bytes: nothing registered
  std::string run_note;  // why no run is linked, when one was looked for and none wrote these bytes
};
RegisterResult register_model(Repo& repo, const RegisterOptions& options);

struct GateResult {
  std::string gate;      // "metric", "beat", "approvals", "remote", "fairness", "data_valid", "check"
  std::string what;      // "accuracy >= 0.9"
  std::string value;     // what was found
  bool passed = false;
  std::string detail;
  nlohmann::json to_json() const;
};

struct PromoteOptions {
  std::string ref, stage, message;
  bool force = false, push = false, dry_run = false;
};
struct PromoteResult {
  std::string model, version, stage;
  bool promoted = false, forced = false, already = false, pushed = false;
  std::string replaced;  // the previous holder moved out
  std::vector<GateResult> gates;
  std::vector<std::string> tags;
  nlohmann::json to_json() const;
};
PromoteResult promote(Repo& repo, const PromoteOptions& options);
// Who made the version's run (their own approval does not count), else who registered it.
std::string run_author_email(const VersionInfo& v);
// Evaluates a stage's gates for a version without changing anything.
std::vector<GateResult> evaluate_gates(Repo& repo, const ModelState& model, const VersionInfo& v,
                                       const StageConfig& stage);

struct ChangeResult {
  std::vector<std::string> tags;
  bool pushed = false;
};
// Unassigns a version from `stage` (or from every stage it holds when empty).
ChangeResult demote(Repo& repo, const std::string& ref, const std::string& stage, const std::string& message,
                    bool push);
// NAME@VERSION: out of every stage, into archived. NAME alone: the model is deprecated
// (GTO's NAME@deprecated#N). deregister: GTO's NAME@VERSION!#N.
ChangeResult deprecate(Repo& repo, const std::string& ref, bool deregister, const std::string& message, bool push);
ChangeResult approve(Repo& repo, const std::string& ref, const std::string& stage, const std::string& message,
                     bool push);
ChangeResult set_alias(Repo& repo, const std::string& ref, const std::string& alias, bool remove, bool push);

// git push REMOTE refs/tags/T... (the registry's git remote).
void push_tags(Repo& repo, const std::vector<std::string>& tags);
// git fetch REMOTE 'refs/tags/*:refs/tags/*', then refresh the index (for mlo pull).
void fetch_registry_tags(Repo& repo, const std::string& remote = {});

// ---- reading -------------------------------------------------------------

nlohmann::json version_json(const ModelState& m, const VersionInfo& v);
// Markdown model card.
std::string model_card(Repo& repo, const std::string& ref);
// Lineage of NAME@VERSION, a run id or a path: a tree as JSON
// {"kind","id","label","children":[...]}.
nlohmann::json lineage(Repo& repo, const std::string& target);
std::string lineage_text(const nlohmann::json& tree);
// What a tag means for CI (GTO's check-ref): {"tag","event","name","version","stage",...}.
nlohmann::json check_ref(Repo& repo, const std::string& ref);
// "2024-05-01" or "2024-05-01T10:00:00[Z]" or unix seconds -> unix seconds.
std::int64_t parse_date(const std::string& text);
std::string format_time(std::int64_t t);

}  // namespace mlo::registry
