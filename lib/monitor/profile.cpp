#include "monitor/profile.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <ctime>
#include <functional>
#include <optional>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <array>
#include <set>

#include "core/error.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "monitor/counts.h"

namespace mlo::monitor {

std::string to_string(ColumnType t) { return t == ColumnType::numerical ? "num" : "cat"; }

std::uint64_t ColumnProfile::present() const {
  if (type == ColumnType::numerical) return sample.n;
  std::uint64_t n = 0;
  for (auto& [_, c] : categories) n += c;
  return n;
}

std::uint64_t ColumnProfile::distinct() const {
  if (type == ColumnType::categorical) return categories.size();
  if (!small_overflow) return small.size();
  return std::max<std::uint64_t>(22, sample.distinct());
}

const ColumnProfile* DatasetProfile::find(const std::string& name) const {
  for (const auto& c : columns)
    if (c.name == name) return &c;
  return nullptr;
}

namespace {

constexpr int kSketchBits = 10;        // mantissa bits kept by the sketch
constexpr std::size_t kTextLimitNumeric = 1000;
constexpr std::size_t kCategoryLimit = 100000;
constexpr std::size_t kBatch = 256;       // numbers a column parses before counting them

constexpr int kShift = 52 - kSketchBits;
double bucket_value(std::uint64_t bucket) {
  return from_order_key((bucket << kShift) | (1ULL << (kShift - 1)));
}

struct TextHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Neumaier's compensated sum, term by term. With a large offset (1e9 +
// noise) a plain sum loses the digits the t-test needs; numpy's pairwise sum
// keeps them.
struct CompensatedSum {
  double sum = 0, carry = 0;
  void add(double v) {
    double t = sum + v;
    carry += std::fabs(sum) >= std::fabs(v) ? (sum - t) + v : (v - t) + sum;
    sum = t;
  }
  // c * v with the product's rounding error too: the same total as adding v c times.
  void add_times(std::uint64_t c, double v) {
    double dc = static_cast<double>(c), p = dc * v;
    add(p);
    add(std::fma(dc, v, -p));
  }
  double value() const { return sum + carry; }
};

struct Acc {
  std::string name;
  std::optional<ColumnType> declared;
  bool numeric_ok = true;
  std::uint64_t rows = 0, missing = 0, infinite = 0, invalid = 0, infinite_negative = 0;
  std::uint64_t finite = 0;                // finite numbers seen (counted or pending)
  std::array<double, kBatch> pending{};    // parsed, not yet counted
  std::size_t npending = 0;
  KeyCounts exact;                         // order key -> count while distinct <= limit
  bool sketch = false;
  KeyCounts buckets;                       // sketch: rounded key -> count
  std::uint64_t n = 0;                     // sketch: values in the moments below
  double mean = 0, m2 = 0, mn = 0, mx = 0;
  double shift = 0;                        // sketch: sums of deviations from the mean at the switch
  CompensatedSum s1, s2;
  std::vector<std::pair<double, std::uint64_t>> small;
  bool small_overflow = false;
  std::unordered_map<std::string, std::uint64_t, TextHash, std::equal_to<>> text;
  bool text_dropped = false, text_overflow = false;
  std::uint64_t limit = 0;                 // distinct values counted exactly

