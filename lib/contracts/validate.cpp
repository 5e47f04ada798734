#include "contracts/validate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <memory>

#include "contracts/pattern.h"
#include "contracts/unique.h"
#include "core/error.h"
#include "core/fs.h"
#include "data/pointer.h"
#include "monitor/drift.h"
#include "monitor/profile.h"
#include "repo/repo.h"

namespace fs = std::filesystem;

namespace mlo::contracts {

bool DatasetResult::passed() const { return failed_checks() == 0; }

std::size_t DatasetResult::failed_checks() const {
  return static_cast<std::size_t>(std::count_if(checks.begin(), checks.end(), [](const CheckResult& c) { return !c.passed; }));
}

std::vector<monitor::Source> dataset_sources(Repo* repo, const std::string& dataset) {
  fs::path base = repo ? repo->root() : fs::current_path();
  fs::path abs = base / dataset;
  std::vector<std::string> specs;
  if (fs::is_directory(abs) && !fs::exists(abs.string() + kPointerSuffix)) {
    for (const auto& e : fs::recursive_directory_iterator(abs, fs::directory_options::skip_permission_denied))
      if (e.is_regular_file() && monitor::is_tabular_name(e.path().filename().string()))
        specs.push_back(e.path().string());
    std::sort(specs.begin(), specs.end());
    if (specs.empty())
      throw InputError(dataset + ": the folder holds no CSV, TSV or JSON Lines files", "check the dataset's path in mlo.yaml");
  } else if (!fs::exists(abs) && !fs::exists(abs.string() + kPointerSuffix)) {
    throw InputError(dataset + ": no such file, folder or tracked dataset",
                     "create it, 'mlo pull' it, or fix its path under checks: in mlo.yaml");
  } else {
    specs.push_back(abs.string());
  }
  auto sources = monitor::resolve_inputs(specs, repo, std::nullopt);
  for (auto& s : sources)
    if (s.display.starts_with(base.string() + "/")) s.display = s.display.substr(base.string().size() + 1);
  return sources;
}

std::string dataset_version(Repo* repo, const std::string& dataset) {
  if (!repo) return "";
  auto text = read_file_if_exists(repo->root() / pointer_path_for(dataset));
  if (!text) return "";
  return parse_pointer(*text, pointer_path_for(dataset)).sha256;
}

namespace {

// Called for every cell: the common cell has no blanks at either end.
inline std::string_view trim(std::string_view s) {
  if (s.empty() || (s.front() > ' ' && s.back() > ' ')) [[likely]] return s;
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string shorten(std::string_view v) {
  std::string s(v.substr(0, 80));
  if (v.size() > 80) s += "...";
  return s;
}

std::string count_text(std::uint64_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

int digits(std::string_view t, std::size_t at, std::size_t n) {
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (i >= t.size() || t[i] < '0' || t[i] > '9') return -1;
    v = v * 10 + (t[i] - '0');
  }
  return v;
}

// Days since 1970-01-01 of a proleptic Gregorian date (linear in the day, as timegm).
long days_from_civil(long y, unsigned m, unsigned d) {
  y -= m <= 2;
  const long era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<long>(doe) - 719468;
}

// The common ISO 8601 layouts (YYYY-MM-DD, then [T ]HH:MM[:SS[.fff]], then Z
// or +HH:MM) without sscanf; anything else goes to monitor's parser, which
// defines the accepted forms (this gives the same seconds for these).
std::optional<double> timestamp(std::string_view t) {
  int Y = digits(t, 0, 4), M = digits(t, 5, 2), D = digits(t, 8, 2);
  if (Y < 0 || M < 1 || M > 12 || D < 1 || D > 31 || t[4] != '-' || t[7] != '-') return monitor::parse_timestamp(t);
  double secs = static_cast<double>(days_from_civil(Y, static_cast<unsigned>(M), static_cast<unsigned>(D))) * 86400;
  std::size_t pos = 10;
  if (pos < t.size() && (t[pos] == 'T' || t[pos] == ' ')) {
    int h = digits(t, pos + 1, 2), m = digits(t, pos + 4, 2);
    if (h < 0 || m < 0 || pos + 3 >= t.size() || t[pos + 3] != ':') return monitor::parse_timestamp(t);
    secs += h * 3600.0 + m * 60.0;
    pos += 6;
    if (pos < t.size() && t[pos] == ':') {
      int s = digits(t, pos + 1, 2);
      if (s < 0 || (pos + 3 < t.size() && t[pos + 3] == '.')) return monitor::parse_timestamp(t);
      secs += s;
      pos += 3;
    }
    if (pos < t.size() && t[pos] == 'Z') ++pos;
  }
  if (pos != t.size()) return monitor::parse_timestamp(t);
  return secs;
}

// A row position while reading.
struct Where {
  const std::string* file = nullptr;
  std::uint64_t line = 0;
};

void fail(CheckResult& r, const Where& at, std::string_view value, std::size_t max_examples) {
  ++r.failed;
  if (r.examples.size() < max_examples) r.examples.push_back({*at.file, at.line, shorten(value)});
}

// An `in:` list as an open-addressing hash set of its texts: one short hash
// and usually one comparison per cell instead of a binary search of
// string comparisons (the lists are small, the cells many).
class TextSet {
 public:
  explicit TextSet(const std::vector<std::string>& items) : items_(items) {
    std::size_t n = 8;
    while (n < items.size() * 2) n *= 2;
    slots_.assign(n, kEmpty);
    mask_ = n - 1;
    for (std::size_t i = 0; i < items_.size(); ++i) {
      std::size_t at = hash(items_[i]) & mask_;
      while (slots_[at] != kEmpty) at = (at + 1) & mask_;
      slots_[at] = static_cast<std::uint32_t>(i);
    }
  }
  bool contains(std::string_view t) const {
    for (std::size_t at = hash(t) & mask_;; at = (at + 1) & mask_) {
      std::uint32_t i = slots_[at];
      if (i == kEmpty) return false;
      if (items_[i].size() == t.size() && std::memcmp(items_[i].data(), t.data(), t.size()) == 0) return true;
    }
  }

 private:
  static constexpr std::uint32_t kEmpty = ~0U;
  static std::size_t hash(std::string_view t) {  // FNV-1a: the texts are short
    std::uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : t) h = (h ^ c) * 1099511628211ULL;
    return static_cast<std::size_t>(h ^ (h >> 29));
  }
  std::vector<std::string> items_;
  std::vector<std::uint32_t> slots_;
  std::size_t mask_ = 0;
};

// Per column rule: where the column is in the current file and its checks' results.
struct ColumnState {
  const ColumnRule* rule;
  long index = -1;
  CheckResult *presence = nullptr, *type = nullptr, *nullable = nullptr, *max_missing = nullptr, *range = nullptr,
              *in = nullptr, *regex = nullptr, *unique = nullptr;
  std::unique_ptr<Pattern> re;
  std::unique_ptr<TextSet> allowed;
  std::unique_ptr<UniqueSet> seen;
  std::uint64_t hash = 0;  // unique: this row's value hash (taken early, see prefetch_sets)
  std::uint64_t missing = 0;
};

struct ExpectState {
  const Expectation* rule;
  CheckResult* result;
  std::vector<long> index;         // header index per expression column slot
  std::vector<ExprCell> cells;
  bool runnable = true;            // false while a column it reads is absent (reported by presence)
};

class Validator {
 public:
  Validator(Repo* repo, const Contract& c, const ValidateOptions& o) : repo_(repo), c_(c), o_(o) {
    out_.dataset = c.dataset;
    out_.contract = c.where;
    out_.contract_digest = c.digest;
    out_.checks.reserve(c.columns.size() * 8 + c.expect.size() + c.drift.size() + 8);  // add() hands out pointers
    declare_checks();
  }

