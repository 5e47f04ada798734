// Run records: one immutable JSON object in the store per stage execution
// (schemas/run-record.schema.json), named in the store's well-known folder
// runs/ (CACHE/runs/RUN_ID holds the record's hash) and indexed in SQLite
// (table runs) for queries. Public API for the registry, monitors and remotes.
#pragma once
#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "data/references.h"

namespace mlo {

class Repo;

// A fresh run id: 16 lower-case hex digits (time + randomness).
std::string new_run_id();

// Stores a finished record: the object, the runs/RUN_ID reference and the
// index row. Returns the record's hash. The record must have run_id and stage.
// With sync=false the caller syncs the cache (Cache::sync) before anything
// outside the cache and the index names the record (mlo run: once per command).
std::string store_run_record(Repo& repo, const nlohmann::json& record, bool sync = true);
// Many at once (one transaction, one sync): for imports and benchmarks.
void store_run_records(Repo& repo, const std::vector<nlohmann::json>& records);

// The full id of a run from a unique prefix (at least 4 characters).
// InputError when none or several match.
std::string resolve_run_id(Repo& repo, const std::string& id_or_prefix);
// The record of a run by id or prefix.
nlohmann::json load_run(Repo& repo, const std::string& id_or_prefix);
// The record object's hash of a run id (nullopt if unknown here).
std::optional<std::string> run_record_hash(Repo& repo, const std::string& run_id);

struct RunQuery {
  std::string stage;                // empty: all
  std::vector<std::string> where;   // "metrics.acc>0.9", "params.train.lr=0.1", "status=failed", ANDed
  std::string sort;                 // "metrics.acc", "started_at", ... ; ":desc"/":asc" suffix; default newest first
  long limit = 0;                   // 0: no limit
  long offset = 0;                  // with limit: skip this many rows first (pages of a table)
  bool count_more = false;          // return one row past `limit` when there are more (to say so)
  // Keyset pages: a cursor from RunPage (the sort key and id of a row);
  // rows after it, or the `limit` rows just before it, in this order.
  std::string after, before;
};
// Index rows (summaries): {id, record, stage, status, started_at, finished_at,
// duration_s, exit_code, runner, host, git_commit, sweep, params{}, metrics{}}.
// Params and metrics are sorted and filtered through the run_values table.
std::vector<nlohmann::json> list_runs(Repo& repo, const RunQuery& query);

// One page of a table (query.limit rows): its rows and the cursors of its
// first and last row, for the links to the pages before and after it.
// `more`: there are rows past the page in the direction read (after it; with
// query.before, before it). UsageError for a malformed cursor.
struct RunPage {
  std::vector<nlohmann::json> rows;
  std::string first, last;
  bool more = false;
};
RunPage list_run_page(Repo& repo, const RunQuery& query);
// Ids of the runs that read (dir 0), wrote (dir 1) or either (dir -1) a
// content hash, newest first, from the index's run_edges; with `succeeded`
// only succeeded runs (of `stage` when it is not empty).
std::vector<std::string> runs_with_hash(Repo& repo, const std::string& sha256, int dir, bool succeeded = false,
                                        const std::string& stage = {});
// The latest successful run whose cache key is `key` (for the run cache).
std::optional<nlohmann::json> find_run_by_key(Repo& repo, const std::string& key);

// For push/pull (lib/remote): the store objects that make up the runs known
// here: every record object plus the objects records name (logs).
std::vector<std::string> run_record_objects(Repo& repo);
// After fetching record objects (and their logs) from a remote: writes the
// runs/RUN_ID references and index rows of records not known yet. Hashes of
// objects that are not run records are ignored. Returns how many were new.
int import_run_records(Repo& repo, const std::vector<std::string>& record_hashes);
// The hash of a run record's captured log; "" when it names none.
std::string run_log_hash(const nlohmann::json& record);
// Every run known here: run id -> record object hash (from CACHE/runs/).
std::map<std::string, std::string> run_refs(Repo& repo);
// The objects one record names besides itself: its log and, when the run
// succeeded, its outputs (a folder's manifest and, when that is cached, the
// files it lists) and metrics files. These make the run cache work in
// another clone.
std::set<std::string> run_objects(Repo& repo, const nlohmann::json& record);
// What an mlo.lock text needs: each stage's record, outputs (a folder's
// files when its manifest is cached) and metrics files. Empty for a
// malformed lock.
std::set<std::string> lock_objects(Repo& repo, const std::string& lock_text);
// The same objects less the run records, by output: its object and, for a
// folder whose manifest is cached, the files it lists.
struct LockOutputObjects {
  std::string path, stage;
  std::set<std::string> objects;
};
std::vector<LockOutputObjects> lock_output_objects(Repo& repo, const std::string& lock_text);
// gc/fsck roots (lib/app/gc_roots.cpp): every run record and log (with the
// work tree), and what mlo.lock names at each revision in scope.
void add_pipeline_references(Repo& repo, const std::string& rev, References& refs);

// Refills the runs tables from CACHE/runs/ (mlo index rebuild).
void rebuild_runs_index(Repo& repo);

}  // namespace mlo