  void add_text(std::string_view t) {
    if (text_dropped) return;
    auto it = text.find(t);
    if (it != text.end()) { ++it->second; return; }
    if (text.size() >= kCategoryLimit) {
      text_overflow = true;
      ++text["(other)"];
      return;
    }
    text.emplace(std::string(t), 1);
  }
  // Streaming moments, range and small-value set (sketch mode only; exact
  // counts give them at the end, from the sorted distinct values). Sums of
  // deviations from the mean at the switch, compensated: Welford's update
  // rounds the running mean at every value, which near 1e9 costs the t-test
  // its digits; deviations from a nearby shift lose nothing.
  void track(double v) {
    ++n;
    double d = v - shift;
    s1.add(d);
    s2.add(d * d);
    mn = std::min(mn, v);
    mx = std::max(mx, v);
    if (!small_overflow) {
      bool found = false;
      for (auto& [sv, sc] : small)
        if (sv == v) { ++sc; found = true; break; }
      if (!found) {
        if (small.size() >= 21) { small_overflow = true; small.clear(); small.shrink_to_fit(); }
        else small.emplace_back(v, 1);
      }
    }
  }
  // The moments of everything tracked (sketch mode).
  void tracked_moments() {
    if (n == 0) return;
    double dn = static_cast<double>(n), t1 = s1.value();
    mean = shift + t1 / dn;
    m2 = std::max(0.0, s2.value() - t1 * (t1 / dn));
  }
  // Moments, range and small-value set of an exact sample (two passes: the
  // mean, then squared deviations, each term times its count exactly).
  void summarise(const Sample& s) {
    n = s.n;
    small.clear();
    small_overflow = s.distinct() > 21;
    if (!small_overflow)
      for (std::size_t i = 0; i < s.values.size(); ++i) small.emplace_back(s.values[i], s.counts[i]);
    if (n == 0) return;
    CompensatedSum sx, sq;
    for (std::size_t i = 0; i < s.values.size(); ++i) sx.add_times(s.counts[i], s.values[i]);
    mean = sx.value() / static_cast<double>(n);
    for (std::size_t i = 0; i < s.values.size(); ++i) {
      double d = s.values[i] - mean;
      sq.add_times(s.counts[i], d * d);
    }
    m2 = sq.value();
    mn = s.values.front();
    mx = s.values.back();
  }
  void add_number(double v) {
    if (!std::isfinite(v)) [[unlikely]] { ++infinite; infinite_negative += v < 0; return; }
    ++finite;
    pending[npending++] = v;
    if (npending == kBatch) [[unlikely]] flush();
  }
  // Counts the pending numbers: batched so one column's table is probed many
  // times in a row (prefetched), not once per row among all the others.
  void flush() {
    if (sketch) {
      for (std::size_t i = 0; i < npending; ++i) {
        track(pending[i]);
        buckets.add(order_key(pending[i]) >> kShift);
      }
    } else {
      std::array<std::uint64_t, kBatch> keys;
      for (std::size_t i = 0; i < npending; ++i) keys[i] = order_key(pending[i]);
      exact.add_batch(keys.data(), npending);
      if (exact.size() > limit) [[unlikely]] switch_to_sketch();
    }
    npending = 0;
  }
  // Too many distinct values to count exactly: the moments so far, then
  // each value rounded to kSketchBits mantissa bits and counted.
  void switch_to_sketch() {
    Sample s = sample_from_counts(exact);
    exact.clear();
    summarise(s);
    shift = mean;
    s2.add(m2);
    sketch = true;
    for (std::size_t i = 0; i < s.values.size(); ++i) buckets.add(order_key(s.values[i]) >> kShift, s.counts[i]);
  }
  void drop_numeric() {
    numeric_ok = false;
    exact.clear();
    buckets.clear();
    sketch = false;
    finite = n = npending = 0;
    mean = m2 = shift = 0;
    s1 = s2 = CompensatedSum();
    small.clear();
  }
  void cell(const Cell& c) {
    ++rows;
    if (c.missing) { ++missing; return; }
    if (declared == ColumnType::categorical) { add_text(c.text); return; }
    double v;
    if (numeric_ok && parse_number(c.text, v)) {
      add_number(v);
      if (!text_dropped && declared != ColumnType::numerical) {
        add_text(c.text);
        if (text.size() > kTextLimitNumeric) { text_dropped = true; text.clear(); }
      }
      return;
    }
    if (declared == ColumnType::numerical || (numeric_ok && text_dropped)) { ++invalid; return; }
    if (numeric_ok) drop_numeric();
    add_text(c.text);
  }
  Sample sketch_sample() const {
    Sample s;
    for (auto k : buckets.sorted_keys()) {
      s.values.push_back(bucket_value(k));
      s.counts.push_back(buckets.count(k));
    }
    s.n = n;
    s.approximate = true;
    return s;
  }
  ColumnProfile finish() {
    ColumnProfile p;
    p.name = name;
    p.rows = rows;
    p.missing = missing;
    p.infinite = infinite;
    p.infinite_negative = infinite_negative;
    p.invalid = invalid;
    bool numeric = declared ? *declared == ColumnType::numerical : (numeric_ok && (finite > 0 || infinite > 0 || text.empty()));
    if (!declared && numeric_ok && finite == 0 && infinite == 0 && rows == missing) numeric = true;  // all missing
    p.type = numeric ? ColumnType::numerical : ColumnType::categorical;
    if (numeric) {
      flush();
      if (sketch) {
        p.sample = sketch_sample();
        tracked_moments();
      } else {
        p.sample = sample_from_counts(exact);
        exact.clear();
        summarise(p.sample);
      }
      p.mean = mean;
      p.m2 = m2;
      p.min = mn;
      p.max = mx;
      p.small = small;
      std::sort(p.small.begin(), p.small.end());
      p.small_overflow = small_overflow;
    }
    if (!text_dropped) {
      p.categories.assign(text.begin(), text.end());
      std::sort(p.categories.begin(), p.categories.end());
    }
    p.categories_overflow = text_dropped || text_overflow;
    return p;
  }
};

// Duplicate rows from 64-bit row hashes, kept as a sorted array of distinct
// hashes: new ones are buffered, radix-sorted and merged in, all sequential
// memory (a hash table of a million rows takes a cache miss per row). Exact up
// to `limit` distinct rows, then the rows whose hash starts with `level` zero
// bits (both copies of a duplicate share the hash, so the sample keeps pairs
// together), scaled back.
struct RowHashes {
  static constexpr std::size_t kPending = 1 << 16;
  std::vector<std::uint64_t> seen;     // sorted, distinct
  std::vector<std::uint64_t> pending;  // not merged yet
  std::array<std::uint64_t, 65> dups_by_zeros{};  // duplicates found, by leading zero bits of the hash
  int level = 0;
  std::uint64_t limit = 0;

