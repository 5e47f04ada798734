// Internal to lib/pipeline (and lineage): the SQLite run index's tables.
//   runs        one row per run (summary columns, params and metrics JSON)
//   run_values  (kind 0 params / 1 metrics, name, value, run): one row per
//               non-null param or metric, sorted by value for --sort/--where
//   run_edges   (sha, dir 0 read / 1 wrote, run, path): lineage by hash
#pragma once
#include <nlohmann/json.hpp>

#include "index/database.h"

namespace mlo {

class Repo;

// The index with the runs tables migrated (and pending edges filled).
Database& runs_db(Repo& repo);
// The columns summary_from_row reads, in its order (columns 0..14).
extern const char* const kRunColumns;
// A summary (list_runs' row shape) from a row that selected kRunColumns first.
nlohmann::json summary_from_row(Statement& q);

}  // namespace mlo