  DatasetResult run(const std::vector<monitor::Source>& sources) {
    for (const auto& s : sources) read(s);
    finish_columns();
    finish_dataset(sources);
    std::erase_if(out_.checks, [](const CheckResult& r) { return r.check == "format" && r.passed; });
    return std::move(out_);
  }

 private:
  Repo* repo_;
  const Contract& c_;
  const ValidateOptions& o_;
  DatasetResult out_;
  std::vector<ColumnState> cols_;
  std::vector<ExpectState> expects_;
  CheckResult *format_ = nullptr, *extra_ = nullptr, *pk_ = nullptr, *fresh_ = nullptr;
  std::vector<long> pk_index_;
  std::unique_ptr<UniqueSet> pk_seen_;
  std::vector<ColumnState*> unique_cols_;  // present columns with a unique check
  std::optional<std::uint64_t> pk_hash_;   // this row's key hash, unless a key column is absent or null
  long pk_null_ = -1;                      // the first null key column's position in primary_key
  long fresh_index_ = -1;
  std::optional<double> newest_;
  Example newest_at_;
  Where at_;
  std::uint64_t line_ = 0;
  std::string file_;
  // Each cell's number and timestamp parsed once per row, whichever checks read it.
  std::vector<std::uint64_t> num_row_, ts_row_;  // the row each cached value is from, per header column
  std::vector<std::uint8_t> num_ok_, ts_ok_;
  std::vector<double> num_val_, ts_val_;

