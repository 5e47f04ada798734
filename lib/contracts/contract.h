// Data contracts: what valid data looks like, declared per dataset under
// `checks:` in mlo.yaml (schemas/mlo-checks.schema.json, man mlo-data).
// This header is the model and its parser; validate.h checks data against it.
#pragma once
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "contracts/expr.h"

namespace mlo::contracts {

enum class ValueType { any, integer, number, string, boolean, timestamp };
std::string to_string(ValueType t);
// Whether a cell is one of the spellings `type: boolean` accepts.
bool is_bool_text(std::string_view t);

// One entry of `columns:`; `where` is "mlo.yaml:LINE:COL" of its name.
struct ColumnRule {
  std::string name, where;
  ValueType type = ValueType::any;
  bool nullable = true;
  std::optional<double> max_missing;  // share of rows, 0..1
  std::optional<double> min, max;     // numbers (timestamps: epoch seconds)
  std::vector<std::string> allowed;   // `in:` (texts)
  std::string regex;                  // the whole value must match (POSIX extended)
  bool unique = false;
};

// `expect:` entry: a row-level condition every row must satisfy.
struct Expectation {
  std::string name, text, where;
  std::size_t text_column = 0;  // column of the expression's first character in mlo.yaml (for errors)
  Expr expr;
};

// `drift:` entry: this data against a reference revision, with monitor's methods.
struct DriftRule {
  std::string reference;  // a monitor input spec: "data/train.csv@v1", a file, a glob
  std::vector<std::string> columns;  // empty: every column both sides share
  std::string method;                 // empty: monitor's default per column
  std::optional<double> threshold;
  std::optional<double> max_drift_share;  // fail when more than this share drifts (default: any column)
  std::string where;
};

struct RowRule {
  std::optional<std::uint64_t> min, max;
  // Relative to the previous version (the pointer at `previous`, default HEAD):
  std::optional<double> max_drop, max_growth;  // shares: 0.1 = 10%
  std::string previous = "HEAD";
  std::string where;
};

struct Freshness {
  std::string column, where;
  double max_age = 0;  // seconds
};

struct Contract {
  std::string dataset;  // repo-relative path (a file or a folder)
  std::string where;    // mlo.yaml:LINE:COL of the dataset's key
  std::vector<ColumnRule> columns;
  bool extra_columns = true;  // false: columns not listed fail
  bool validate_in_pipelines = true;  // `validate: false`: stages reading it do not check it first
  std::vector<std::string> primary_key;
  std::string primary_key_where;
  std::optional<RowRule> rows;
  std::optional<Freshness> freshness;
  std::vector<DriftRule> drift;
  std::vector<Expectation> expect;
  std::string digest;  // sha256 of the contract's canonical text: results name the contract they checked

  const ColumnRule* column(const std::string& name) const;
  std::size_t check_count() const;  // how many checks it declares (for reports)
};

// Parses the `checks:` section of a loaded mlo.yaml (null node: none). Errors
// (unknown keys, wrong kinds, bad regexes and expressions) name FILE:LINE:COL.
std::vector<Contract> parse_contracts(const YAML::Node& checks, const std::string& file);
// Reads ROOT/mlo.yaml's `checks:` (empty when the file or the section is absent).
std::vector<Contract> load_contracts(const std::filesystem::path& root);
// The contract whose dataset is `rel` or a folder above it; nullptr when none.
const Contract* find_contract(const std::vector<Contract>& contracts, const std::string& rel);

}  // namespace mlo::contracts
