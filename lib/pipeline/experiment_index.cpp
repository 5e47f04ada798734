// The per-experiment tables (experiment_index.h): rewritten from the runs of
// each experiment a write touched, read by sorted_experiments, which pages
// through an index in the order list_experiments' sort gives instead of
// grouping every run first.
#include <algorithm>
#include <map>
#include <optional>

#include "core/error.h"
#include "pipeline/experiment_index.h"
#include "pipeline/runs_index.h"

namespace mlo {

using json = nlohmann::json;

namespace {

// Writes one experiment's rows from its runs.
class ExperimentWriter {
 public:
  explicit ExperimentWriter(Database& db)
      : runs_(db.prepare(std::string("SELECT ") + kRunColumns + " FROM runs WHERE " + kExperimentKey +
                         " = ? ORDER BY started_at DESC, id DESC")),
        drop_(db.prepare("DELETE FROM experiments WHERE key = ?")),
        drop_values_(db.prepare("DELETE FROM experiment_values WHERE experiment = ?")),
        put_(db.prepare("INSERT INTO experiments(key, first_started, first_id) VALUES (?, ?, ?)")),
        put_value_(db.prepare("INSERT INTO experiment_values(kind, name, experiment, cat, num, txt, first_started, "
                              "first_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {}

  void write(const std::string& key) {
    drop_.bind(1, key).run();
    drop_values_.bind(1, key).run();
    std::vector<json> rows;
    runs_.reset();
    runs_.bind(1, key);
    while (runs_.step()) rows.push_back(summary_from_row(runs_));
    if (rows.empty()) return;  // none of its runs is left
    Experiment e = group_runs(rows).front();
    // group_runs ranks experiments by their first run: its start, then its id.
    double started = rows.back().value("started_at", 0.0);
    std::string first = rows.back().value("id", "");
    put_.bind(1, key).bind(2, started).bind(3, first).run();
    write_values(0, e.params, key, started, first);
    write_values(1, e.metrics, key, started, first);
  }

 private:
  void write_values(std::int64_t kind, const json& values, const std::string& key, double started,
                    const std::string& first) {
    for (auto it = values.begin(); it != values.end(); ++it) {
      const json& v = it.value();
      put_value_.bind(1, kind).bind(2, it.key()).bind(3, key);
      // As list_experiments' sort compares: numbers by value, before anything else by its JSON text.
      if (v.is_null()) put_value_.bind_null(4).bind_null(5).bind_null(6);
      else if (v.is_number()) put_value_.bind(4, std::int64_t{0}).bind(5, v.get<double>()).bind_null(6);
      else put_value_.bind(4, std::int64_t{1}).bind_null(5).bind(6, v.dump());
      put_value_.bind(7, started).bind(8, first).run();
    }
  }

  Statement runs_, drop_, drop_values_, put_, put_value_;
};

struct SortField {
  std::int64_t kind = 1;  // 0 params, 1 metrics
  std::string name;
};

bool has_field(Database& db, std::int64_t kind, const std::string& name) {
  auto q = db.prepare("SELECT 1 FROM experiment_values WHERE kind = ? AND name = ? LIMIT 1");
  q.bind(1, kind).bind(2, name);
  return q.step();
}

// The field a sort key names, chosen as list_experiments chooses it.
SortField sort_field_of(Database& db, const std::string& key) {
  for (auto [prefix, kind] : {std::pair<std::string, std::int64_t>{"metrics.", 1}, {"params.", 0}})
    if (key.rfind(prefix, 0) == 0 && has_field(db, kind, key.substr(prefix.size())))
      return {kind, key.substr(prefix.size())};
  if (has_field(db, 1, key)) return {1, key};
  if (has_field(db, 0, key)) return {0, key};
  std::set<std::string> names[2];
  auto q = db.prepare("SELECT DISTINCT kind, name FROM experiment_values");
  while (q.step()) names[q.int64(0) == 1].insert(q.text(1));
  unknown_sort_key(key, names[1], names[0]);
}

// Keys of the experiments that have the value, in the sort's order (ties
// newest first, as the stable sort over newest-first experiments leaves them).
std::vector<std::string> valued_keys(Database& db, const SortField& f, bool ascending, long limit, long offset) {
  std::string order = ascending ? "cat, num, txt" : "cat DESC, num DESC, txt DESC";
  auto q = db.prepare("SELECT experiment FROM experiment_values WHERE kind = ? AND name = ? AND cat IS NOT NULL "
                      "ORDER BY " + order + ", first_started DESC, first_id DESC LIMIT ? OFFSET ?");
  q.bind(1, f.kind).bind(2, f.name).bind(3, static_cast<std::int64_t>(limit)).bind(4, static_cast<std::int64_t>(offset));
  std::vector<std::string> keys;
  while (q.step()) keys.push_back(q.text(0));
  return keys;
}

long valued_count(Database& db, const SortField& f) {
  auto q = db.prepare("SELECT count(*) FROM experiment_values WHERE kind = ? AND name = ? AND cat IS NOT NULL");
  q.bind(1, f.kind).bind(2, f.name);
  return q.step() ? static_cast<long>(q.int64(0)) : 0;
}

// The experiments without the value (or with null), newest first: they come last.
std::vector<std::string> unvalued_keys(Database& db, const SortField& f, long limit, long offset) {
  auto q = db.prepare(
      "SELECT key FROM experiments e WHERE NOT EXISTS (SELECT 1 FROM experiment_values v WHERE v.experiment = e.key "
      "AND v.kind = ? AND v.name = ? AND v.cat IS NOT NULL) ORDER BY first_started DESC, first_id DESC LIMIT ? OFFSET ?");
  q.bind(1, f.kind).bind(2, f.name).bind(3, static_cast<std::int64_t>(limit)).bind(4, static_cast<std::int64_t>(offset));
  std::vector<std::string> keys;
  while (q.step()) keys.push_back(q.text(0));
  return keys;
}

}  // namespace

void index_experiments(Database& db, const std::set<std::string>& keys) {
  if (keys.empty()) return;
  ExperimentWriter writer(db);
  for (const auto& key : keys) writer.write(key);
}

void fill_pending_experiments(Database& db) {
  if (!db.prepare("SELECT 1 FROM runs_backfill WHERE task = 'experiments'").step()) return;
  std::optional<Transaction> tx;
  if (sqlite3_get_autocommit(db.handle())) tx.emplace(db);
  std::set<std::string> keys;
  auto q = db.prepare(std::string("SELECT DISTINCT ") + kExperimentKey + " FROM runs");
  while (q.step()) keys.insert(q.text(0));
  index_experiments(db, keys);
  db.exec("DELETE FROM runs_backfill WHERE task = 'experiments'");
  if (tx) tx->commit();
}

std::vector<Experiment> sorted_experiments(Repo& repo, const ExperimentQuery& query, long offset) {
  if (query.sort.empty() || query.limit < 0 || offset < 0)
    throw UsageError("sorted_experiments needs a sort key, a limit and an offset of 0 or more");
  Database& db = runs_db(repo);
  if (!db.prepare("SELECT 1 FROM experiments LIMIT 1").step()) return {};  // no runs: nothing to sort
  SortField f = sort_field_of(db, query.sort);
  long limit = query.limit > 0 ? query.limit : -1;  // SQLite: -1 is no limit
  std::vector<std::string> keys = valued_keys(db, f, query.ascending, limit, offset);
  if (limit < 0 || static_cast<long>(keys.size()) < limit) {
    long rest_offset = keys.empty() && offset > 0 ? std::max(0L, offset - valued_count(db, f)) : 0;
    auto rest = unvalued_keys(db, f, limit < 0 ? -1 : limit - static_cast<long>(keys.size()), rest_offset);
    keys.insert(keys.end(), rest.begin(), rest.end());
  }
  std::map<std::string, Experiment> by_key;
  for (auto& e : experiments_of(db, keys)) by_key.emplace(e.id, std::move(e));
  std::vector<Experiment> out;
  for (const auto& k : keys)
    if (auto it = by_key.find(k); it != by_key.end()) out.push_back(std::move(it->second));
  return out;
}

}  // namespace mlo
