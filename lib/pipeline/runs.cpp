#include "pipeline/runs.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <mutex>
#include <random>
#include <regex>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/parse.h"
#include "core/safe_path.h"
#include "data/manifest.h"
#include "data/tree.h"
#include "pipeline/experiment_index.h"
#include "pipeline/run.h"
#include "pipeline/runs_index.h"
#include "repo/git.h"
#include "repo/repo.h"

namespace mlo {

namespace {

const Migrations kRunsSchema{
    "runs",
    {"CREATE TABLE runs(id TEXT PRIMARY KEY, record TEXT NOT NULL, stage TEXT, status TEXT, started_at REAL, "
     "finished_at REAL, exit_code INTEGER, runner TEXT, host TEXT, git_commit TEXT, cache_key TEXT, sweep TEXT, "
     "params TEXT, metrics TEXT);"
     "CREATE INDEX runs_stage ON runs(stage, started_at);"
     "CREATE INDEX runs_key ON runs(cache_key);"
     "CREATE INDEX runs_started ON runs(started_at);",
     // mlo exp show groups by it; rows indexed before are filled by 'mlo index rebuild'.
     "ALTER TABLE runs ADD COLUMN experiment TEXT;",
     // Sorting and filtering on params and metrics read these instead of
     // json_extract on every run (run_query.cpp). One untyped value column
     // holds what json_extract returns (integer, real or text), so
     // comparisons keep SQLite's rules. run_edges: which runs read and wrote
     // each content hash (lineage). Edges come from the records, not from
     // SQL: a row in runs_backfill asks the next opener to fill them.
     "CREATE TABLE run_values(kind INTEGER NOT NULL, name TEXT NOT NULL, value NOT NULL, run TEXT NOT NULL, "
     "PRIMARY KEY(kind, name, value, run)) WITHOUT ROWID;"
     "CREATE INDEX run_values_run ON run_values(run, kind, name);"
     "CREATE TABLE run_edges(sha TEXT NOT NULL, dir INTEGER NOT NULL, run TEXT NOT NULL, path TEXT NOT NULL, "
     "PRIMARY KEY(sha, dir, run, path)) WITHOUT ROWID;"
     "CREATE INDEX run_edges_run ON run_edges(run);"
     "CREATE INDEX runs_started_id ON runs(started_at, id);"
     // mlo ui's experiments pages group by it without a sort (experiments.cpp).
     "CREATE INDEX runs_experiment ON runs(COALESCE(NULLIF(experiment, ''), id), started_at);"
     "INSERT OR IGNORE INTO run_values SELECT 0, j.key, j.value, runs.id FROM runs, json_each(runs.params) AS j "
     "WHERE json_type(runs.params) = 'object' AND j.type != 'null';"
     "INSERT OR IGNORE INTO run_values SELECT 1, j.key, j.value, runs.id FROM runs, json_each(runs.metrics) AS j "
     "WHERE json_type(runs.metrics) = 'object' AND j.type != 'null';"
     "CREATE TABLE runs_backfill(task TEXT PRIMARY KEY);"
     "INSERT INTO runs_backfill VALUES('edges');",
     // mlo ui's experiments sorted by a value page through these (experiment_index.h).
     "CREATE TABLE experiments(key TEXT PRIMARY KEY, first_started REAL NOT NULL, first_id TEXT NOT NULL) WITHOUT ROWID;"
     "CREATE INDEX experiments_newest ON experiments(first_started, first_id);"
     "CREATE TABLE experiment_values(kind INTEGER NOT NULL, name TEXT NOT NULL, experiment TEXT NOT NULL, cat INTEGER, "
     "num REAL, txt TEXT, first_started REAL NOT NULL, first_id TEXT NOT NULL, PRIMARY KEY(experiment, kind, name)) "
     "WITHOUT ROWID;"
     // Ascending sorts read the first forwards, descending ones the second backwards (ties newest first in both).
     "CREATE INDEX experiment_values_up ON experiment_values(kind, name, cat, num, txt, first_started DESC, first_id DESC);"
     "CREATE INDEX experiment_values_down ON experiment_values(kind, name, cat, num, txt, first_started, first_id);"
     "INSERT INTO runs_backfill VALUES('experiments');",
     // A page walks the values one at a time and reads each value's ties in
     // either direction (experiment_index.cpp), so one index serves both
     // sorts: one b-tree fewer to write for every value of every run.
     "DROP INDEX experiment_values_down;"}};

fs::path refs_dir(Repo& repo) { return repo.cache().root() / "runs"; }
fs::path ref_path(Repo& repo, const std::string& id) { return refs_dir(repo) / id.substr(0, 2) / id; }

// A string field of a document someone else wrote (a record, mlo.lock); ""
// when absent or of another type. json::value("k", "") would throw on a
// number or a list there, out of the command as an internal error.
std::string str_field(const nlohmann::json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// An object from the store as JSON (discarded when it is not JSON). Records
// come from teammates: one nested deeper than kMaxJsonDepth is not read, as
// dump() and other readers recurse per level.
nlohmann::json parse_stored_json(const std::string& text) {
  if (!json_depth_within(text)) return nlohmann::json(nlohmann::json::value_t::discarded);
  return nlohmann::json::parse(text, nullptr, false);
}

bool valid_run_id(const std::string& id) {
  return id.size() >= 8 && id.size() <= 64 &&
         id.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyz-_") == std::string::npos;
}

void write_ref(Repo& repo, const std::string& id, const std::string& hash, bool durable) {
  fs::path p = ref_path(repo, id);
  fs::create_directories(p.parent_path());
  write_file_atomic(p, hash + "\n", durable);
}

// An id mlo writes (RUN_ID, or SWEEP_ID-N); another value (a teammate's
// record is untrusted) leaves the run an experiment of its own.
bool valid_experiment_id(const std::string& id) {
  return !id.empty() && id.size() <= 80 && id.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyz-_") == std::string::npos;
}

// The params a run is found by: its own, and those of the sweep point it
// belongs to (a stage downstream of the swept one reads none of them).
nlohmann::json indexed_params(const nlohmann::json& r) {
  nlohmann::json params = r.contains("params") && r["params"].is_object() ? r["params"] : nlohmann::json::object();
  if (r.contains("point") && r["point"].is_object())
    for (auto it = r["point"].begin(); it != r["point"].end(); ++it)
      if (!params.contains(it.key())) params[it.key()] = it.value();
  return params;
}

double started_at(const nlohmann::json& r) {
  return r.contains("started_at") && r["started_at"].is_number() ? r["started_at"].get<double>() : 0.0;
}

const char* kInsert =
    "INSERT OR REPLACE INTO runs(id, record, stage, status, started_at, finished_at, exit_code, runner, host, "
    "git_commit, cache_key, sweep, params, metrics, experiment) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

// The content hashes a record says its run read (deps: path -> sha256) and
// wrote (outs: path -> {sha256}); other shapes are skipped.
std::vector<std::pair<std::string, std::string>> record_edges(const nlohmann::json& r, const char* field) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!r.contains(field) || !r[field].is_object()) return out;
  bool outs = std::string(field) == "outs";
  for (auto it = r[field].begin(); it != r[field].end(); ++it) {
    const auto& v = it.value();
    std::string sha = outs ? (v.is_object() ? str_field(v, "sha256") : "") : (v.is_string() ? v.get<std::string>() : "");
    if (!sha.empty()) out.emplace_back(it.key(), sha);
  }
  return out;
}

// Writes a run's index rows: runs, run_values and run_edges; finish()
// rewrites the experiments the runs belong to (and belonged to).
class RowWriter {
 public:
  explicit RowWriter(Database& db)
      : db_(db),
        old_key_(db.prepare(std::string("SELECT ") + kExperimentKey + " FROM runs WHERE id = ?")),
        put_(db.prepare(kInsert)),
        drop_values_(db.prepare("DELETE FROM run_values WHERE run = ?")),
        drop_edges_(db.prepare("DELETE FROM run_edges WHERE run = ?")),
        put_values_(db.prepare("INSERT OR IGNORE INTO run_values SELECT ?1, key, value, ?2 FROM json_each(?3) "
                               "WHERE json_type(?3) = 'object' AND type != 'null'")),
        put_edge_(db.prepare("INSERT OR IGNORE INTO run_edges(sha, dir, run, path) VALUES (?, ?, ?, ?)")) {}