  void add(std::string_view raw) {
    std::uint64_t h = std::hash<std::string_view>{}(raw);
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    if (level > 0 && (h >> (64 - level)) != 0) return;
    pending.push_back(h);
    if (pending.size() == kPending) [[unlikely]] merge();
  }
  void merge() {
    radix_sort(pending);
    // drop (and count) the repeats within the batch, then those already seen
    std::size_t w = 0, k = 0;
    for (std::size_t i = 0; i < pending.size(); ++i) {
      std::uint64_t h = pending[i];
      while (k < seen.size() && seen[k] < h) ++k;
      if ((w > 0 && pending[w - 1] == h) || (k < seen.size() && seen[k] == h)) {
        ++dups_by_zeros[static_cast<std::size_t>(std::countl_zero(h))];
        continue;
      }
      pending[w++] = h;
    }
    // merge the new ones in from the back, in place
    std::size_t i = seen.size(), j = w;
    seen.resize(seen.size() + w);
    for (std::size_t out = seen.size(); j > 0;)
      seen[--out] = (i > 0 && seen[i - 1] > pending[j - 1]) ? seen[--i] : pending[--j];
    pending.clear();
    while (seen.size() > limit && level < 63) {
      ++level;
      std::erase_if(seen, [&](std::uint64_t x) { return (x >> (64 - level)) != 0; });
    }
  }
  std::uint64_t duplicates() {
    merge();
    std::uint64_t d = 0;
    for (std::size_t z = static_cast<std::size_t>(level); z < dups_by_zeros.size(); ++z) d += dups_by_zeros[z];
    return d << level;
  }
};

struct ScoreAcc {
  Acc scores;
  double sum_log_p = 0, sum_log_1mp = 0;
  std::uint64_t n = 0, ge_half = 0;
};

struct PerfAcc {
  bool enabled = false;
  long t = -1, p = -1;  // source column indexes
  std::string task;
  std::uint64_t exact_limit = 100000;
  // regression
  std::uint64_t n_reg = 0, rows = 0;
  double sae = 0, sse = 0, sape = 0, sy = 0, syy = 0;
  bool target_numeric = true, pred_prob = true, pred_binary = true;
  // classification
  std::map<std::pair<std::string, std::string>, std::uint64_t> confusion;
  std::map<std::string, ScoreAcc> by_label;
  bool overflow = false;