  bool number_at(long col, std::string_view t, double& v) {
    auto c = static_cast<std::size_t>(col);
    if (num_row_[c] != out_.rows) {
      num_row_[c] = out_.rows;
      num_ok_[c] = monitor::parse_number(t, num_val_[c]);
    }
    v = num_val_[c];
    return num_ok_[c];
  }
  bool timestamp_at(long col, std::string_view t, double& v) {
    auto c = static_cast<std::size_t>(col);
    if (ts_row_[c] != out_.rows) {
      ts_row_[c] = out_.rows;
      auto ts = timestamp(t);
      ts_ok_[c] = ts.has_value();
      ts_val_[c] = ts.value_or(0);
    }
    v = ts_val_[c];
    return ts_ok_[c];
  }

  CheckResult* add(const char* check, const std::string& column, const std::string& where) {
    CheckResult r;
    r.check = check;
    r.column = column;
    r.where = where;
    out_.checks.push_back(std::move(r));
    return &out_.checks.back();
  }

  void declare_checks() {
    format_ = add("format", "", c_.where);
    for (const auto& rule : c_.columns) {
      ColumnState s{&rule};
      s.presence = add("presence", rule.name, rule.where);
      if (rule.type != ValueType::any && rule.type != ValueType::string) s.type = add("type", rule.name, rule.where);
      if (!rule.nullable) s.nullable = add("nullable", rule.name, rule.where);
      if (rule.max_missing) s.max_missing = add("max_missing", rule.name, rule.where);
      if (rule.min || rule.max) s.range = add("range", rule.name, rule.where);
      if (!rule.allowed.empty()) {
        s.in = add("in", rule.name, rule.where);
        s.allowed = std::make_unique<TextSet>(rule.allowed);
      }
      if (!rule.regex.empty()) {
        s.regex = add("regex", rule.name, rule.where);
        s.re = std::make_unique<Pattern>(rule.regex);
      }
      if (rule.unique) {
        s.unique = add("unique", rule.name, rule.where);
        s.seen = std::make_unique<UniqueSet>(o_.unique_limit);
      }
      cols_.push_back(std::move(s));
    }
    if (!c_.extra_columns) extra_ = add("extra_columns", "", c_.where);
    if (!c_.primary_key.empty()) {
      std::string key;
      for (const auto& k : c_.primary_key) key += (key.empty() ? "" : ",") + k;
      pk_ = add("primary_key", key, c_.primary_key_where);
      pk_seen_ = std::make_unique<UniqueSet>(o_.unique_limit);
    }
    if (c_.freshness) fresh_ = add("freshness", c_.freshness->column, c_.freshness->where);
    for (const auto& e : c_.expect) {
      CheckResult* r = add("expect", "", e.where);
      r->name = e.name;
      expects_.push_back({&e, r, {}, std::vector<ExprCell>(e.expr.columns().size())});
    }
  }