  void write(const nlohmann::json& r, const std::string& hash) {
    std::string id = str_field(r, "run_id"), experiment = str_field(r, "experiment");
    IndexedRun run{id, started_at(r), indexed_params(r), r.value("metrics", nlohmann::json::object())};
    std::string params = run.params.dump(), metrics = run.metrics.dump();
    old_key_.reset();
    if (old_key_.bind(1, id).step()) touched_.left.insert(old_key_.text(0));
    write_row(r, hash, params, metrics);
    drop_values_.bind(1, id).run();
    put_values_.bind(1, std::int64_t{0}).bind(2, id).bind(3, params).run();
    put_values_.bind(1, std::int64_t{1}).bind(2, id).bind(3, metrics).run();
    write_edges(r, id);
    std::string key = valid_experiment_id(experiment) ? experiment : id;
    touched_.runs[key].push_back(std::move(run));
  }

  void finish() { index_experiments(db_, touched_); }

  void write_edges(const nlohmann::json& r, const std::string& id) {
    drop_edges_.bind(1, id).run();
    for (std::int64_t dir : {0, 1})
      for (const auto& [path, sha] : record_edges(r, dir == 0 ? "deps" : "outs"))
        put_edge_.bind(1, sha).bind(2, dir).bind(3, id).bind(4, path).run();
  }