  void row(const std::vector<Cell>& cells) {
    if (t < 0 || p < 0) return;
    const Cell& tc = cells[static_cast<std::size_t>(t)];
    const Cell& pc = cells[static_cast<std::size_t>(p)];
    if (tc.missing || pc.missing) return;
    ++rows;
    double y, yh;
    bool yn = parse_number(tc.text, y) && std::isfinite(y), pn = parse_number(pc.text, yh) && std::isfinite(yh);
    if (!yn) target_numeric = false;
    if (yn && pn) {
      ++n_reg;
      double e = y - yh;
      sae += std::fabs(e);
      sse += e * e;
      sape += std::fabs(e) / std::max(std::fabs(y), 2.220446049250313e-16);
      sy += y;
      syy += y * y;
    }
    if (!pn || yh < 0 || yh > 1) pred_prob = false;
    if (!pn || (yh != 0 && yh != 1)) pred_binary = false;
    if (overflow) return;
    std::string tl(tc.text), pl(pc.text);
    if (yn) tl = std::string(tc.text.substr(0, tc.text.size()));
    ++confusion[{tl, pl}];
    if (pn) {
      auto& sa = by_label[tl];
      if (sa.n == 0) sa.scores.limit = exact_limit;
      ++sa.n;
      if (yh >= 0.5) ++sa.ge_half;
      double pp = std::clamp(yh, 1e-15, 1 - 1e-15);
      sa.sum_log_p += std::log(pp);
      sa.sum_log_1mp += std::log1p(-pp);
      sa.scores.add_number(yh);
    }
    if (confusion.size() > 10000 || by_label.size() > 100) overflow = true;
  }

  static bool label_less(const std::string& a, const std::string& b) {
    double x, y;
    if (parse_number(a, x) && parse_number(b, y)) return x < y;
    return a < b;
  }

