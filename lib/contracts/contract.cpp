#include "contracts/contract.h"

#include <regex.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "monitor/profile.h"
#include "pipeline/pipeline.h"
#include "repo/config.h"
#include "repo/yaml_schema.h"

namespace fs = std::filesystem;

namespace mlo::contracts {

std::string to_string(ValueType t) {
  switch (t) {
    case ValueType::integer: return "integer";
    case ValueType::number: return "number";
    case ValueType::string: return "string";
    case ValueType::boolean: return "boolean";
    case ValueType::timestamp: return "timestamp";
    default: return "any";
  }
}

bool is_bool_text(std::string_view t) {
  static const char* words[] = {"true", "false", "True", "False", "TRUE", "FALSE", "1", "0", "yes", "no"};
  return std::any_of(std::begin(words), std::end(words), [&](const char* w) { return t == w; });
}

const ColumnRule* Contract::column(const std::string& name) const {
  for (const auto& c : columns)
    if (c.name == name) return &c;
  return nullptr;
}

std::size_t Contract::check_count() const {
  std::size_t n = columns.size();  // presence (and type)
  for (const auto& c : columns)
    n += !c.nullable + c.max_missing.has_value() + (c.min || c.max) + !c.allowed.empty() + !c.regex.empty() + c.unique;
  return n + !extra_columns + !primary_key.empty() + rows.has_value() + freshness.has_value() + drift.size() +
         expect.size();
}

namespace {

std::string mark(const std::string& file, const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  if (m.line < 0) return file;
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

[[noreturn]] void bad(const std::string& where, const std::string& what, const std::string& hint) {
  throw InputError(where + ": " + what, hint);
}

std::string scalar(const std::string& file, const YAML::Node& n, const std::string& what) {
  if (!n.IsScalar()) bad(mark(file, n), what + " must be a single value", "see man mlo-data, CHECKS");
  return n.Scalar();
}

double number(const std::string& file, const YAML::Node& n, const std::string& what) {
  double v = 0;
  if (!n.IsScalar() || !monitor::parse_number(n.Scalar(), v) || !std::isfinite(v))
    bad(mark(file, n), what + " must be a number, not '" + (n.IsScalar() ? n.Scalar() : "a list or mapping") + "'",
        "write a number such as 0, 1.5 or 1e6");
  return v;
}

double share(const std::string& file, const YAML::Node& n, const std::string& what) {
  double v = number(file, n, what);
  if (v < 0 || v > 1e9) bad(mark(file, n), what + " must be a share >= 0 (0.1 = 10%)", "write e.g. 0.05");
  return v;
}

bool flag(const std::string& file, const YAML::Node& n, const std::string& what) {
  bool b = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, b)) bad(mark(file, n), what + " must be true or false", "");
  return b;
}

std::vector<std::string> names(const std::string& file, const YAML::Node& n, const std::string& what) {
  std::vector<std::string> out;
  if (n.IsScalar()) return {n.Scalar()};
  if (!n.IsSequence()) bad(mark(file, n), what + " must be a list of column names", "write e.g. [id, date]");
  for (const auto& e : n) out.push_back(scalar(file, e, what));
  return out;
}

// A bound on a column: a number, or for timestamps a date/time text.
double bound(const std::string& file, const YAML::Node& n, ValueType type, const std::string& what) {
  if (type == ValueType::timestamp && n.IsScalar()) {
    double v = 0;
    if (monitor::parse_number(n.Scalar(), v)) return v;
    if (auto t = monitor::parse_timestamp(n.Scalar())) return *t;
    bad(mark(file, n), what + " '" + n.Scalar() + "' is not a timestamp", "write e.g. 2024-01-31 or epoch seconds");
  }
  return number(file, n, what);
}

ValueType value_type(const std::string& file, const YAML::Node& n) {
  static const std::pair<const char*, ValueType> types[] = {
      {"integer", ValueType::integer}, {"int", ValueType::integer},    {"number", ValueType::number},
      {"float", ValueType::number},    {"string", ValueType::string},  {"str", ValueType::string},
      {"boolean", ValueType::boolean}, {"bool", ValueType::boolean},   {"timestamp", ValueType::timestamp},
      {"datetime", ValueType::timestamp}, {"date", ValueType::timestamp}, {"any", ValueType::any}};
  std::string t = scalar(file, n, "type");
  for (const auto& [name, v] : types)
    if (t == name) return v;
  bad(mark(file, n), "unknown column type '" + t + "'", "types: integer, number, string, boolean, timestamp, any");
}

void check_regex(const std::string& file, const YAML::Node& n, const std::string& pattern) {
  regex_t re;
  int rc = regcomp(&re, ("^(" + pattern + ")$").c_str(), REG_EXTENDED | REG_NOSUB);
  if (rc != 0) {
    char msg[256];
    regerror(rc, &re, msg, sizeof msg);
    bad(mark(file, n), "regex '" + pattern + "' does not compile: " + msg,
        "regexes are POSIX extended (grep -E); the whole value must match");
  }
  regfree(&re);
}

ColumnRule parse_column(const std::string& file, const YAML::Node& key, const YAML::Node& n) {
  ColumnRule c;
  c.name = scalar(file, key, "a column name");
  c.where = mark(file, key);
  if (!n || n.IsNull()) return c;
  if (n.IsScalar()) {  // `age: integer`
    c.type = value_type(file, n);
    return c;
  }
  if (!n.IsMap()) bad(mark(file, n), "column '" + c.name + "' must be a type or a mapping of checks", "");
  if (YAML::Node t = n["type"]) c.type = value_type(file, t);
  for (const auto& kv : n) {
    const std::string k = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    const std::string what = c.name + "." + k;
    if (k == "type") continue;
    if (k == "nullable") c.nullable = flag(file, v, what);
    else if (k == "max_missing") c.max_missing = share(file, v, what);
    else if (k == "min") c.min = bound(file, v, c.type, what);
    else if (k == "max") c.max = bound(file, v, c.type, what);
    else if (k == "unique") c.unique = flag(file, v, what);
    else if (k == "regex") check_regex(file, v, c.regex = scalar(file, v, what));
    else if (k == "in") {
      if (!v.IsSequence()) bad(mark(file, v), what + " must be a list of allowed values", "write e.g. [red, green]");
      for (const auto& e : v) c.allowed.push_back(scalar(file, e, what));
      std::sort(c.allowed.begin(), c.allowed.end());
    } else {
      bad(mark(file, kv.first), "unknown column check '" + k + "'",
          "column checks: type, nullable, max_missing, min, max, in, regex, unique");
    }
  }
  if (c.min && c.max && *c.min > *c.max) bad(mark(file, n), c.name + ": min is above max", "swap them");
  return c;
}

Expectation parse_expect(const std::string& file, const YAML::Node& n) {
  Expectation e;
  YAML::Node rule = n;
  if (n.IsMap()) {
    if (!n["rule"]) bad(mark(file, n), "an expect entry needs 'rule:' (the condition)", "write {name: ..., rule: 'x >= 0'}");
    rule.reset(n["rule"]);  // reset: operator= would write into `n`
    if (n["name"]) e.name = scalar(file, n["name"], "expect name");
  }
  e.text = scalar(file, rule, "an expect rule");
  e.where = mark(file, rule);
  // A quoted scalar starts one column after its mark.
  e.text_column = static_cast<std::size_t>(std::max(0, rule.Mark().column)) + 1 + (rule.Tag() == "!" ? 1 : 0);
  if (e.name.empty()) e.name = e.text;
  ExprError err;
  auto expr = Expr::parse(e.text, err);
  if (!expr) {
    std::string at = rule.Mark().line < 0 ? file
                                          : file + ":" + std::to_string(rule.Mark().line + 1) + ":" +
                                                std::to_string(e.text_column + err.offset);
    std::string shown = e.text.size() > 80 ? e.text.substr(0, 77) + "..." : e.text;
    bad(at, "in '" + shown + "': " + err.message,
        "expressions: comparisons (== != < <= > >=), + - * / %, and/or/not, 'x is null', 'x in [1, 2]' (man mlo-data)");
  }
  e.expr = std::move(*expr);
  return e;
}

DriftRule parse_drift(const std::string& file, const YAML::Node& n) {
  DriftRule d;
  d.where = mark(file, n);
  if (n.IsScalar()) {
    d.reference = n.Scalar();
    return d;
  }
  if (!n.IsMap() || !n["reference"])
    bad(d.where, "a drift entry needs 'reference:' (e.g. data/train.csv@v1)", "see man mlo-data, CHECKS");
  d.reference = scalar(file, n["reference"], "drift reference");
  if (n["columns"]) d.columns = names(file, n["columns"], "drift columns");
  if (n["method"]) d.method = scalar(file, n["method"], "drift method");
  if (n["threshold"]) d.threshold = number(file, n["threshold"], "drift threshold");
  if (n["max_drift_share"]) d.max_drift_share = share(file, n["max_drift_share"], "drift max_drift_share");
  return d;
}

RowRule parse_rows(const std::string& file, const YAML::Node& n) {
  RowRule r;
  r.where = mark(file, n);
  if (!n.IsMap()) bad(r.where, "rows must be a mapping (min, max, max_drop, max_growth, previous)", "");
  auto count = [&](const char* k) -> std::optional<std::uint64_t> {
    if (!n[k]) return std::nullopt;
    double v = number(file, n[k], std::string("rows.") + k);
    if (v < 0 || v > 1e18 || v != std::floor(v)) bad(mark(file, n[k]), std::string("rows.") + k + " must be a whole number >= 0", "");
    return static_cast<std::uint64_t>(v);
  };
  r.min = count("min");
  r.max = count("max");
  if (n["max_drop"]) r.max_drop = share(file, n["max_drop"], "rows.max_drop");
  if (n["max_growth"]) r.max_growth = share(file, n["max_growth"], "rows.max_growth");
  if (n["previous"]) r.previous = scalar(file, n["previous"], "rows.previous");
  return r;
}

Contract parse_contract(const std::string& file, const YAML::Node& key, const YAML::Node& n) {
  Contract c;
  c.dataset = scalar(file, key, "a dataset path");
  c.where = mark(file, key);
  while (c.dataset.size() > 1 && c.dataset.back() == '/') c.dataset.pop_back();
  if (c.dataset.empty() || c.dataset[0] == '/' || c.dataset.find("..") != std::string::npos)
    bad(c.where, "dataset '" + c.dataset + "' must be a path inside the repository", "write e.g. data/train.csv");
  if (!n || n.IsNull()) return c;
  if (!n.IsMap()) bad(mark(file, n), "the checks of " + c.dataset + " must be a mapping", "see man mlo-data, CHECKS");
  for (const auto& kv : n) {
    const std::string k = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    if (k == "columns") {
      if (!v.IsMap()) bad(mark(file, v), "columns must map column names to checks", "write e.g. columns: {age: integer}");
      for (const auto& col : v) c.columns.push_back(parse_column(file, col.first, col.second));
    } else if (k == "validate") {
      c.validate_in_pipelines = flag(file, v, "validate");
    } else if (k == "extra_columns") {
      c.extra_columns = flag(file, v, "extra_columns");
    } else if (k == "primary_key") {
      c.primary_key = names(file, v, "primary_key");
      c.primary_key_where = mark(file, v);
    } else if (k == "rows") {
      c.rows = parse_rows(file, v);
    } else if (k == "freshness") {
      if (!v.IsMap() || !v["column"] || !v["max_age"])
        bad(mark(file, v), "freshness needs column and max_age", "write e.g. {column: ts, max_age: 2d}");
      Freshness f{scalar(file, v["column"], "freshness.column"), mark(file, v), 0};
      auto age = parse_duration(scalar(file, v["max_age"], "freshness.max_age"));
      if (!age) bad(mark(file, v["max_age"]), "freshness.max_age is not a duration", "write e.g. 90m, 36h or 7d");
      f.max_age = *age;
      c.freshness = f;
    } else if (k == "drift") {
      if (v.IsSequence()) for (const auto& d : v) c.drift.push_back(parse_drift(file, d));
      else c.drift.push_back(parse_drift(file, v));
    } else if (k == "expect") {
      if (v.IsSequence()) for (const auto& e : v) c.expect.push_back(parse_expect(file, e));
      else c.expect.push_back(parse_expect(file, v));
    } else {
      bad(mark(file, kv.first), "unknown check '" + k + "' for " + c.dataset,
          "checks: columns, extra_columns, primary_key, rows, freshness, drift, expect, validate (man mlo-data)");
    }
  }
  YAML::Emitter out;
  out << n;
  c.digest = sha256_hex(c.dataset + "\n" + out.c_str());
  return c;
}

}  // namespace