  // A column a check reads but the data lacks: a failed presence check when
  // declared under columns:, otherwise the contract is wrong (exit 3).
  long need(const std::map<std::string, long>& at, const std::string& name, const std::string& where) {
    auto it = at.find(name);
    if (it != at.end()) return it->second;
    if (c_.column(name)) return -1;
    std::string have;
    for (const auto& [n, _] : at) have += (have.empty() ? "" : ", ") + n;
    throw InputError(where + ": the checks of " + c_.dataset + " name column '" + name + "', which " + file_ +
                         " does not have (columns: " + have + ")",
                     "fix the name in mlo.yaml, or declare it under columns: to check that it is present");
  }

  std::string expr_where(const ExpectState& e, std::size_t slot) const {
    // mlo.yaml:LINE:COL of the column inside the rule's text
    const std::string& w = e.rule->where;
    auto colon = w.rfind(':');
    if (colon == std::string::npos) return w;
    return w.substr(0, colon + 1) + std::to_string(e.rule->text_column + e.rule->expr.column_offset(slot));
  }

  void on_header(const std::vector<std::string>& names) {
    num_row_.assign(names.size(), ~0ULL);
    ts_row_.assign(names.size(), ~0ULL);
    num_ok_.assign(names.size(), 0);
    ts_ok_.assign(names.size(), 0);
    num_val_.assign(names.size(), 0);
    ts_val_.assign(names.size(), 0);
    std::map<std::string, long> at;
    for (std::size_t i = 0; i < names.size(); ++i) at.emplace(names[i], static_cast<long>(i));
    Where w{&file_, 1};
    unique_cols_.clear();
    for (auto& s : cols_) {
      auto it = at.find(s.rule->name);
      s.index = it == at.end() ? -1 : it->second;
      if (s.seen && s.index >= 0) unique_cols_.push_back(&s);
      ++s.presence->checked;
      if (s.index < 0) fail(*s.presence, w, "column '" + s.rule->name + "' is missing", o_.max_examples);
    }
    if (extra_)
      for (const auto& n : names)
        if (!c_.column(n)) ++extra_->checked, fail(*extra_, w, n, o_.max_examples);
    pk_index_.clear();
    for (const auto& k : c_.primary_key) pk_index_.push_back(need(at, k, c_.primary_key_where));
    if (fresh_) fresh_index_ = need(at, c_.freshness->column, c_.freshness->where);
    for (auto& e : expects_) {
      e.runnable = true;
      e.index.clear();
      for (std::size_t slot = 0; slot < e.rule->expr.columns().size(); ++slot) {
        long i = need(at, e.rule->expr.columns()[slot], expr_where(e, slot));
        e.runnable = e.runnable && i >= 0;
        e.index.push_back(i);
      }
    }
  }