  nlohmann::json finish() {
    if (!enabled) return nullptr;
    nlohmann::json j;
    j["rows"] = rows;
    std::set<std::string> labels;
    for (auto& [k, _] : confusion) labels.insert(k.first);
    std::string kind = task;
    if (kind.empty()) kind = (target_numeric && (overflow || labels.size() > 20)) ? "regression" : "classification";
    j["task"] = kind;
    if (rows == 0) return j;
    if (kind == "regression") {
      if (n_reg == 0) return j;
      double n = static_cast<double>(n_reg);
      j["mae"] = sae / n;
      j["rmse"] = std::sqrt(sse / n);
      j["mape"] = sape / n;
      double sst = syy - sy * sy / n;
      j["r2"] = sst > 0 ? 1 - sse / sst : 0.0;
      return j;
    }
    if (overflow) {
      j["error"] = "too many classes for classification metrics";
      return j;
    }
    std::vector<std::string> ls(labels.begin(), labels.end());
    std::sort(ls.begin(), ls.end(), label_less);
    if (pred_prob && !pred_binary && ls.size() == 2 && by_label.size() == 2) {
      auto& neg = by_label[ls[0]];
      auto& pos = by_label[ls[1]];
      double tp = static_cast<double>(pos.ge_half), fn = static_cast<double>(pos.n - pos.ge_half);
      double fp = static_cast<double>(neg.ge_half), tn = static_cast<double>(neg.n - neg.ge_half);
      double n = tp + fn + fp + tn;
      j["accuracy"] = (tp + tn) / n;
      double prec = tp + fp > 0 ? tp / (tp + fp) : 0, rec = tp + fn > 0 ? tp / (tp + fn) : 0;
      j["precision"] = prec;
      j["recall"] = rec;
      j["f1"] = prec + rec > 0 ? 2 * prec * rec / (prec + rec) : 0;
      j["log_loss"] = -(pos.sum_log_p + neg.sum_log_1mp) / n;
      ColumnProfile pp = pos.scores.finish(), np = neg.scores.finish();
      double less = 0, eq = 0, cneg = 0;
      // AUC = P(score_pos > score_neg) + 0.5 P(equal)
      std::size_t i = 0, k = 0;
      const Sample& a = pp.sample;
      const Sample& b = np.sample;
      while (i < a.values.size()) {
        while (k < b.values.size() && b.values[k] < a.values[i]) cneg += static_cast<double>(b.counts[k++]);
        double e = (k < b.values.size() && b.values[k] == a.values[i]) ? static_cast<double>(b.counts[k]) : 0;
        less += static_cast<double>(a.counts[i]) * cneg;
        eq += static_cast<double>(a.counts[i]) * e;
        ++i;
      }
      if (a.n && b.n) j["roc_auc"] = (less + 0.5 * eq) / (static_cast<double>(a.n) * static_cast<double>(b.n));
      j["positive_label"] = ls[1];
      return j;
    }
    // label predictions
    double n = 0, correct = 0;
    for (auto& [k, c] : confusion) {
      n += static_cast<double>(c);
      if (k.first == k.second) correct += static_cast<double>(c);
    }
    j["accuracy"] = correct / n;
    auto prf = [&](const std::string& cls) {
      double tp = 0, fp = 0, fn = 0;
      for (auto& [k, c] : confusion) {
        if (k.first == cls && k.second == cls) tp += static_cast<double>(c);
        else if (k.second == cls) fp += static_cast<double>(c);
        else if (k.first == cls) fn += static_cast<double>(c);
      }
      double pr = tp + fp > 0 ? tp / (tp + fp) : 0, rc = tp + fn > 0 ? tp / (tp + fn) : 0;
      return std::array<double, 3>{pr, rc, pr + rc > 0 ? 2 * pr * rc / (pr + rc) : 0};
    };
    if (ls.size() == 2) {
      auto v = prf(ls[1]);
      j["precision"] = v[0];
      j["recall"] = v[1];
      j["f1"] = v[2];
      j["positive_label"] = ls[1];
    } else {
      double P = 0, R = 0, F = 0;
      for (auto& l : ls) {
        auto v = prf(l);
        P += v[0];
        R += v[1];
        F += v[2];
      }
      double k = static_cast<double>(ls.size());
      j["precision"] = P / k;
      j["recall"] = R / k;
      j["f1"] = F / k;
      j["average"] = "macro";
    }
    return j;
  }
};

}  // namespace

std::optional<double> parse_timestamp(std::string_view t) {
  while (!t.empty() && (t.front() == ' ' || t.front() == '"')) t.remove_prefix(1);
  while (!t.empty() && (t.back() == ' ' || t.back() == '"')) t.remove_suffix(1);
  double v;
  if (parse_number(t, v)) return std::isfinite(v) ? std::optional<double>(v > 1e11 ? v / 1000 : v) : std::nullopt;
  int Y, M, D, h = 0, m = 0;
  double s = 0;
  std::string str(t);
  int used = 0;
  if (std::sscanf(str.c_str(), "%4d-%2d-%2d%n", &Y, &M, &D, &used) < 3) return std::nullopt;
  std::size_t pos = static_cast<std::size_t>(used);
  double offset = 0;
  if (pos < str.size() && (str[pos] == 'T' || str[pos] == ' ')) {
    int u2 = 0;
    if (std::sscanf(str.c_str() + pos + 1, "%2d:%2d%n", &h, &m, &u2) < 2) return std::nullopt;
    pos += 1 + static_cast<std::size_t>(u2);
    if (pos < str.size() && str[pos] == ':') {
      char* end = nullptr;
      s = std::strtod(str.c_str() + pos + 1, &end);
      pos = static_cast<std::size_t>(end - str.c_str());
    }
    if (pos < str.size() && (str[pos] == '+' || str[pos] == '-')) {
      int oh = 0, om = 0;
      std::sscanf(str.c_str() + pos + 1, "%2d:%2d", &oh, &om);
      offset = (str[pos] == '+' ? 1 : -1) * (oh * 3600.0 + om * 60.0);
    }
  }
  std::tm tm{};
  tm.tm_year = Y - 1900;
  tm.tm_mon = M - 1;
  tm.tm_mday = D;
  tm.tm_hour = h;
  tm.tm_min = m;
  return static_cast<double>(timegm(&tm)) + s - offset;
}

namespace {

// Rows read, for the progress line: added in batches, so a 10M-row file
// does not read the clock 10M times.
struct RowProgress {
  ProgressPhase& phase;
  std::uint64_t rows = 0, bytes = 0;
  void row(std::size_t raw_bytes) {
    bytes += raw_bytes + 1;
    if (++rows == 8192) flush();
  }
  void flush() {
    phase.add(rows, bytes);
    rows = bytes = 0;
  }
};

std::uint64_t total_size(const std::vector<Source>& sources) {
  std::uint64_t n = 0;
  for (const auto& s : sources) n += s.size;
  return n;
}

}  // namespace

DatasetProfile build_profile(const std::vector<Source>& sources, const ProfileOptions& opt) {
  DatasetProfile out;
  std::optional<ProgressPhase> phase(std::in_place, "read", 0, total_size(sources), "rows");
  RowProgress progress{*phase};
  std::vector<Acc> accs;
  std::unordered_map<std::string, std::size_t> by_name;
  std::vector<std::size_t> map;  // source column -> acc
  long ts_col = -1;
  RowHashes dups;
  dups.limit = opt.duplicate_limit;
  PerfAcc perf;
  perf.enabled = !opt.target.empty() && !opt.prediction.empty();
  perf.task = opt.task;
  perf.exact_limit = opt.exact_limit;
  for (const Source& src : sources) {
    out.sources.push_back(src.display);
    RowVisitor v;
    v.header = [&](const std::vector<std::string>& names) {
      map.clear();
      ts_col = -1;
      perf.t = perf.p = -1;
      for (std::size_t i = 0; i < names.size(); ++i) {
        auto it = by_name.find(names[i]);
        if (it == by_name.end()) {
          it = by_name.emplace(names[i], accs.size()).first;
          Acc a;
          a.name = names[i];
          a.limit = opt.exact_limit;
          auto d = opt.declared.find(names[i]);
          if (d != opt.declared.end()) a.declared = d->second;
          accs.push_back(std::move(a));
        }
        map.push_back(it->second);
        if (!opt.timestamp_column.empty() && names[i] == opt.timestamp_column) ts_col = static_cast<long>(i);
        if (perf.enabled && names[i] == opt.target) perf.t = static_cast<long>(i);
        if (perf.enabled && names[i] == opt.prediction) perf.p = static_cast<long>(i);
      }
    };
    v.row = [&](const std::vector<Cell>& cells, std::string_view raw) {
      progress.row(raw.size());
      if ((opt.since || opt.until) && ts_col >= 0) {
        auto ts = parse_timestamp(cells[static_cast<std::size_t>(ts_col)].text);
        if (!ts || (opt.since && *ts < *opt.since) || (opt.until && *ts >= *opt.until)) return;
      }
      ++out.rows;
      for (std::size_t i = 0; i < cells.size(); ++i) accs[map[i]].cell(cells[i]);
      if (perf.enabled) perf.row(cells);
      if (opt.duplicates) dups.add(raw);
    };
    v.malformed = [&](const Malformed& m) {
      ++out.malformed_rows;
      if (out.malformed.size() < 100) out.malformed.push_back(m);
    };
    out.bytes_read += read_table(src, opt.read, v);
    progress.flush();
  }
  phase.reset();
  out.duplicate_rows = dups.duplicates();
  out.duplicates_approximate = dups.level > 0;
  dups.seen = std::vector<std::uint64_t>();
  // Columns finish (sort, moments) independently: on the available cores.
  out.columns.resize(accs.size());
  ProgressPhase finishing("columns", accs.size(), 0, "columns");
  parallel_for(accs.size(), default_jobs(), [&](std::size_t i) {
    out.columns[i] = accs[i].finish();
    finishing.add(1);
  });
  out.performance = perf.finish();
  return out;
}

void coerce_column(ColumnProfile& col, ColumnType type) {
  if (col.type == type) return;
  if (type == ColumnType::categorical) {
    // numbers -> their texts (kept while the column had few distinct texts)
    col.type = type;
    col.sample = Sample();
    col.small.clear();
    if (col.categories_overflow) {
      col.invalid += col.rows - col.missing;
      col.categories.clear();
    }
    return;
  }
  // categories -> numbers; non-numbers become invalid
  std::vector<double> vals;
  std::map<double, std::uint64_t> counts;
  std::uint64_t invalid = 0;
  for (auto& [text, c] : col.categories) {
    double v;
    if (parse_number(text, v)) {
      if (!std::isfinite(v)) col.infinite += c, col.infinite_negative += v < 0 ? c : 0;
      else counts[v] += c;
    } else invalid += c;
  }
  col.type = type;
  col.invalid += invalid;
  col.sample = Sample();
  col.mean = col.m2 = 0;
  std::uint64_t n = 0;
  for (auto& [v, c] : counts) {
    col.sample.values.push_back(v);
    col.sample.counts.push_back(c);
    for (std::uint64_t k = 0; k < c; ++k) {
      ++n;
      double d = v - col.mean;
      col.mean += d / static_cast<double>(n);
      col.m2 += d * (v - col.mean);
    }
  }
  col.sample.n = n;
  if (!counts.empty()) {
    col.min = counts.begin()->first;
    col.max = counts.rbegin()->first;
  }
  col.small.assign(counts.begin(), counts.end());
  col.small_overflow = col.small.size() > 21;
  if (col.small_overflow) col.small.clear();
}

// ---- serialisation: "MLOPROF1" u64(json length) json, then per numerical column
// its sample: u64 count, doubles, counts as LEB128 varints.
namespace {
void put_u64(std::string& s, std::uint64_t v) { s.append(reinterpret_cast<const char*>(&v), 8); }
void put_varint(std::string& s, std::uint64_t v) {
  while (v >= 0x80) { s.push_back(static_cast<char>((v & 0x7f) | 0x80)); v >>= 7; }
  s.push_back(static_cast<char>(v));
}
struct In {
  const std::string& s;
  std::size_t p = 0;
  std::string where;
  void need(std::size_t n) {
    if (n > s.size() || p > s.size() - n) throw InputError(where + ": truncated monitor profile", "delete it; it is rebuilt on the next run");
  }
  std::uint64_t u64() { need(8); std::uint64_t v; std::memcpy(&v, s.data() + p, 8); p += 8; return v; }
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int sh = 0;; sh += 7) {
      need(1);
      auto b = static_cast<unsigned char>(s[p++]);
      v |= static_cast<std::uint64_t>(b & 0x7f) << sh;
      if (!(b & 0x80)) return v;
    }
  }
};
}  // namespace

