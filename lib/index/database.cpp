#include "index/database.h"

#include "core/error.h"

namespace mlo {

namespace {
[[noreturn]] void throw_sqlite(sqlite3* db, const std::string& what) {
  std::string msg = what + ": " + (db ? sqlite3_errmsg(db) : "out of memory");
  int code = db ? sqlite3_errcode(db) : SQLITE_NOMEM;
  std::string hint;
  if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
    hint = "the index is only a cache: run 'mlo index rebuild' to recreate it";
  else if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
    hint = "another mlo command is using the index; wait for it and try again";
  else if (code == SQLITE_FULL)
    hint = "free some disk space and try again";
  throw InputError(msg, hint);
}
}  // namespace

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
  if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) != SQLITE_OK)
    throw_sqlite(db, "cannot prepare SQL '" + std::string(sql.substr(0, 60)) + "'");
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement::Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }

Statement& Statement::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}
Statement& Statement::bind(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}
Statement& Statement::bind(int index, std::string_view value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind_null(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw_sqlite(db_, "index query failed");
}

void Statement::run() {
  while (step()) {}
  reset();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t Statement::int64(int column) const { return sqlite3_column_int64(stmt_, column); }
double Statement::real(int column) const { return sqlite3_column_double(stmt_, column); }
std::string Statement::text(int column) const {
  auto p = sqlite3_column_text(stmt_, column);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, column)))
           : std::string();
}
bool Statement::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

Database::Database(const std::filesystem::path& path) : path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = "cannot open the index " + path.string();
    sqlite3* db = db_;
    db_ = nullptr;
    try {
      throw_sqlite(db, msg);
    } catch (...) {
      sqlite3_close(db);
      throw;
    }
  }
  sqlite3_busy_timeout(db_, 30000);
  // Keep the -wal and -shm files between processes (the WAL emptied to zero
  // bytes at close): otherwise every command, even one that only reads,
  // creates both files, sizes the -shm with eight writes and deletes them again.
  int persist = 1;
  sqlite3_file_control(db_, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
  exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA journal_size_limit=0;");
  exec("CREATE TABLE IF NOT EXISTS mlo_schema (module TEXT PRIMARY KEY, version INTEGER NOT NULL)");
}

// close_v2: a statement a caller still holds (a StatCache's cached lookup)
// is finalized later instead of keeping the connection open.
Database::~Database() { sqlite3_close_v2(db_); }

void Database::exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    int code = sqlite3_errcode(db_);
    throw InputError("index error: " + msg,
                     code == SQLITE_CORRUPT || code == SQLITE_NOTADB
                         ? "the index is only a cache: run 'mlo index rebuild' to recreate it"
                         : "");
  }
}

std::int64_t Database::last_insert_id() const { return sqlite3_last_insert_rowid(db_); }

int Database::schema_version(const std::string& module) {
  auto st = prepare("SELECT version FROM mlo_schema WHERE module = ?");
  st.bind(1, module);
  return st.step() ? static_cast<int>(st.int64(0)) : 0;
}

void Database::migrate(const Migrations& migrations) {
  if (migrated_.count(migrations.module)) return;
  int current = schema_version(migrations.module);
  int target = static_cast<int>(migrations.steps.size());
  if (current > target)
    throw InputError("the index was written by a newer mlo (module " + migrations.module + " at schema version " +
                         std::to_string(current) + ")",
                     "upgrade mlo, or run 'mlo index rebuild' to recreate the index");
  if (current < target) {
    Transaction tx(*this);
    // Re-read under the write lock: another process may have migrated meanwhile.
    current = schema_version(migrations.module);
    for (int v = current; v < target; ++v) exec(migrations.steps[static_cast<size_t>(v)]);
    auto st = prepare("INSERT INTO mlo_schema(module, version) VALUES(?, ?) "
                      "ON CONFLICT(module) DO UPDATE SET version = excluded.version");
    st.bind(1, migrations.module).bind(2, static_cast<std::int64_t>(target)).run();
    tx.commit();
  }
  migrated_.insert(migrations.module);
}

Transaction::Transaction(Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }
Transaction::~Transaction() {
  if (!done_) {
    try {
      db_.exec("ROLLBACK");
    } catch (...) {
    }
  }
}
void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace mlo
