// A thin RAII layer over SQLite and the per-module schema migrations of
// .mlo/index.db. The index is a cache of what git and the store hold: any
// module's tables can be dropped and rebuilt (mlo index rebuild).
#pragma once
#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace mlo {

class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
  Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
  Statement& bind_null(int index);
  // Steps once: true while a row is available.
  bool step();
  // Runs to completion (for INSERT/UPDATE/DELETE) and resets for reuse.
  void run();
  void reset();

  std::int64_t int64(int column) const;
  double real(int column) const;
  std::string text(int column) const;
  bool is_null(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// One module's ordered schema steps. Step i (1-based) moves the module from
// version i-1 to i; steps are append-only once released.
struct Migrations {
  std::string module;
  std::vector<std::string> steps;
};

class Database {
 public:
  // Opens (creating if needed) in WAL mode with a busy timeout, so concurrent
  // mlo processes wait for each other instead of failing.
  explicit Database(const std::filesystem::path& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void exec(std::string_view sql);
  Statement prepare(std::string_view sql) { return Statement(db_, sql); }
  std::int64_t last_insert_id() const;
  sqlite3* handle() const { return db_; }
  const std::filesystem::path& path() const { return path_; }

  // Brings a module's tables up to date. Cheap after the first call.
  void migrate(const Migrations& migrations);
  // The version a module's tables are at (0 = none).
  int schema_version(const std::string& module);

 private:
  std::filesystem::path path_;
  sqlite3* db_ = nullptr;
  std::set<std::string> migrated_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back if not committed (exception).
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace mlo