std::string serialize_profile(const DatasetProfile& p) {
  nlohmann::json j;
  j["rows"] = p.rows;
  j["duplicate_rows"] = p.duplicate_rows;
  j["duplicates_approximate"] = p.duplicates_approximate;
  j["malformed_rows"] = p.malformed_rows;
  j["bytes_read"] = p.bytes_read;
  j["sources"] = p.sources;
  j["performance"] = p.performance;
  j["malformed"] = nlohmann::json::array();
  for (auto& m : p.malformed) j["malformed"].push_back({{"file", m.file}, {"line", m.line}, {"message", m.message}});
  j["columns"] = nlohmann::json::array();
  for (auto& c : p.columns) {
    nlohmann::json cj = {{"name", c.name}, {"type", to_string(c.type)}, {"rows", c.rows}, {"missing", c.missing},
                         {"infinite", c.infinite}, {"infinite_negative", c.infinite_negative}, {"invalid", c.invalid}, {"mean", c.mean}, {"m2", c.m2},
                         {"min", c.min}, {"max", c.max}, {"small_overflow", c.small_overflow},
                         {"categories_overflow", c.categories_overflow}, {"approximate", c.sample.approximate},
                         {"n", c.sample.n}};
    cj["small"] = c.small;
    cj["categories"] = c.categories;
    j["columns"].push_back(cj);
  }
  // Column names and categories are the data's bytes: not always UTF-8.
  std::string js = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out = "MLOPROF1";
  put_u64(out, js.size());
  out += js;
  for (auto& c : p.columns) {
    put_u64(out, c.sample.values.size());
    out.append(reinterpret_cast<const char*>(c.sample.values.data()), c.sample.values.size() * sizeof(double));
    for (auto cnt : c.sample.counts) put_varint(out, cnt);
  }
  return out;
}