  void check_cell(ColumnState& s, const monitor::Cell& cell) {
    const ColumnRule& r = *s.rule;
    if (cell.missing) {
      ++s.missing;
      if (s.nullable) fail(*s.nullable, at_, "null", o_.max_examples);
      return;
    }
    std::string_view t = trim(cell.text);
    double num = 0;
    bool is_num = false;
    switch (r.type) {
      case ValueType::integer:
        is_num = number_at(s.index, t, num) && std::isfinite(num) && num == std::floor(num);
        if (!is_num) fail(*s.type, at_, t, o_.max_examples);
        break;
      case ValueType::number:
        is_num = number_at(s.index, t, num) && !std::isnan(num);
        if (!is_num) fail(*s.type, at_, t, o_.max_examples);
        break;
      case ValueType::boolean:
        if (!is_bool_text(t)) fail(*s.type, at_, t, o_.max_examples);
        break;
      case ValueType::timestamp:
        is_num = timestamp_at(s.index, t, num);
        if (!is_num) fail(*s.type, at_, t, o_.max_examples);
        break;
      default:
        if (s.range) is_num = number_at(s.index, t, num) && !std::isnan(num);
        break;
    }
    if (s.range) {
      if (!is_num) {
        if (r.type == ValueType::any || r.type == ValueType::string) fail(*s.range, at_, t, o_.max_examples);
      } else if ((r.min && num < *r.min) || (r.max && num > *r.max)) {
        fail(*s.range, at_, t, o_.max_examples);
      }
    }
    if (s.in && !s.allowed->contains(t)) fail(*s.in, at_, t, o_.max_examples);
    if (s.regex && !s.re->matches(t)) fail(*s.regex, at_, t, o_.max_examples);
    if (s.unique && s.seen->seen_before(s.hash)) fail(*s.unique, at_, t, o_.max_examples);
  }

  // The unique and key sets outgrow the caches: this row's slots are
  // fetched first, while the other checks run.
  void prefetch_sets(const std::vector<monitor::Cell>& cells) {
    for (ColumnState* s : unique_cols_) {
      const monitor::Cell& cell = cells[static_cast<std::size_t>(s->index)];
      if (!cell.missing) s->seen->prefetch(s->hash = hash_text(trim(cell.text)));
    }
    if (!pk_) return;
    pk_hash_ = primary_key_hash(cells);
    if (pk_hash_) pk_seen_->prefetch(*pk_hash_);
  }

  // Key columns in order: nullopt at the first absent one (its presence check
  // failed) or null one (pk_null_ says which).
  std::optional<std::uint64_t> primary_key_hash(const std::vector<monitor::Cell>& cells) {
    pk_null_ = -1;
    std::uint64_t h = 0;
    for (std::size_t i = 0; i < pk_index_.size(); ++i) {
      long k = pk_index_[i];
      if (k < 0) return std::nullopt;
      const monitor::Cell& cell = cells[static_cast<std::size_t>(k)];
      if (cell.missing) return pk_null_ = static_cast<long>(i), std::nullopt;
      h = combine_hash(h, hash_text(trim(cell.text)));
    }
    return h;
  }

  void check_primary_key(const std::vector<monitor::Cell>& cells) {
    if (pk_null_ >= 0) {
      fail(*pk_, at_, c_.primary_key[static_cast<std::size_t>(pk_null_)] + " is null", o_.max_examples);
      return;
    }
    if (!pk_hash_ || !pk_seen_->seen_before(*pk_hash_)) return;
    std::string shown;
    for (long k : pk_index_) shown += (shown.empty() ? "" : ",") + std::string(trim(cells[static_cast<std::size_t>(k)].text));
    fail(*pk_, at_, shown, o_.max_examples);
  }

  void check_freshness(const std::vector<monitor::Cell>& cells) {
    if (fresh_index_ < 0) return;
    const monitor::Cell& cell = cells[static_cast<std::size_t>(fresh_index_)];
    if (cell.missing) return;
    double ts = 0;
    if (timestamp_at(fresh_index_, trim(cell.text), ts) && (!newest_ || ts > *newest_)) {
      newest_ = ts;
      newest_at_ = {file_, at_.line, shorten(trim(cell.text))};
    }
  }