 private:
  void write_row(const nlohmann::json& r, const std::string& hash, const std::string& params,
                 const std::string& metrics) {
    auto text = [&](const char* k) { return str_field(r, k); };
    auto num = [&](const char* k) { return r.contains(k) && r[k].is_number() ? r[k].get<double>() : 0.0; };
    std::string commit;
    if (r.contains("git") && r["git"].is_object()) commit = str_field(r["git"], "commit");
    put_.bind(1, text("run_id")).bind(2, hash).bind(3, text("stage")).bind(4, text("status"));
    put_.bind(5, started_at(r)).bind(6, num("finished_at"));
    bool has_code = r.contains("exit_code") && r["exit_code"].is_number_integer();  // a float would be cast (UB)
    put_.bind(7, has_code ? r["exit_code"].get<std::int64_t>() : std::int64_t{-1});
    put_.bind(8, text("runner")).bind(9, text("host")).bind(10, commit).bind(11, text("cache_key")).bind(12, text("sweep"));
    put_.bind(13, params).bind(14, metrics);
    put_.bind(15, valid_experiment_id(text("experiment")) ? text("experiment") : std::string());
    put_.run();
  }

  Database& db_;
  Statement old_key_, put_, drop_values_, drop_edges_, put_values_, put_edge_;
  ExperimentChanges touched_;
};

// Lineage edges of the runs indexed before run_edges existed (the schema
// step cannot read records): once, by the first opener after the upgrade.
void fill_pending_edges(Repo& repo, Database& db) {
  if (!db.prepare("SELECT 1 FROM runs_backfill WHERE task = 'edges'").step()) return;
  std::optional<Transaction> tx;
  if (sqlite3_get_autocommit(db.handle())) tx.emplace(db);
  RowWriter writer(db);
  auto rows = db.prepare("SELECT id, record FROM runs");
  while (rows.step()) {
    std::string id = rows.text(0), hash = rows.text(1);
    if (!is_sha256_hex(hash) || !repo.cache().has(hash)) continue;
    auto r = parse_stored_json(repo.cache().read(hash));
    if (r.is_object()) writer.write_edges(r, id);
  }
  db.exec("DELETE FROM runs_backfill WHERE task = 'edges'");
  if (tx) tx->commit();
}

}  // namespace

Database& runs_db(Repo& repo) {
  Database& db = repo.index();
  db.migrate(kRunsSchema);
  fill_pending_edges(repo, db);
  fill_pending_experiments(db);
  return db;
}

