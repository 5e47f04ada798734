// Checking data against its contract: one streaming pass over the dataset's
// files (CSV/TSV/JSON Lines, folders of them) in memory bounded by the
// contract, not the rows; every check's failures are counted and the first
// rows that failed are kept as examples (file:line).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "contracts/contract.h"
#include "monitor/table.h"

namespace mlo {
class Repo;
}

namespace mlo::contracts {

struct Example {
  std::string file;
  std::uint64_t line = 0;
  std::string value;  // the offending value (shortened), or what was wrong
};

struct CheckResult {
  std::string check;   // presence, type, nullable, max_missing, range, in, regex, unique, primary_key,
                       // extra_columns, format, rows, rows_change, freshness, drift, expect
  std::string column;  // the column it is about ("" for dataset-wide checks)
  std::string name;    // expect: the rule's name
  std::string where;   // mlo.yaml:LINE:COL of its declaration
  bool passed = true;
  bool approximate = false;     // unique/primary_key over a hash sample (see man mlo-data)
  std::uint64_t failed = 0;     // rows (or columns, for drift) that failed
  std::uint64_t checked = 0;    // rows (or columns) it looked at
  std::string message;          // one line for people
  std::vector<Example> examples;
  nlohmann::json detail = nlohmann::json::object();  // drift scores, row counts ...
};

struct DatasetResult {
  std::string dataset;
  std::string contract;         // mlo.yaml:LINE:COL
  std::string contract_digest;
  std::string version;          // the pointer's sha256 when the dataset is tracked, else ""
  std::vector<std::string> files;
  std::uint64_t rows = 0, bytes = 0;
  std::vector<CheckResult> checks;
  bool passed() const;
  std::size_t failed_checks() const;
};

struct ValidateOptions {
  std::size_t max_examples = 5;
  double now = 0;  // seconds since the epoch for freshness (0: the clock)
  std::uint64_t unique_limit = 1 << 21;  // hash slots per unique/primary-key check before sampling
};

// The files behind a contract's dataset: a tracked path (its pointer's
// content, from the cache), a file, or a folder (its tabular files, sorted).
// Throws InputError when the dataset is missing.
std::vector<monitor::Source> dataset_sources(Repo* repo, const std::string& dataset);
// The tracked version of a dataset (its pointer's sha256), "" when untracked.
std::string dataset_version(Repo* repo, const std::string& dataset);

// Validates the sources against the contract. Data problems are failed
// checks; a contract that names a column the data lacks and does not declare
// under columns:, or a drift reference that cannot be read, throws InputError
// naming mlo.yaml:LINE:COL.
DatasetResult validate(Repo* repo, const Contract& contract, const std::vector<monitor::Source>& sources,
                       const ValidateOptions& options = {});

// The JSON shape of schemas/data-validate.schema.json ("version": 1).
nlohmann::json to_json(const std::vector<DatasetResult>& results);
// A GitHub-flavoured Markdown table of the results (for $GITHUB_STEP_SUMMARY and PR comments).
std::string to_markdown(const std::vector<DatasetResult>& results);
// GitHub Actions `::error file=...,line=...::` lines, one per failed check (its first example's place).
std::string to_annotations(const std::vector<DatasetResult>& results);
// Plain text for a terminal: one line per check, examples under failures.
std::string to_text(const std::vector<DatasetResult>& results, bool verbose);

}  // namespace mlo::contracts
