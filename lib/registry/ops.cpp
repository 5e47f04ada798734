// Changing the registry: register, promote (with gates), demote, deprecate,
// approve, aliases, push. Every change is one or more annotated tags created
// without force under the repo's registry lock, so two mlo commands never
// overwrite each other's tags.
#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/process.h"
#include "core/progress.h"
#include "data/manifest.h"
#include "data/tree.h"
#include "data/pointer.h"
#include "registry/data_gate.h"
#include "registry/registry.h"
#include "registry/runs.h"
#include "registry/signature.h"
#include "registry/tag_locks.h"
#include "pipeline/pipeline.h"
#include "repo/config.h"
#include "repo/lock.h"
#include "repo/repo.h"

namespace mlo::registry {

namespace {

// The registry's clock. MLO_TEST_CLOCK_MS pins it (tests only: it makes the
// tagger time and the recorded millisecond time whatever a test needs, e.g. a
// clock that steps back between two commands).
std::int64_t now_ms() {
  if (const char* pinned = std::getenv("MLO_TEST_CLOCK_MS"); pinned && *pinned) return std::atoll(pinned);
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string head_or_fail(Repo& repo) {
  auto head = repo.git().head_commit();
  if (!repo.git().has_commits() || !head)
    throw InputError("the repository has no commits, and registry tags must point at a commit",
                     "commit first, e.g. 'git add -A && git commit -m \"Initial commit\"' (or 'git commit "
                     "--allow-empty -m init'), then run this again");
  return *head;
}

std::unique_ptr<RepoLock> registry_lock(Repo& repo) {
  return std::make_unique<RepoLock>(repo.tmp_dir(), "registry", repo.lock_timeout_ms());
}

struct PendingTag {
  TagName name;
  std::string commit;
  std::string human;
  nlohmann::json meta;
};

bool numbered(TagKind kind) { return kind != TagKind::register_ && kind != TagKind::approval; }

// Creates the tags in order, numbering counters from the model's next counter
// and skipping numbers another writer took meanwhile. Register and approval
// tags have no counter in their names; their metadata records the counter they
// follow ("seq", "seq_n"), so replay orders every event without clocks.
// Returns the tag names.
std::vector<std::string> create_tags(Repo& repo, const ModelState& m, std::vector<PendingTag> pending,
                                     bool clear_stale_locks = false, bool offer_force = false) {
  GitIdentity who = repo.git().tagger_identity();
  std::int64_t counter = m.max_counter() + 1;
  std::int64_t seq_n = m.max_seq_n(counter - 1);
  std::vector<std::string> made;
  for (auto& p : pending) {
    if (p.meta.is_object()) {
      p.meta["time_ms"] = now_ms();
      if (!numbered(p.name.kind)) {
        p.meta["seq"] = counter - 1;
        p.meta["seq_n"] = ++seq_n;
      }
    }
    std::string msg = compose_message(p.human, p.meta);
    for (int attempt = 0;; ++attempt) {
      if (numbered(p.name.kind)) p.name.counter = counter;
      std::string tag = format_tag_name(p.name);
      check_tag_lock(repo, tag, clear_stale_locks, offer_force);
      if (repo.git().create_annotated_tag(tag, p.commit, msg, who)) {
        made.push_back(tag);
        if (numbered(p.name.kind)) {
          ++counter;
          seq_n = 0;
        }
        break;
      }
      if (p.name.kind == TagKind::register_ || attempt > 1000)
        throw InputError("tag " + tag + " exists already", "run 'mlo models history " + m.name + "' to see it");
      if (p.name.kind == TagKind::approval) ++p.name.counter;
      else ++counter;
    }
  }
  refresh_index(repo);
  return made;
}

nlohmann::json read_json_or_yaml(Repo& repo, const std::string& file, const std::string& what) {
  fs::path p = fs::absolute(file);
  auto text = read_file_if_exists(p);
  if (!text) throw InputError(what + " " + file + ": no such file");
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_discarded()) return j;
  (void)repo;
  return read_yaml_json(*text, file);
}

struct Artifact {
  std::string path, sha256, type = "file";
  std::uint64_t size = 0, files = 0;
};

Artifact store_artifact(Repo& repo, const std::string& user_path) {
  Artifact a;
  fs::path abs = fs::absolute(user_path);
  a.path = repo.relative(user_path);
  std::error_code ec;
  auto st = fs::symlink_status(abs, ec);
  if (!ec && fs::is_regular_file(st)) {
    a.size = fs::file_size(abs);
    // Bytes as they are hashed: a model of gigabytes takes a while.
    ProgressPhase phase("store", 1, a.size);
    a.sha256 = repo.cache().add_file(abs, {LinkMode::reflink, LinkMode::copy}, true,
                                     [&phase](std::size_t n) { phase.add(0, n); });
    phase.add(1, 0);
    return a;
  }
  if (!ec && fs::is_directory(st)) {
    Manifest man;
    auto modes = std::vector<LinkMode>{LinkMode::reflink, LinkMode::copy};
    for (auto it = fs::recursive_directory_iterator(abs); it != fs::recursive_directory_iterator(); ++it) {
      if (!it->is_regular_file() || it->is_symlink()) continue;
      ManifestEntry e;
      e.path = fs::relative(it->path(), abs).generic_string();
      e.sha256 = repo.cache().add_file(it->path(), modes, false);
      e.size = it->file_size();
      e.executable = (fs::status(it->path()).permissions() & fs::perms::owner_exec) != fs::perms::none;
      man.entries.push_back(e);
    }
    repo.cache().sync();
    a.type = "dir";
    a.files = man.entries.size();
    a.size = man.total_size();
    // A tree, as `mlo data add` writes: a tracked folder and its
    // registered version share their objects.
    man.sort();
    a.sha256 = build_tree(man, [&](const std::string&, const std::string& bytes) { repo.cache().add_bytes(bytes); });
    return a;
  }
  // Not in the work tree: a tracked pointer still names it in the store.
  fs::path ptr = abs.string() + kPointerSuffix;
  if (auto text = read_file_if_exists(ptr)) {
    Pointer p = parse_pointer(*text, ptr.string());
    a.sha256 = p.sha256;
    a.size = p.size;
    a.files = p.files;
    a.type = p.type == EntryType::dir ? "dir" : "file";
    if (!repo.cache().has(a.sha256))
      throw InputError("artifact " + user_path + " (sha256 " + a.sha256.substr(0, 12) + ") is missing from the store",
                       "fetch it with 'mlo pull " + user_path + "', or rebuild it, then register again");
    return a;
  }
  throw InputError(user_path + ": no such file or directory",
                   "give the path of the model file or folder, or declare it under 'models:' in mlo.yaml");
}


// What is registered and the run that wrote it.
struct Linked {
  Artifact art;
  std::optional<RunInfo> run;
  std::string note;  // why no run is linked, when one was looked for
};

struct StageOut {
  std::string stage, out;  // "STAGE" or "STAGE:OUT"
};
StageOut split_stage_out(const std::string& text) {
  auto c = text.find(':');
  if (c == std::string::npos) return {text, ""};
  return {text.substr(0, c), text.substr(c + 1)};
}

// The run whose recorded output has these bytes: the one mlo.lock names (the
// state committed with the code), else the newest in the run index. Never the
// newest run by time alone: a sweep point may have written other bytes.
std::optional<RunInfo> producer_of(RunLookup& lookup, const std::string& sha256, const std::string& stage) {
  for (const auto& lo : lookup.locked_outputs())
    if (lo.out.sha256 == sha256 && (stage.empty() || lo.stage == stage))
      if (auto r = lookup.find(lo.run_id)) return r;
  return lookup.newest_writer(sha256, stage);
}

const LockedOutput* locked_output(const std::vector<LockedOutput>& locked, const StageOut& so) {
  const LockedOutput* found = nullptr;
  for (const auto& lo : locked)
    if (lo.stage == so.stage && (so.out.empty() || lo.out.path == so.out)) {
      if (found && so.out.empty()) return nullptr;  // several outputs: the caller asks which
      found = &lo;
    }
  return found;
}

// A run's output as the artifact (it is not in the work tree; the store has it).
Artifact output_of(Repo& repo, const RunInfo& run, const std::string& rel) {
  const RunArtifact* out = nullptr;
  for (const auto& x : run.outs)
    if (rel.empty() || x.path == rel) out = &x;
  if (!out) throw InputError("run " + run.id + " did not write " + rel);
  Artifact a{out->path, out->sha256, out->type, out->size, 0};
  if (!repo.cache().has(a.sha256))
    throw InputError("artifact " + a.path + " of run " + run.id + " is missing from the store",
                     "fetch it with 'mlo pull', then register again");
  return a;
}

// --run ID: that run, and its output when PATH is not in the work tree.
Linked link_given_run(Repo& repo, RunLookup& lookup, const RegisterOptions& o, const std::string& path) {
  Linked l;
  l.run = lookup.find(o.run_id);
  if (!l.run) throw InputError("run '" + o.run_id + "' does not exist", "see 'mlo runs ls' for the runs this repository has");
  if (path.empty() && l.run->outs.size() != 1)
    throw InputError("run " + l.run->id + " wrote " + std::to_string(l.run->outs.size()) + " outputs; which is the model?",
                     "give its PATH: mlo register " + o.name + " PATH --run " + l.run->id);
  if (path.empty() || !fs::exists(fs::absolute(path))) l.art = output_of(repo, *l.run, path.empty() ? "" : repo.relative(path));
  else l.art = store_artifact(repo, path);
  return l;
}

// --stage S without the output in the work tree: what mlo.lock records for
// the stage, else (no lock entry) the output of its latest run.
Linked link_stage_record(Repo& repo, RunLookup& lookup, const RegisterOptions& o, const std::string& rel) {
  StageOut so = split_stage_out(o.stage_out);
  if (so.out.empty()) so.out = rel;
  Linked l;
  auto locked = lookup.locked_outputs();
  if (const LockedOutput* lo = locked_output(locked, so)) {
    l.run = lookup.find(lo->run_id);
    if (!l.run)
      throw InputError("run " + lo->run_id + " (stage " + so.stage + " in mlo.lock) is not known in this repository",
                       "run 'mlo pull' to fetch run records and outputs, then register again");
    l.art = output_of(repo, *l.run, lo->out.path);
    return l;
  }
  l.run = lookup.latest_for_output(o.stage_out);
  if (!l.run)
    throw InputError("no run of '" + o.stage_out + "' is recorded", "run the pipeline first ('mlo run'), or give the model's PATH");
  if (so.out.empty() && l.run->outs.size() != 1)
    throw InputError("stage " + so.stage + " wrote " + std::to_string(l.run->outs.size()) + " outputs; which is the model?",
                     "give its PATH, or --stage " + so.stage + ":OUT");
  l.art = output_of(repo, *l.run, so.out);
  return l;
}

// --stage S without PATH: the stage's output as mlo.lock (else its latest run)
// records it; "" when that is not one path.
std::string stage_output_path(RunLookup& lookup, const StageOut& so) {
  if (!so.out.empty()) return so.out;
  auto locked = lookup.locked_outputs();
  if (const LockedOutput* lo = locked_output(locked, so)) return lo->out.path;
  if (auto r = lookup.latest_for_output(so.stage); r && r->outs.size() == 1) return r->outs.front().path;
  return "";
}

// The artifact and the run that wrote it (see producer_of).
Linked link_artifact(Repo& repo, const RegisterOptions& o, const ModelDecl* decl) {
  std::string path = !o.path.empty() ? o.path : decl ? decl->path : "";
  auto lookup = make_run_lookup(repo);
  if (!o.run_id.empty()) return link_given_run(repo, *lookup, o, path);
  StageOut so = split_stage_out(o.stage_out);
  if (path.empty() && !so.stage.empty()) {
    std::string rel = stage_output_path(*lookup, so);
    if (!rel.empty()) path = (repo.root() / rel).string();
  }
  bool in_tree = !path.empty() && (fs::exists(fs::absolute(path)) || fs::exists(fs::absolute(path + kPointerSuffix)));
  if (!so.stage.empty() && !in_tree) return link_stage_record(repo, *lookup, o, path.empty() ? "" : repo.relative(path));
  if (path.empty())
    throw UsageError("what should be registered as '" + o.name + "'?",
                     "give a PATH, --run RUN_ID or --stage STAGE, or declare the model in mlo.yaml:\n"
                     "  models:\n    " + o.name + ":\n      path: models/" + o.name + ".pkl");
  Linked l;
  l.art = store_artifact(repo, path);
  l.run = producer_of(*lookup, l.art.sha256, so.stage);
  if (l.run) return l;
  auto locked = lookup->locked_outputs();
  bool is_output = std::any_of(locked.begin(), locked.end(), [&](const LockedOutput& x) { return x.out.path == l.art.path; });
  if (!so.stage.empty() || is_output)
    l.note = "no recorded run" + (so.stage.empty() ? std::string() : " of stage " + so.stage) + " wrote " + l.art.path +
             " as it is now (sha256 " + l.art.sha256.substr(0, 12) + "): registered without a run";
  return l;
}

// ---- register ----------------------------------------------------------------

// The part of a run's environment a model carries (no env vars, no lock-file hashes of other stages).
nlohmann::json model_environment(const nlohmann::json& e) {
  nlohmann::json out = nlohmann::json::object();
  for (const char* k : {"os", "kernel", "libc", "arch", "gpus", "container"})
    if (e.contains(k)) out[k] = e[k];
  if (e.contains("python") && e["python"].is_object()) {
    const auto& py = e["python"];
    out["python"] = nlohmann::json::object();
    for (const char* k : {"version", "implementation", "packages"})
      if (py.contains(k)) out["python"][k] = py[k];
  }
  return out;
}

// The training data's contract verdicts, kept in the tag so a teammate's
// data_valid gate can use them without the data while the contract is
// unchanged. Undecided ones (data not here) are left out; a broken contract
// does not stop a registration: the gate reports it.
void record_data_verdicts(Repo& repo, nlohmann::json& meta) {
  DataChecker check = data_checker();
  if (!check) return;
  nlohmann::json kept = nlohmann::json::array();
  try {
    for (auto& v : check(repo, meta["data"], nullptr, true))
      if (v["passed"].is_boolean()) {
        v.erase("detail");
        v.erase("source");
        kept.push_back(std::move(v));
      }
  } catch (const Error&) {
    return;
  }
  if (!kept.empty()) meta["data_validation"] = kept;
}

// The register tag's metadata: artifact, description, run (params, metrics, data, environment).
nlohmann::json register_meta(Repo& repo, const RegisterOptions& o, const ModelDecl* decl, const Linked& linked,
                             const std::string& head) {
  const Artifact& art = linked.art;
  const std::optional<RunInfo>& run = linked.run;
  nlohmann::json meta = {{"mlo", 1}, {"event", "register"}, {"name", o.name}};
  nlohmann::json a = {{"path", art.path}, {"sha256", art.sha256}, {"type", art.type}, {"size", art.size}};
  if (art.type == "dir") a["files"] = art.files;
  meta["artifact"] = a;
  std::string type = !o.type.empty() ? o.type : decl ? decl->type : "";
  if (!type.empty()) meta["model_type"] = type;
  std::string desc = !o.description.empty() ? o.description : decl ? decl->description : "";
  if (!desc.empty()) meta["description"] = desc;
  if (decl && !decl->runner.empty()) meta["runner"] = decl->runner;
  if (!o.labels.empty()) meta["labels"] = o.labels;
  if (!o.signature_file.empty()) {
    meta["signature"] = read_json_or_yaml(repo, o.signature_file, "--signature");
  } else {
    auto sig = infer_signature(repo, {art.sha256, art.type, art.size, run ? &*run : nullptr, o.target});
    if (!sig.is_null()) meta["signature"] = sig;
  }
  nlohmann::json metrics = nlohmann::json::object();
  if (run) {
    meta["run"] = run->id;
    if (!run->stage.empty()) meta["run_stage"] = run->stage;
    if (!run->author_email.empty()) {
      meta["run_author"] = run->author_name;
      meta["run_author_email"] = run->author_email;
    }
    if (!run->git_commit.empty()) meta["run_commit"] = run->git_commit;
    meta["params"] = run->params;
    metrics = run->metrics;
    nlohmann::json data = nlohmann::json::array();
    for (const auto& d : run->deps) data.push_back({{"path", d.path}, {"sha256", d.sha256}, {"type", d.type}});
    meta["data"] = data;
    record_data_verdicts(repo, meta);
    // What it was trained on, for deploy's check of the serving python and the card.
    if (run->environment.is_object()) meta["environment"] = model_environment(run->environment);
  }
  if (!o.metrics_file.empty()) {
    auto m = read_json_or_yaml(repo, o.metrics_file, "--metrics");
    if (!m.is_object()) throw InputError("--metrics " + o.metrics_file + ": expected an object of metric: value");
    for (auto& [k, v] : m.items()) metrics[k] = v;
    meta["metrics_file"] = repo.relative(o.metrics_file);
  }
  if (!metrics.empty()) meta["metrics"] = metrics;
  meta["code_commit"] = head;

  return meta;
}

}  // namespace

RegisterResult register_model(Repo& repo, const RegisterOptions& o) {
  check_name(o.name, "model name");
  if (!o.version.empty() && !o.bump.empty()) throw UsageError("give --version or --bump, not both");
  if (!o.version.empty() && !parse_semver(o.version))
    throw InputError("invalid version '" + o.version + "'", "use a semantic version with a leading v, e.g. v1.2.0");
  if (!o.bump.empty() && o.bump != "major" && o.bump != "minor" && o.bump != "patch")
    throw UsageError("--bump: expected major, minor or patch, got '" + o.bump + "'");
  if (!o.run_id.empty() && !o.stage_out.empty()) throw UsageError("give --run or --stage, not both");
  std::string head = head_or_fail(repo);

  auto decls = load_model_decls(repo);
  auto decl_it = decls.find(o.name);
  const ModelDecl* decl = decl_it == decls.end() ? nullptr : &decl_it->second;

  Linked linked = link_artifact(repo, o, decl);
  nlohmann::json meta = register_meta(repo, o, decl, linked, head);

  auto lock = registry_lock(repo);
  refresh_index(repo);
  ModelState m;
  if (auto found = find_model(repo, o.name)) m = std::move(*found);
  else m.name = o.name;
  if (o.if_changed)
    if (const VersionInfo* last = m.latest(); last && last->meta.contains("artifact") &&
                                              last->meta["artifact"].value("sha256", "") == linked.art.sha256) {
      RegisterResult same;
      same.version = last->version;
      same.tag = last->tag;
      same.info = *last;
      same.unchanged = true;
      return same;
    }

  std::string version = o.version;
  if (!version.empty()) {
    if (m.find(version))
      throw InputError("version " + version + " of '" + o.name + "' exists already (tag " + o.name + "@" + version + ")",
                       "choose another with --version, or let mlo pick the next one with --bump");
  } else {
    const VersionInfo* g = m.greatest();
    SemVer base;
    if (g) base = *parse_semver(g->version);
    version = bump(base, o.bump.empty() ? "patch" : o.bump).str();
    while (m.find(version)) version = bump(*parse_semver(version), "patch").str();
  }
  meta["version"] = version;
  PendingTag p{{TagKind::register_, o.name, version, "", 0},
               head,
               "Registering artifact " + o.name + " version " + version,
               meta};
  RegisterResult r;
  r.tag = create_tags(repo, m, {p}).front();
  r.version = version;
  r.run_note = linked.note;
  ModelState after = load_model(repo, o.name);
  if (const VersionInfo* v = after.find(version)) r.info = *v;
  lock.reset();
  if (o.push) {
    push_tags(repo, {r.tag});
    r.pushed = true;
  }
  return r;
}

// ---- promote / demote / deprecate / approve / alias -------------------------

nlohmann::json PromoteResult::to_json() const {
  nlohmann::json g = nlohmann::json::array();
  for (const auto& x : gates) g.push_back(x.to_json());
  nlohmann::json j = {{"name", model}, {"version", version}, {"stage", stage}, {"promoted", promoted},
                      {"forced", forced}, {"already", already}, {"gates", g}, {"tags", tags}, {"pushed", pushed}};
  j["replaced"] = replaced.empty() ? nlohmann::json(nullptr) : nlohmann::json(replaced);
  return j;
}

namespace {
struct Target {
  ModelState model;
  VersionInfo version;
};

Target target_of(Repo& repo, const std::string& ref) {
  ModelRef r = parse_model_ref(ref);
  ResolvedModel rm = resolve_model(repo, r);
  Target t{load_model(repo, rm.name), {}};
  t.version = *t.model.find(rm.version);
  return t;
}

const StageConfig& stage_or_fail(const RegistryConfig& cfg, const std::string& stage) {
  const StageConfig* s = cfg.stage(stage);
  if (!s)
    throw InputError("unknown stage '" + stage + "'",
                     "the stages are: " + cfg.stage_names() + " (configure them under registry.stages in mlo.yaml)");
  return *s;
}

// GTO's messages for assignments and unassignments, with mlo's metadata.
PendingTag stage_tag(TagKind kind, const ModelState& m, const VersionInfo& v, const std::string& stage,
                     nlohmann::json meta) {
  meta["mlo"] = 1;
  meta["name"] = m.name;
  meta["version"] = v.version;
  std::string human = kind == TagKind::assign
                          ? "Assigning stage " + stage + " to artifact " + m.name + " version " + v.version
                          : "Unassigning stage '" + stage + "' to artifact '" + m.name + "' version '" + v.version + "'";
  return {{kind, m.name, "", stage, 0}, v.commit, human, meta};
}
PendingTag unassign_tag(const ModelState& m, const VersionInfo& v, const std::string& stage, nlohmann::json meta) {
  return stage_tag(TagKind::unassign, m, v, stage, std::move(meta));
}
PendingTag assign_tag(const ModelState& m, const VersionInfo& v, const std::string& stage, nlohmann::json meta) {
  return stage_tag(TagKind::assign, m, v, stage, std::move(meta));
}

ChangeResult finish(Repo& repo, std::vector<std::string> tags, bool push) {
  ChangeResult r;
  r.tags = std::move(tags);
  if (push && !r.tags.empty()) {
    push_tags(repo, r.tags);
    r.pushed = true;
  }
  return r;
}
}  // namespace

PromoteResult promote(Repo& repo, const PromoteOptions& o) {
  RegistryConfig cfg = load_registry_config(repo);
  const StageConfig& stage = stage_or_fail(cfg, o.stage);
  auto lock = registry_lock(repo);
  Target t = target_of(repo, o.ref);
  PromoteResult r;
  r.model = t.model.name;
  r.version = t.version.version;
  r.stage = stage.name;
  const VersionInfo* h = t.model.holder(stage.name);
  bool holds = std::find(t.version.stages.begin(), t.version.stages.end(), stage.name) != t.version.stages.end();
  if (holds && (!stage.single || (h && h->version == t.version.version))) {
    r.already = true;
    return r;
  }
  r.gates = evaluate_gates(repo, t.model, t.version, stage);
  bool refused = std::any_of(r.gates.begin(), r.gates.end(), [](const GateResult& g) { return !g.passed; });
  if (refused && !o.force) return r;
  if (o.dry_run) return r;
  r.forced = refused;
  std::vector<PendingTag> pending;
  nlohmann::json gates = nlohmann::json::array();
  for (const auto& g : r.gates) gates.push_back(g.to_json());
  if (stage.single && h && h->version != t.version.version) {
    r.replaced = h->version;
    pending.push_back(unassign_tag(t.model, *h, stage.name,
                                   {{"event", "replaced"}, {"replaced_by", t.version.version}}));
  }
  if (stage.name == "archived")
    for (const auto& s : t.version.stages)
      if (s != "archived") pending.push_back(unassign_tag(t.model, t.version, s, {{"event", "archived"}}));
  nlohmann::json meta = {{"event", "promote"}, {"forced", r.forced}, {"gates", gates}};
  if (!r.replaced.empty()) meta["replaces"] = r.replaced;
  if (!o.message.empty()) meta["reason"] = o.message;
  pending.push_back(assign_tag(t.model, t.version, stage.name, meta));
  r.tags = create_tags(repo, t.model, pending, o.force, /*offer_force=*/true);
  r.promoted = true;
  lock.reset();
  if (o.push) {
    push_tags(repo, r.tags);
    r.pushed = true;
  }
  return r;
}

ChangeResult demote(Repo& repo, const std::string& ref, const std::string& stage, const std::string& message,
                    bool push) {
  auto lock = registry_lock(repo);
  Target t = target_of(repo, ref);
  std::vector<std::string> from;
  if (!stage.empty()) {
    if (std::find(t.version.stages.begin(), t.version.stages.end(), stage) == t.version.stages.end())
      throw InputError(t.model.name + "@" + t.version.version + " is not in stage '" + stage + "'",
                       "see 'mlo models show " + t.model.name + "'");
    from.push_back(stage);
  } else {
    from = t.version.stages;
    if (from.empty()) throw InputError(t.model.name + "@" + t.version.version + " holds no stage");
  }
  std::vector<PendingTag> pending;
  for (const auto& s : from) {
    nlohmann::json meta = {{"event", "demote"}};
    if (!message.empty()) meta["reason"] = message;
    pending.push_back(unassign_tag(t.model, t.version, s, meta));
  }
  auto tags = create_tags(repo, t.model, pending);
  lock.reset();
  return finish(repo, tags, push);
}

ChangeResult deprecate(Repo& repo, const std::string& ref, bool deregister, const std::string& message, bool push) {
  ModelRef r = parse_model_ref(ref);
  auto lock = registry_lock(repo);
  std::vector<PendingTag> pending;
  nlohmann::json meta = {{"mlo", 1}};
  if (!message.empty()) meta["reason"] = message;
  if (r.kind == ModelRef::Kind::name_only) {
    if (deregister) throw UsageError("--deregister needs a version: NAME@VERSION");
    ModelState m = load_model(repo, r.name);
    if (m.deprecated) throw InputError("model '" + m.name + "' is deprecated already");
    meta["event"] = "deprecate";
    meta["name"] = m.name;
    std::string commit = m.events.empty() ? head_or_fail(repo) : m.events.front().commit;
    pending.push_back({{TagKind::deprecate, m.name, "", "", 0}, commit, "Deprecating artifact '" + m.name + "'", meta});
    auto tags = create_tags(repo, m, pending);
    lock.reset();
    return finish(repo, tags, push);
  }
  Target t = target_of(repo, ref);
  if (deregister) {
    meta["event"] = "deregister";
    meta["name"] = t.model.name;
    meta["version"] = t.version.version;
    pending.push_back({{TagKind::deregister, t.model.name, t.version.version, "", 0},
                       t.version.commit,
                       "Deregistering artifact " + t.model.name + " version " + t.version.version,
                       meta});
  } else {
    bool archived = false;
    for (const auto& s : t.version.stages) {
      if (s == "archived") archived = true;
      else pending.push_back(unassign_tag(t.model, t.version, s, {{"event", "archived"}}));
    }
    if (archived && pending.empty()) throw InputError(ref + " is archived already");
    meta["event"] = "deprecate";
    if (!archived) pending.push_back(assign_tag(t.model, t.version, "archived", meta));
  }
  auto tags = create_tags(repo, t.model, pending);
  lock.reset();
  return finish(repo, tags, push);
}

ChangeResult approve(Repo& repo, const std::string& ref, const std::string& stage, const std::string& message,
                     bool push) {
  RegistryConfig cfg = load_registry_config(repo);
  stage_or_fail(cfg, stage);
  auto lock = registry_lock(repo);
  Target t = target_of(repo, ref);
  GitIdentity who = repo.git().tagger_identity();
  std::int64_t n = 1;
  for (const auto& e : t.model.events)
    if (e.kind == TagKind::approval && e.version == t.version.version && e.stage == stage) n = std::max(n, e.counter + 1);
  nlohmann::json meta = {{"mlo", 1}, {"event", "approve"}, {"name", t.model.name}, {"version", t.version.version}};
  meta["stage"] = stage;
  if (!message.empty()) meta["reason"] = message;
  if (who.email == run_author_email(t.version))
    log::warn("you (" + who.email + ") are the author of " + t.model.name + "@" + t.version.version +
              "; your approval is recorded but does not count towards an approvals gate");
  PendingTag p{{TagKind::approval, t.model.name, t.version.version, stage, n},
               t.version.commit,
               "Approving artifact " + t.model.name + " version " + t.version.version + " for stage " + stage,
               meta};
  auto tags = create_tags(repo, t.model, {p});
  lock.reset();
  return finish(repo, tags, push);
}

ChangeResult set_alias(Repo& repo, const std::string& ref, const std::string& alias, bool remove, bool push) {
  check_name(alias, "alias");
  RegistryConfig cfg = load_registry_config(repo);
  if (cfg.stage(alias))
    throw InputError("'" + alias + "' is a stage, not an alias", "use 'mlo promote REF --to " + alias + "' for stages");
  if (alias == "latest" || alias == "greatest" || alias == "deprecated")
    throw InputError("'" + alias + "' is reserved and cannot be an alias");
  auto lock = registry_lock(repo);
  std::vector<PendingTag> pending;
  ModelRef r = parse_model_ref(ref);
  ModelState m = load_model(repo, r.name);
  auto cur = m.aliases.find(alias);
  if (remove) {
    if (cur == m.aliases.end()) throw InputError("model '" + m.name + "' has no alias '" + alias + "'");
    pending.push_back(unassign_tag(m, *m.find(cur->second), alias, {{"event", "alias"}}));
  } else {
    if (r.kind == ModelRef::Kind::name_only)
      throw UsageError("which version should '" + alias + "' name?", "mlo models alias " + m.name + "@VERSION " + alias);
    Target t = target_of(repo, ref);
    if (cur != m.aliases.end() && cur->second == t.version.version)
      return finish(repo, {}, false);
    if (cur != m.aliases.end())
      pending.push_back(unassign_tag(m, *m.find(cur->second), alias, {{"event", "alias"}}));
    pending.push_back(assign_tag(m, t.version, alias, {{"event", "alias"}}));
  }
  auto tags = create_tags(repo, m, pending);
  lock.reset();
  return finish(repo, tags, push);
}

// ---- git remote --------------------------------------------------------------

void push_tags(Repo& repo, const std::vector<std::string>& tags) {
  std::string remote = load_registry_config(repo).git_remote;
  ProcessSpec spec;
  spec.argv = {"git", "push", "--quiet", remote};
  for (const auto& t : tags) spec.argv.push_back("refs/tags/" + t + ":refs/tags/" + t);
  spec.cwd = repo.root();
  ProcessResult r = run_process(spec);
  if (!r.ok())
    throw RemoteError("git push " + remote + " failed: " + r.err,
                      "the tags exist locally; push them later with 'git push " + remote + " --tags'");
}

void fetch_registry_tags(Repo& repo, const std::string& remote_name) {
  std::string remote = remote_name.empty() ? load_registry_config(repo).git_remote : remote_name;
  ProcessSpec spec;
  spec.argv = {"git", "fetch", "--quiet", remote, "refs/tags/*:refs/tags/*"};
  spec.cwd = repo.root();
  ProcessResult r = run_process(spec);
  if (!r.ok()) throw RemoteError("git fetch " + remote + " failed: " + r.err);
  refresh_index(repo);
}

}  // namespace mlo::registry
