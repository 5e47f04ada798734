// Column profiles: everything the drift, quality and performance checks need
// from one dataset, built in one streaming pass in bounded memory, and
// serialisable so a reference is profiled once and kept in the store.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "monitor/stats.h"
#include "monitor/table.h"

namespace mlo::monitor {

enum class ColumnType { numerical, categorical };
std::string to_string(ColumnType t);

struct ColumnProfile {
  std::string name;
  ColumnType type = ColumnType::numerical;
  std::uint64_t rows = 0;      // records seen
  std::uint64_t missing = 0;   // empty / NA / null ...
  std::uint64_t infinite = 0;  // +-inf (numerical; dropped from tests like Evidently)
  std::uint64_t infinite_negative = 0;  // of those, -inf (the out-of-range check needs the sign)
  std::uint64_t invalid = 0;   // non-numbers in a numerical column
  // numerical
  Sample sample;               // finite values (exact, or sketch buckets when approximate)
  double mean = 0, m2 = 0;     // Welford over finite values (exact even when the sample is a sketch)
  double min = 0, max = 0;
  std::vector<std::pair<double, std::uint64_t>> small;  // distinct finite values while <= 21
  bool small_overflow = false;
  // categorical (also kept for numerical columns with few distinct texts)
  std::vector<std::pair<std::string, std::uint64_t>> categories;  // sorted by value
  bool categories_overflow = false;

  std::uint64_t finite() const { return sample.n; }
  // Non-missing values used by the tests (finite numbers / categories).
  std::uint64_t present() const;
  double variance() const { return sample.n ? m2 / static_cast<double>(sample.n) : 0; }
  // Distinct non-missing values (exact when known; at least 22 when overflowed).
  std::uint64_t distinct() const;
};

struct DatasetProfile {
  std::vector<ColumnProfile> columns;
  std::uint64_t rows = 0;
  std::uint64_t duplicate_rows = 0;
  bool duplicates_approximate = false;
  std::uint64_t malformed_rows = 0;
  std::vector<Malformed> malformed;  // the first 100
  std::uint64_t bytes_read = 0;
  std::vector<std::string> sources;
  // Model quality when target and prediction columns exist (null otherwise):
  // {"task":"classification"|"regression","rows":N, metric: value, ...}
  nlohmann::json performance;

  const ColumnProfile* find(const std::string& name) const;
};

struct ProfileOptions {
  ReadOptions read;
  std::map<std::string, ColumnType> declared;  // column -> type (others inferred)
  std::uint64_t exact_limit = 100000;          // distinct finite values per column counted exactly; beyond, a sketch
  bool duplicates = true;                      // count duplicate rows (a reference's are never reported)
  std::uint64_t duplicate_limit = 1 << 20;     // distinct rows counted exactly; beyond, a hash sample
  // Time window on a timestamp column (seconds since the epoch, inclusive/exclusive).
  std::string timestamp_column;
  std::optional<double> since, until;
  // Roles for the performance metrics (empty: none).
  std::string target, prediction;
  std::string task;  // "classification", "regression" or "" (inferred)
};

// Reads all sources (streaming) into one profile.
DatasetProfile build_profile(const std::vector<Source>& sources, const ProfileOptions& options);

// Converts a column to the other type in place (used when reference and current disagree).
void coerce_column(ColumnProfile& col, ColumnType type);

std::string serialize_profile(const DatasetProfile& p);
DatasetProfile parse_profile(const std::string& bytes, const std::string& where);

// Parses a timestamp cell (epoch seconds, or ISO 8601 date/time, UTC unless an offset is given).
std::optional<double> parse_timestamp(std::string_view text);

}  // namespace mlo::monitor