std::vector<Contract> parse_contracts(const YAML::Node& checks, const std::string& file) {
  std::vector<Contract> out;
  if (!checks || checks.IsNull()) return out;
  if (!checks.IsMap()) bad(mark(file, checks), "'checks' must map dataset paths to their checks", "see man mlo-data");
  for (const auto& kv : checks) {
    out.push_back(parse_contract(file, kv.first, kv.second));
    for (std::size_t i = 0; i + 1 < out.size(); ++i)
      if (out[i].dataset == out.back().dataset)
        bad(out.back().where, "checks for " + out.back().dataset + " are declared twice (also at " + out[i].where + ")", "");
  }
  return out;
}

std::vector<Contract> load_contracts(const fs::path& root) {
  auto text = read_file_if_exists(root / "mlo.yaml");
  if (!text) return {};
  YAML::Node doc = load_yaml(*text, "mlo.yaml");
  if (!doc.IsMap()) return {};
  check_mlo_yaml(doc, "mlo.yaml");
  return parse_contracts(doc["checks"], "mlo.yaml");
}

const Contract* find_contract(const std::vector<Contract>& contracts, const std::string& rel) {
  const Contract* best = nullptr;
  for (const auto& c : contracts) {
    bool match = rel == c.dataset || (rel.size() > c.dataset.size() && rel.starts_with(c.dataset) && rel[c.dataset.size()] == '/');
    if (match && (!best || c.dataset.size() > best->dataset.size())) best = &c;
  }
  return best;
}

}  // namespace mlo::contracts