  void check_row(const std::vector<monitor::Cell>& cells) {
    ++out_.rows;
    at_.line = line_;
    prefetch_sets(cells);
    for (auto& s : cols_)
      if (s.index >= 0) check_cell(s, cells[static_cast<std::size_t>(s.index)]);
    if (pk_) check_primary_key(cells);
    if (fresh_) check_freshness(cells);
    for (auto& e : expects_) {
      if (!e.runnable) continue;
      for (std::size_t i = 0; i < e.index.size(); ++i) {
        const monitor::Cell& cell = cells[static_cast<std::size_t>(e.index[i])];
        ExprCell& ec = e.cells[i];
        ec.text = trim(cell.text);
        ec.missing = cell.missing;
        if (!ec.missing) ec.number = number_at(e.index[i], ec.text, ec.num) ? 1 : 2;
      }
      ++e.result->checked;
      if (!e.rule->expr.holds(e.cells.data())) fail(*e.result, at_, row_text(e), o_.max_examples);
    }
  }

  // An example of a failed expectation shows the columns it read.
  std::string row_text(const ExpectState& e) const {
    std::string s;
    for (std::size_t i = 0; i < e.cells.size(); ++i)
      s += (i ? ", " : "") + e.rule->expr.columns()[i] + "=" + (e.cells[i].missing ? "null" : std::string(e.cells[i].text));
    return s;
  }

  void read(const monitor::Source& src) {
    file_ = src.display;
    at_ = {&file_, 0};
    out_.files.push_back(src.display);
    monitor::ReadOptions ro;
    ro.header = true;
    monitor::RowVisitor v;
    v.line = &line_;
    v.header = [&](const std::vector<std::string>& names) { on_header(names); };
    v.row = [&](const std::vector<monitor::Cell>& cells, std::string_view) { check_row(cells); };
    v.malformed = [&](const monitor::Malformed& m) {
      ++format_->checked;
      ++format_->failed;
      if (format_->examples.size() < o_.max_examples) format_->examples.push_back({m.file, m.line, m.message});
    };
    out_.bytes += monitor::read_table(src, ro, v);
  }

  void finish_columns() {
    for (auto& s : cols_) {
      for (CheckResult* r : {s.type, s.nullable, s.range, s.in, s.regex, s.unique})
        if (r) r->checked = out_.rows;
      if (s.unique) s.unique->approximate = s.seen->sampled();
      if (s.max_missing) {
        double share = out_.rows ? static_cast<double>(s.missing) / static_cast<double>(out_.rows) : 0;
        s.max_missing->checked = out_.rows;
        s.max_missing->failed = share > *s.rule->max_missing ? s.missing : 0;
        s.max_missing->detail = {{"missing", s.missing}, {"share", share}, {"max_missing", *s.rule->max_missing}};
        s.max_missing->message = std::to_string(s.missing) + " of " + std::to_string(out_.rows) + " missing (share " +
                                 std::to_string(share) + ", at most " + std::to_string(*s.rule->max_missing) + ")";
      }
    }
    if (pk_) pk_->checked = out_.rows, pk_->approximate = pk_seen_->sampled();
    for (auto& r : out_.checks) {
      r.passed = r.failed == 0;
      if (r.message.empty() && r.failed) r.message = describe(r);
    }
  }

  std::string describe(const CheckResult& r) const {
    const ColumnRule* col = c_.column(r.column);
    if (r.check == "presence") return "column '" + r.column + "' is missing from " + count_text(r.failed, "file");
    if (r.check == "type") return count_text(r.failed, "value") + " not of type " + to_string(col->type);
    if (r.check == "nullable") return count_text(r.failed, "null value") + " (nullable: false)";
    if (r.check == "range") return count_text(r.failed, "value") + " out of range";
    if (r.check == "in") return count_text(r.failed, "value") + " outside the allowed set";
    if (r.check == "regex") return count_text(r.failed, "value") + " not matching " + col->regex;
    if (r.check == "unique") return count_text(r.failed, "repeated value") + (r.approximate ? " (at least)" : "");
    if (r.check == "primary_key") return count_text(r.failed, "row") + " with a null or repeated key";
    if (r.check == "extra_columns") return count_text(r.failed, "column") + " not declared (extra_columns: false)";
    if (r.check == "format") return count_text(r.failed, "malformed record");
    if (r.check == "expect") return count_text(r.failed, "row") + " where '" + r.name + "' does not hold";
    return count_text(r.failed, "failure");
  }