nlohmann::json summary_from_row(Statement& q) {
  nlohmann::json j;
  j["id"] = q.text(0);
  j["record"] = q.text(1);
  j["stage"] = q.text(2);
  j["status"] = q.text(3);
  j["started_at"] = q.real(4);
  j["finished_at"] = q.real(5);
  j["duration_s"] = q.real(5) - q.real(4);
  j["exit_code"] = q.int64(6);
  j["runner"] = q.text(7);
  j["host"] = q.text(8);
  j["git_commit"] = q.text(9);
  j["sweep"] = q.text(11);
  j["params"] = nlohmann::json::parse(q.text(12), nullptr, false);
  j["metrics"] = nlohmann::json::parse(q.text(13), nullptr, false);
  j["experiment"] = q.text(14);
  return j;
}

const char* const kRunColumns =
    "id, record, stage, status, started_at, finished_at, exit_code, runner, host, git_commit, cache_key, sweep, params, "
    "metrics, experiment";

namespace {

// A record comes from a teammate's push: every path it names (the keys of
// outs and metric_files) must stay inside the repository, each entry must be
// an object, or the run cache would write where the record says.
void check_record_paths(const nlohmann::json& r) {
  for (const char* field : {"outs", "metric_files"}) {
    if (!r.contains(field)) continue;
    const auto& f = r[field];
    if (!f.is_object()) throw InputError(std::string("its '") + field + "' is not an object");
    for (auto it = f.begin(); it != f.end(); ++it) {
      checked_relative(it.key(), std::string("its ") + field);
      const auto& e = it.value();
      if (!e.is_object()) throw InputError(std::string("its ") + field + " entry '" + it.key() + "' is not an object");
      for (const char* k : {"sha256", "type"})  // what the run cache restores from
        if (e.contains(k) && !e[k].is_string())
          throw InputError(std::string("its ") + field + " entry '" + it.key() + "' has a '" + k + "' that is not a string");
    }
  }
}

void check_record(const nlohmann::json& r) {
  if (!r.is_object() || !r.contains("run_id") || !r["run_id"].is_string() || !valid_run_id(r["run_id"]) ||
      !r.contains("stage") || !r["stage"].is_string())
    throw InputError("not a run record (needs run_id and stage)");
  check_record_paths(r);
}

// The name of a record in messages: its run id when it has a plausible one.
std::string record_name(const nlohmann::json& r, const std::string& hash) {
  std::string name = "run record " + hash.substr(0, 12);
  if (r.is_object() && r.contains("run_id") && r["run_id"].is_string() && valid_run_id(r["run_id"]))
    name += " (run " + r["run_id"].get<std::string>() + ")";
  return name;
}

nlohmann::json read_record(Repo& repo, const std::string& hash, const std::string& what) {
  if (!repo.cache().has(hash))
    throw InputError("the record of run " + what + " (object " + hash.substr(0, 12) + ") is not in the cache",
                     "fetch it with 'mlo pull', or rebuild the index with 'mlo index rebuild'");
  auto doc = parse_stored_json(repo.cache().read(hash));
  if (doc.is_discarded()) throw InputError("object " + hash + " is not a JSON run record", "run 'mlo fsck'");
  return doc;
}

}  // namespace