DatasetProfile parse_profile(const std::string& bytes, const std::string& where) {
  In in{bytes, 0, where};
  in.need(8);
  if (bytes.compare(0, 8, "MLOPROF1") != 0) throw InputError(where + ": not a monitor profile", "delete it");
  in.p = 8;
  std::uint64_t len = in.u64();
  in.need(len);
  auto j = nlohmann::json::parse(bytes.substr(in.p, len));
  in.p += len;
  DatasetProfile p;
  p.rows = j["rows"];
  p.duplicate_rows = j["duplicate_rows"];
  p.duplicates_approximate = j["duplicates_approximate"];
  p.malformed_rows = j["malformed_rows"];
  p.bytes_read = 0;
  p.sources = j["sources"].get<std::vector<std::string>>();
  p.performance = j.value("performance", nlohmann::json());
  for (auto& m : j["malformed"]) p.malformed.push_back({m["file"], m["line"], m["message"]});
  for (auto& cj : j["columns"]) {
    ColumnProfile c;
    c.name = cj["name"];
    c.type = cj["type"] == "num" ? ColumnType::numerical : ColumnType::categorical;
    c.rows = cj["rows"];
    c.missing = cj["missing"];
    c.infinite = cj["infinite"];
    c.infinite_negative = cj.value("infinite_negative", std::uint64_t{0});
    c.invalid = cj["invalid"];
    c.mean = cj["mean"];
    c.m2 = cj["m2"];
    c.min = cj["min"];
    c.max = cj["max"];
    c.small_overflow = cj["small_overflow"];
    c.categories_overflow = cj["categories_overflow"];
    c.sample.approximate = cj["approximate"];
    c.sample.n = cj["n"];
    c.small = cj["small"].get<std::vector<std::pair<double, std::uint64_t>>>();
    c.categories = cj["categories"].get<std::vector<std::pair<std::string, std::uint64_t>>>();
    p.columns.push_back(std::move(c));
  }
  for (auto& c : p.columns) {
    std::uint64_t n = in.u64();
    if (n > bytes.size() / sizeof(double)) in.need(bytes.size() + 1);  // a count no file can hold: truncated
    in.need(n * sizeof(double));
    c.sample.values.resize(n);
    // an empty column has no values: memcpy must not see vector::data()'s null pointer
    if (n) std::memcpy(c.sample.values.data(), bytes.data() + in.p, n * sizeof(double));
    in.p += n * sizeof(double);
    c.sample.counts.resize(n);
    for (auto& cnt : c.sample.counts) cnt = in.varint();
  }
  return p;
}

}  // namespace mlo::monitor
