#include "app/index_rebuild.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "contracts/results.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/interrupt.h"
#include "deploy/deploy.h"
#include "index/database.h"
#include "monitor/monitor.h"
#include "pipeline/runs.h"
#include "registry/gc_refs.h"
#include "repo/lock.h"
#include "repo/repo.h"

namespace mlo::app {

namespace {

// data: the stat cache (path, inode, mtime, size -> hash) is only a speed-up;
// it starts empty and `mlo data add/status` refill it as they hash files
// (its table is created on first use).
void rebuild_data(Repo&, Database&) {}

// Modules whose rebuild writes through repo.index(): rebuild_index() points
// that handle at the new database while the steps run.
void rebuild_runs(Repo& repo, Database&) { rebuild_runs_index(repo); }
void rebuild_monitor(Repo& repo, Database&) { rebuild_monitor_index(repo); }
void rebuild_contracts(Repo& repo, Database&) { contracts::rebuild_contracts_index(repo); }
void rebuild_deploy(Repo& repo, Database&) { deploy::rebuild_deploy_index(repo); }

}  // namespace

const std::vector<IndexRebuildStep>& index_rebuild_steps() {
  static const std::vector<IndexRebuildStep> steps = {
      {"data", "stat cache: starts empty, refilled as files are hashed", rebuild_data},
      {"pipeline", "runs from the run records in the cache (CACHE/runs/)", rebuild_runs},
      {"monitor", "monitor results from the result objects in the cache", rebuild_monitor},
      {"contracts", "data contract results from the result objects in the cache", rebuild_contracts},
      {"deploy", "deployment events from the tracked deploy/*/events.jsonl", rebuild_deploy},
      {"registry", "model versions, stages, aliases and approvals from the git tags", registry::rebuild_registry_step},
  };
  return steps;
}

namespace {

struct SqliteHandle {
  sqlite3* db = nullptr;
  ~SqliteHandle() { sqlite3_close(db); }
};

// Runs a query on a read-only handle; false (and `problem`) on failure.
bool query(sqlite3* db, const std::string& sql, const std::function<void(sqlite3_stmt*)>& row, std::string& problem) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    problem = sqlite3_errmsg(db);
    sqlite3_finalize(st);
    return false;
  }
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) row(st);
  if (rc != SQLITE_DONE) problem = sqlite3_errmsg(db);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE;
}

std::string column_text(sqlite3_stmt* st, int i) {
  auto p = sqlite3_column_text(st, i);
  return p ? reinterpret_cast<const char*>(p) : "";
}

// Opens read-only and runs quick_check; fills `status` when given.
std::string inspect(const std::string& path, IndexStatus* status) {
  SqliteHandle h;
  if (sqlite3_open_v2(path.c_str(), &h.db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
    return h.db ? sqlite3_errmsg(h.db) : "cannot open";
  sqlite3_busy_timeout(h.db, 30000);
  std::string problem;
  std::string verdict;
  if (!query(h.db, "PRAGMA quick_check", [&](sqlite3_stmt* st) { if (verdict.empty()) verdict = column_text(st, 0); },
             problem))
    return problem;
  if (verdict != "ok") return "integrity check failed: " + verdict;
  if (!status) return "";
  query(h.db, "SELECT module, version FROM mlo_schema ORDER BY module",
        [&](sqlite3_stmt* st) { status->modules.emplace_back(column_text(st, 0), sqlite3_column_int(st, 1)); }, problem);
  std::vector<std::string> names;
  query(h.db, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        [&](sqlite3_stmt* st) { names.push_back(column_text(st, 0)); }, problem);
  for (const auto& n : names) {
    IndexTable t{n, 0};
    std::string quoted = "\"";
    for (char c : n) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    quoted += "\"";
    query(h.db, "SELECT count(*) FROM " + quoted, [&](sqlite3_stmt* st) { t.rows = sqlite3_column_int64(st, 0); },
          problem);
    status->tables.push_back(t);
  }
  return "";
}

std::uint64_t size_of(const fs::path& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

}  // namespace

std::string check_index_file(const std::string& path) { return inspect(path, nullptr); }

IndexStatus index_status(Repo& repo) {
  IndexStatus s;
  fs::path p = repo.index_path();
  s.path = p.string();
  struct stat st;
  s.exists = ::stat(p.c_str(), &st) == 0;
  if (!s.exists) {
    s.problem = "missing (it is created on first use; 'mlo index rebuild' creates it now)";
    return s;
  }
  s.bytes = size_of(p) + size_of(p.string() + "-wal");
  s.problem = inspect(p.string(), &s);
  s.healthy = s.problem.empty();
  return s;
}

IndexRebuildResult rebuild_index(Repo& repo) {
  IndexRebuildResult result;
  RepoLock lock(repo.tmp_dir(), "data", repo.lock_timeout_ms());
  fs::path dest = repo.index_path();
  result.path = dest.string();
  struct stat st;
  if (::stat(dest.c_str(), &st) != 0) {
    result.previous = "missing";
  } else {
    std::string problem = check_index_file(dest.string());
    result.previous = problem.empty() ? "ok" : "unreadable: " + problem;
  }

  // Build beside it (in .mlo/tmp, ignored by git, same file system).
  fs::create_directories(repo.tmp_dir());
  fs::path temp = unique_temp_name(repo.tmp_dir(), "index.db.rebuild");
  struct Cleanup {
    fs::path path;
    ~Cleanup() {
      if (path.empty()) return;
      for (const char* suffix : {"", "-wal", "-shm", "-journal"}) ::unlink((path.string() + suffix).c_str());
    }
  } cleanup{temp};
  {
    // While the steps run, repo.index() is the new database; the old handle
    // (if one was open) comes back afterwards, even on error.
    struct IndexSwap {
      Repo& repo;
      std::unique_ptr<Database> saved;
      ~IndexSwap() { repo.swap_index(std::move(saved)); }
    } swap{repo, repo.swap_index(std::make_unique<Database>(temp))};
    Database& db = repo.index();
    for (const auto& step : index_rebuild_steps()) {
      check_interrupted();
      step.rebuild(repo, db);
      result.modules.push_back(step.module);
    }
    // A self-contained file: no WAL to carry over.
    db.exec("PRAGMA journal_mode=DELETE");
  }
  // The index keeps its WAL files between processes (SQLITE_FCNTL_PERSIST_WAL):
  // the new file's, empty after the switch to DELETE, stay behind otherwise.
  for (const char* suffix : {"-wal", "-shm"}) ::unlink((temp.string() + suffix).c_str());
  check_interrupted();
  fsync_path(temp);
  // The old WAL and shared-memory files belong to the old database; SQLite
  // would replay that WAL into the new file.
  for (const char* suffix : {"-wal", "-shm"}) {
    fs::path side = dest.string() + suffix;
    if (::unlink(side.c_str()) != 0 && errno != ENOENT) throw_errno("cannot remove " + side.string(), errno);
  }
  if (::rename(temp.c_str(), dest.c_str()) != 0) throw_errno("cannot replace " + dest.string(), errno);
  cleanup.path.clear();
  fsync_path(repo.mlo_dir());
  return result;
}

}  // namespace mlo::app