std::string new_run_id() {
  static std::mt19937_64 rng{std::random_device{}() ^ static_cast<std::uint64_t>(::getpid())};
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  auto now = std::chrono::system_clock::now().time_since_epoch();
  std::uint64_t ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
  // 40 bits of milliseconds (sorts by time for ~35 years), 24 random bits.
  std::uint64_t v = ((ms & 0xFFFFFFFFFFULL) << 24) | (rng() & 0xFFFFFFULL);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string store_run_record(Repo& repo, const nlohmann::json& record, bool sync) {
  check_record(record);
  // One syncfs makes the record and every object it names (outputs, log,
  // added with durable=false) durable before anything points at them.
  std::string hash = repo.cache().add_bytes(record.dump() + "\n", false);
  if (sync) repo.cache().sync();
  write_ref(repo, record["run_id"], hash, false);
  Database& db = runs_db(repo);
  RowWriter writer(db);
  writer.write(record, hash);
  writer.finish();
  return hash;
}

void store_run_records(Repo& repo, const std::vector<nlohmann::json>& records) {
  std::vector<std::string> hashes;
  hashes.reserve(records.size());
  for (const auto& r : records) {
    check_record(r);
    hashes.push_back(repo.cache().add_bytes(r.dump() + "\n", false));
  }
  repo.cache().sync();
  for (size_t i = 0; i < records.size(); ++i) write_ref(repo, records[i]["run_id"], hashes[i], false);
  repo.cache().sync();
  Database& db = runs_db(repo);
  Transaction tx(db);
  RowWriter writer(db);
  for (size_t i = 0; i < records.size(); ++i) writer.write(records[i], hashes[i]);
  writer.finish();
  tx.commit();
}

std::string resolve_run_id(Repo& repo, const std::string& prefix) {
  if (prefix.size() < 4 || prefix.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyz-_") != std::string::npos)
    throw UsageError("bad run id '" + prefix + "'", "give a run id or a unique prefix of at least 4 characters (see 'mlo runs ls')");
  Database& db = runs_db(repo);
  auto q = db.prepare("SELECT id FROM runs WHERE id >= ? AND id < ? ORDER BY id LIMIT 3");
  q.bind(1, prefix).bind(2, prefix + "~");
  std::vector<std::string> ids;
  while (q.step()) ids.push_back(q.text(0));
  if (ids.empty()) {
    if (fs::exists(ref_path(repo, prefix))) {  // known in the store but not indexed yet
      rebuild_runs_index(repo);
      return prefix;
    }
    throw InputError("no run '" + prefix + "'", "list runs with 'mlo runs ls'");
  }
  if (ids.size() > 1)
    throw InputError("run id prefix '" + prefix + "' is ambiguous: " + ids[0] + ", " + ids[1] + (ids.size() > 2 ? ", ..." : ""),
                     "give more characters of the id");
  return ids[0];
}

std::optional<std::string> run_record_hash(Repo& repo, const std::string& run_id) {
  if (!valid_run_id(run_id)) return std::nullopt;
  auto text = read_file_if_exists(ref_path(repo, run_id));
  if (!text) return std::nullopt;
  std::string h = text->substr(0, text->find_first_of("\r\n"));
  if (!is_sha256_hex(h)) return std::nullopt;
  return h;
}

nlohmann::json load_run(Repo& repo, const std::string& id_or_prefix) {
  std::string id = resolve_run_id(repo, id_or_prefix);
  auto hash = run_record_hash(repo, id);
  if (!hash) {
    Database& db = runs_db(repo);
    auto q = db.prepare("SELECT record FROM runs WHERE id = ?");
    q.bind(1, id);
    if (!q.step()) throw InputError("no run '" + id + "'", "list runs with 'mlo runs ls'");
    hash = q.text(0);
  }
  nlohmann::json r = read_record(repo, *hash, id);
  r["record"] = *hash;
  return r;
}

std::optional<nlohmann::json> find_run_by_key(Repo& repo, const std::string& key) {
  Database& db = runs_db(repo);
  auto q = db.prepare("SELECT record FROM runs WHERE cache_key = ? AND status = 'succeeded' ORDER BY started_at DESC LIMIT 1");
  q.bind(1, key);
  if (!q.step()) return std::nullopt;
  std::string hash = q.text(0);
  if (!repo.cache().has(hash)) return std::nullopt;
  nlohmann::json r = read_record(repo, hash, key);
  try {
    check_record(r);
  } catch (const InputError& e) {
    log::warn(record_name(r, hash) + " is refused for the run cache: " + e.what());
    return std::nullopt;
  }
  r["record"] = hash;
  return r;
}

namespace {
void for_each_ref(Repo& repo, const std::function<void(const std::string& id, const std::string& hash)>& visit) {
  fs::path dir = refs_dir(repo);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return;
  for (auto& fan : fs::directory_iterator(dir, ec)) {
    if (!fan.is_directory()) continue;
    for (auto& f : fs::directory_iterator(fan.path(), ec)) {
      std::string id = f.path().filename().string();
      if (!valid_run_id(id)) continue;
      if (auto h = run_record_hash(repo, id)) visit(id, *h);
    }
  }
}
}  // namespace

std::string run_log_hash(const nlohmann::json& r) {
  if (!r.is_object() || !r.contains("log") || !r["log"].is_string()) return {};
  std::string log = r["log"].get<std::string>();
  return is_sha256_hex(log) ? log : std::string();
}

std::vector<std::string> run_record_objects(Repo& repo) {
  std::vector<std::string> out;
  for_each_ref(repo, [&](const std::string&, const std::string& hash) {
    out.push_back(hash);
    if (!repo.cache().has(hash)) return;
    std::string log = run_log_hash(parse_stored_json(repo.cache().read(hash)));
    if (!log.empty()) out.push_back(log);
  });
  return out;
}

std::map<std::string, std::string> run_refs(Repo& repo) {
  std::map<std::string, std::string> out;
  for_each_ref(repo, [&](const std::string& id, const std::string& hash) { out.emplace(id, hash); });
  return out;
}

namespace {
// An output's objects: the object and, for a folder whose manifest is
// cached, the files it lists.
// `broken` (optional) hears of a folder whose manifest is missing or damaged.
using AddFn = std::function<void(const std::string&, const std::string&)>;
using BrokenFn = std::function<void(BrokenKind, const std::string& where, const std::string& hash, const std::string& msg)>;
void add_output(Repo& repo, const nlohmann::json& o, const std::string& where, const AddFn& add,
                const BrokenFn& broken = {}) {
  if (!o.is_object()) return;
  std::string h = str_field(o, "sha256");
  if (!is_sha256_hex(h)) return;
  add(h, where);
  if (str_field(o, "type") != "dir") return;
  if (!repo.cache().has(h)) {
    if (broken) broken(BrokenKind::missing_manifest, where, h, "the manifest of " + where + " is not in the cache");
    return;
  }
  try {
    std::vector<std::string> missing;
    Manifest m = read_manifest(repo.cache(), h, "manifest " + h.substr(0, 12) + " (" + where + ")", &missing);
    for (const auto& e : m.entries) add(e.sha256, where + ":" + e.path);
    for (const auto& t : m.trees) add(t, where);
    if (!missing.empty() && broken)
      broken(BrokenKind::missing_manifest, where, missing.front(),
             "a folder manifest of " + where + " (object " + missing.front() + ") is not in the cache");
  } catch (const Error& e) {
    if (broken) broken(BrokenKind::bad_manifest, where, h, e.what());
  }
}
}  // namespace

std::set<std::string> run_objects(Repo& repo, const nlohmann::json& r) {
  std::set<std::string> out;
  auto add = [&](const std::string& h, const std::string&) { out.insert(h); };
  if (!r.is_object()) return out;
  if (std::string log = run_log_hash(r); !log.empty()) out.insert(log);
  if (str_field(r, "status") != "succeeded") return out;
  for (const char* field : {"outs", "metric_files"})
    if (r.contains(field) && r[field].is_object())
      for (auto it = r[field].begin(); it != r[field].end(); ++it) add_output(repo, it.value(), it.key(), add);
  return out;
}

namespace {
// Calls fn(stage name, stage entry) for each stage of a well-formed lock text;
// a malformed one names nothing (its objects are unknown, not an error here).
template <class Fn>
void for_each_lock_stage(const std::string& text, const std::string& label, Fn fn) {
  nlohmann::json lock;
  try {
    lock = parse_lock(text, label);
  } catch (const Error&) {
    return;
  }
  for (auto it = lock["stages"].begin(); it != lock["stages"].end(); ++it)
    if (it.value().is_object()) fn(it.key(), it.value());
}

// Calls fn(output) for each object in a stage entry's outs and metrics.
template <class Fn>
void for_each_stage_output(const nlohmann::json& stage, Fn fn) {
  for (const char* field : {"outs", "metrics"})
    if (stage.contains(field) && stage[field].is_array())
      for (const auto& o : stage[field])
        if (o.is_object()) fn(o);
}

void lock_refs(Repo& repo, const std::string& text, const std::string& label, const AddFn& add,
               const BrokenFn& broken = {}) {
  for_each_lock_stage(text, label, [&](const std::string& name, const nlohmann::json& e) {
    std::string where = label + " stage " + name;
    if (std::string rec = str_field(e, "record"); is_sha256_hex(rec)) add(rec, where);
    for_each_stage_output(e, [&](const nlohmann::json& o) {
      add_output(repo, o, where + " " + str_field(o, "path"), add, broken);
    });
  });
}
}  // namespace

std::vector<LockOutputObjects> lock_output_objects(Repo& repo, const std::string& text) {
  std::vector<LockOutputObjects> out;
  for_each_lock_stage(text, "mlo.lock", [&](const std::string& name, const nlohmann::json& e) {
    for_each_stage_output(e, [&](const nlohmann::json& o) {
      auto& output = out.emplace_back(LockOutputObjects{str_field(o, "path"), name, {}});
      add_output(repo, o, output.path, [&](const std::string& h, const std::string&) { output.objects.insert(h); });
    });
  });
  return out;
}

std::set<std::string> lock_objects(Repo& repo, const std::string& text) {
  std::set<std::string> out;
  lock_refs(repo, text, "mlo.lock", [&](const std::string& h, const std::string&) { out.insert(h); });
  return out;
}

void add_pipeline_references(Repo& repo, const std::string& rev, References& refs) {
  auto add = [&](const std::string& h, const std::string& where) { refs.add(h, where); };
  std::optional<std::string> text;
  if (rev.empty()) {
    text = read_file_if_exists(repo.root() / "mlo.lock");
    // Run records and their logs are history: kept as long as the run is known.
    for_each_ref(repo, [&](const std::string& id, const std::string& hash) {
      refs.add(hash, "run " + id);
      if (!repo.cache().has(hash)) return;
      std::string log = run_log_hash(parse_stored_json(repo.cache().read(hash)));
      if (!log.empty()) refs.add(log, "run " + id + " log");
    });
  } else {
    try {
      text = repo.git().read_file_at(rev, "mlo.lock");
    } catch (const Error&) {
    }
  }
  // A folder output whose manifest is not here: its files are unknown, so gc
  // must not decide (it refuses unless --skip-broken), as for pointer files.
  auto broken = [&](BrokenKind kind, const std::string& where, const std::string& hash, const std::string& msg) {
    if (refs.seen_manifests.insert(hash).second) refs.broken.push_back({kind, where, hash, msg});
  };
  if (text) lock_refs(repo, *text, rev.empty() ? "mlo.lock" : "mlo.lock at " + rev.substr(0, 12), add, broken);
}

int import_run_records(Repo& repo, const std::vector<std::string>& hashes) {
  std::vector<nlohmann::json> fresh;
  for (const auto& h : hashes) {
    if (!is_sha256_hex(h) || !repo.cache().has(h)) continue;
    auto r = parse_stored_json(repo.cache().read(h));
    if (!r.is_object() || !r.contains("run_id")) continue;  // another kind of object
    try {
      check_record(r);
    } catch (const InputError& e) {
      log::warn(record_name(r, h) + " is refused: " + e.what() + "; it is not imported");
      continue;
    }
    if (run_record_hash(repo, r["run_id"])) continue;
    if (std::any_of(fresh.begin(), fresh.end(), [&](const nlohmann::json& f) { return f["run_id"] == r["run_id"]; })) continue;
    fresh.push_back(std::move(r));
  }
  if (!fresh.empty()) store_run_records(repo, fresh);
  return static_cast<int>(fresh.size());
}

void rebuild_runs_index(Repo& repo) {
  Database& db = runs_db(repo);
  Transaction tx(db);
  db.exec("DELETE FROM runs; DELETE FROM run_values; DELETE FROM run_edges; DELETE FROM runs_backfill; "
          "DELETE FROM experiments; DELETE FROM experiment_values");
  RowWriter writer(db);
  for_each_ref(repo, [&](const std::string& id, const std::string& hash) {
    if (!repo.cache().has(hash)) {
      log::warn("run " + id + ": record object " + hash.substr(0, 12) + " is missing from the cache; skipped");
      return;
    }
    auto r = parse_stored_json(repo.cache().read(hash));
    if (!r.is_object() || str_field(r, "run_id") != id) {
      log::warn("run " + id + ": object " + hash.substr(0, 12) + " is not its run record; skipped");
      return;
    }
    try {
      check_record(r);
    } catch (const InputError& e) {
      log::warn(record_name(r, hash) + " is refused: " + e.what() + "; skipped");
      return;
    }
    writer.write(r, hash);
  });
  writer.finish();
  tx.commit();
}

}  // namespace mlo
