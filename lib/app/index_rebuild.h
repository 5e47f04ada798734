// `mlo index rebuild` and `mlo index status`. The index (.mlo/index.db) is a
// cache of what git and the store hold; rebuilding builds a new database
// beside the old one from a list of per-module steps and swaps it in, so an
// interrupted rebuild leaves the old index (or none) and never a half-filled
// one. The old file is never opened: a corrupt or deleted index.db rebuilds
// the same way.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace mlo {
class Database;
class Repo;
}  // namespace mlo

namespace mlo::app {

// One module's part of a rebuild. `rebuild` must create its tables in `db`
// (db.migrate) and fill them from git and the cache; it must write to `db`,
// not to repo.index(), which is the old index being replaced. A module whose
// tables fill lazily may only create them.
struct IndexRebuildStep {
  std::string module;
  std::string description;
  std::function<void(Repo& repo, Database& db)> rebuild;
};

// The steps in order. Each module adds one line in index_rebuild.cpp.
const std::vector<IndexRebuildStep>& index_rebuild_steps();

struct IndexRebuildResult {
  std::string path;
  std::string previous;  // "missing", "ok" or "unreadable: ..." (checked without opening it for writing)
  std::vector<std::string> modules;  // steps run, in order
};

// Holds the "data" lock while it runs (no add/commit/gc meanwhile).
IndexRebuildResult rebuild_index(Repo& repo);

struct IndexTable {
  std::string name;
  std::int64_t rows = 0;
};

struct IndexStatus {
  std::string path;
  bool exists = false;
  std::uint64_t bytes = 0;    // index.db plus its WAL
  bool healthy = false;       // opens and passes PRAGMA quick_check
  std::string problem;        // why not
  std::vector<std::pair<std::string, int>> modules;  // module -> schema version
  std::vector<IndexTable> tables;
};

// Reads the index read-only; never creates or changes it.
IndexStatus index_status(Repo& repo);

// Health of an index file without changing it: "" when it opens read-only
// and passes quick_check, else the problem.
std::string check_index_file(const std::string& path);

}  // namespace mlo::app