  void finish_dataset(const std::vector<monitor::Source>& sources);
  void check_rows();
  void check_freshness_result();
  void check_drift(const std::vector<monitor::Source>& sources);
};

void Validator::finish_dataset(const std::vector<monitor::Source>& sources) {
  if (c_.rows) check_rows();
  if (fresh_) check_freshness_result();
  if (!c_.drift.empty()) check_drift(sources);
}

// Rows of a dataset at a git revision, by reading it (nullopt when it was not tracked there).
std::optional<std::uint64_t> rows_at(Repo* repo, const std::string& dataset, const std::string& rev, std::string& version) {
  if (!repo) return std::nullopt;
  auto text = repo->git().read_file_at(rev, pointer_path_for(dataset));
  if (!text) return std::nullopt;
  version = parse_pointer(*text, pointer_path_for(dataset) + "@" + rev).sha256;
  auto sources = monitor::resolve_inputs({(repo->root() / dataset).string() + "@" + rev}, repo, std::nullopt);
  std::uint64_t rows = 0;
  monitor::ReadOptions ro;
  ro.header = true;
  monitor::RowVisitor v;
  v.header = [](const std::vector<std::string>&) {};
  v.row = [&](const std::vector<monitor::Cell>&, std::string_view) { ++rows; };
  v.malformed = [](const monitor::Malformed&) {};
  for (const auto& s : sources) monitor::read_table(s, ro, v);
  return rows;
}

void Validator::check_rows() {
  const RowRule& r = *c_.rows;
  std::uint64_t n = out_.rows;
  if (r.min || r.max) {
    CheckResult* res = add("rows", "", r.where);
    res->checked = 1;
    res->detail = {{"rows", n}};
    if (r.min) res->detail["min"] = *r.min;
    if (r.max) res->detail["max"] = *r.max;
    res->passed = (!r.min || n >= *r.min) && (!r.max || n <= *r.max);
    res->failed = !res->passed;
    res->message = std::to_string(n) + " rows" +
                   (res->passed ? "" : r.min && n < *r.min ? ", fewer than " + std::to_string(*r.min)
                                                           : ", more than " + std::to_string(*r.max));
  }
  if (!r.max_drop && !r.max_growth) return;
  CheckResult* res = add("rows_change", "", r.where);
  std::string prev_version;
  auto prev = rows_at(repo_, c_.dataset, r.previous, prev_version);
  res->checked = 1;
  res->detail = {{"rows", n}, {"previous", r.previous}};
  if (!prev) {
    res->message = "no version of " + c_.dataset + " at " + r.previous + " to compare with";
    return;
  }
  res->detail["previous_rows"] = *prev;
  res->detail["previous_version"] = prev_version;
  double change = *prev ? (static_cast<double>(n) - static_cast<double>(*prev)) / static_cast<double>(*prev) : 0;
  res->detail["change"] = change;
  bool dropped = r.max_drop && -change > *r.max_drop, grew = r.max_growth && change > *r.max_growth;
  res->passed = !dropped && !grew;
  res->failed = !res->passed;
  char pct[32];
  std::snprintf(pct, sizeof pct, "%+.1f%%", change * 100);
  res->message = std::to_string(n) + " rows, " + std::to_string(*prev) + " at " + r.previous + " (" + pct + ")" +
                 (dropped ? ": dropped more than allowed" : grew ? ": grew more than allowed" : "");
}

void Validator::check_freshness_result() {
  double now = o_.now > 0 ? o_.now : static_cast<double>(std::time(nullptr));
  fresh_->checked = 1;
  if (!newest_) {
    fresh_->passed = false;
    fresh_->failed = 1;
    fresh_->message = "no timestamp in column '" + c_.freshness->column + "'";
    return;
  }
  double age = now - *newest_;
  fresh_->detail = {{"newest", *newest_}, {"age_seconds", age}, {"max_age_seconds", c_.freshness->max_age}};
  fresh_->examples = {newest_at_};
  fresh_->passed = age <= c_.freshness->max_age;
  fresh_->failed = !fresh_->passed;
  fresh_->message = "newest " + c_.freshness->column + " is " + newest_at_.value + " (" +
                    std::to_string(static_cast<long long>(age / 3600)) + " h old" +
                    (fresh_->passed ? ")" : ", older than max_age)");
}

void Validator::check_drift(const std::vector<monitor::Source>& sources) {
  monitor::ProfileOptions po;
  po.read.header = true;
  po.duplicates = false;
  monitor::DatasetProfile cur = monitor::build_profile(sources, po);
  for (const auto& rule : c_.drift) {
    CheckResult* res = add("drift", "", rule.where);
    res->name = rule.reference;
    std::vector<monitor::Source> ref_sources;
    try {
      std::string spec = repo_ && !fs::path(rule.reference).is_absolute() ? (repo_->root() / rule.reference).string()
                                                                          : rule.reference;
      ref_sources = monitor::resolve_inputs({spec}, repo_, std::nullopt);
    } catch (const InputError& e) {
      throw InputError(rule.where + ": drift reference: " + e.what(), e.hint());
    }
    monitor::DatasetProfile ref = monitor::build_profile(ref_sources, po);
    monitor::DriftOptions d;
    if (!rule.method.empty()) d.all.method = rule.method;
    d.all.threshold = rule.threshold;
    std::vector<std::string> columns = rule.columns;
    if (columns.empty())
      for (const auto& col : ref.columns)
        if (cur.find(col.name)) columns.push_back(col.name);
    nlohmann::json scores = nlohmann::json::array();
    std::vector<std::string> drifted;
    for (const auto& name : columns) {
      const monitor::ColumnProfile* r = ref.find(name);
      const monitor::ColumnProfile* c = cur.find(name);
      if (!r || !c) throw InputError(rule.where + ": drift column '" + name + "' is not in " + (r ? c_.dataset : rule.reference),
                                     "name columns both datasets have");
      monitor::ColumnProfile cc = *c;
      if (cc.type != r->type) monitor::coerce_column(cc, r->type);
      monitor::ColumnDrift cd = monitor::column_drift(*r, cc, d);
      ++res->checked;
      scores.push_back({{"column", name}, {"method", cd.method}, {"score", cd.score}, {"threshold", cd.threshold},
                        {"drifted", cd.drifted}, {"error", cd.error}});
      if (cd.drifted) drifted.push_back(name), ++res->failed;
      if (cd.drifted && res->examples.size() < o_.max_examples)
        res->examples.push_back({c_.dataset, 0, name + ": " + cd.method + " score " + std::to_string(cd.score)});
    }
    double share = res->checked ? static_cast<double>(res->failed) / static_cast<double>(res->checked) : 0;
    res->passed = rule.max_drift_share ? share <= *rule.max_drift_share : res->failed == 0;
    res->detail = {{"reference", rule.reference}, {"columns", scores}, {"drift_share", share}};
    res->message = std::to_string(res->failed) + " of " + std::to_string(res->checked) + " columns drifted from " +
                   rule.reference;
  }
}

}  // namespace

DatasetResult validate(Repo* repo, const Contract& contract, const std::vector<monitor::Source>& sources,
                       const ValidateOptions& options) {
  DatasetResult r = Validator(repo, contract, options).run(sources);
  r.version = dataset_version(repo, contract.dataset);
  return r;
}

}  // namespace mlo::contracts
