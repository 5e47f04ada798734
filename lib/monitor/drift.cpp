#include "monitor/drift.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "core/error.h"
#include "monitor/mmd.h"

namespace mlo::monitor {

namespace {

// Value counts of both sides over the union of their keys (Evidently's
// get_unique_not_nan_values_list_from_series + value_counts), keys sorted.
struct Keyed {
  std::vector<std::string> labels;
  std::vector<double> ref, cur;
  double ref_n = 0, cur_n = 0;
};

std::string num_label(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  double back = 0;
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    back = std::strtod(buf, nullptr);
    if (back == v) break;
  }
  return buf;
}

Keyed keyed_counts(const ColumnProfile& ref, const ColumnProfile& cur) {
  Keyed k;
  if (ref.type == ColumnType::categorical) {
    std::map<std::string, std::pair<double, double>> m;
    for (auto& [v, c] : ref.categories) m[v].first += static_cast<double>(c);
    for (auto& [v, c] : cur.categories) m[v].second += static_cast<double>(c);
    for (auto& [v, rc] : m) {
      k.labels.push_back(v);
      k.ref.push_back(rc.first);
      k.cur.push_back(rc.second);
    }
  } else {
    std::map<double, std::pair<double, double>> m;
    for (auto& [v, c] : ref.small) m[v].first += static_cast<double>(c);
    for (auto& [v, c] : cur.small) m[v].second += static_cast<double>(c);
    for (auto& [v, rc] : m) {
      k.labels.push_back(num_label(v));
      k.ref.push_back(rc.first);
      k.cur.push_back(rc.second);
    }
  }
  for (double v : k.ref) k.ref_n += v;
  for (double v : k.cur) k.cur_n += v;
  return k;
}

std::uint64_t combined_distinct(const ColumnProfile& ref, const ColumnProfile& cur) {
  if (ref.type == ColumnType::categorical) {
    std::set<std::string> s;
    for (auto& [v, _] : ref.categories) s.insert(v);
    for (auto& [v, _] : cur.categories) s.insert(v);
    return s.size();
  }
  if (!ref.small_overflow && !cur.small_overflow) {
    std::set<double> s;
    for (auto& [v, _] : ref.small) s.insert(v);
    for (auto& [v, _] : cur.small) s.insert(v);
    return s.size();
  }
  return 22;  // more than 21: enough for every decision made on it
}

struct Binned {
  std::vector<double> p, q;
  nlohmann::json chart;
};

nlohmann::json hist_chart(const std::vector<double>& edges, const std::vector<double>& p, const std::vector<double>& q) {
  return {{"kind", "hist"}, {"edges", edges}, {"reference", p}, {"current", q}};
}
nlohmann::json cat_chart(const Keyed& k) {
  // at most 30 categories in charts (the largest by reference + current share)
  std::vector<std::size_t> idx(k.labels.size());
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  auto share = [&](std::size_t i) {
    return (k.ref_n ? k.ref[i] / k.ref_n : 0) + (k.cur_n ? k.cur[i] / k.cur_n : 0);
  };
  std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return share(a) > share(b); });
  if (idx.size() > 30) idx.resize(30);
  nlohmann::json labels = nlohmann::json::array(), r = nlohmann::json::array(), c = nlohmann::json::array();
  for (auto i : idx) {
    std::string label = k.labels[i];
    if (label.size() > 40) label = label.substr(0, 40).append("...");
    labels.push_back(std::move(label));
    r.push_back(k.ref_n ? k.ref[i] / k.ref_n : 0);
    c.push_back(k.cur_n ? k.cur[i] / k.cur_n : 0);
  }
  return {{"kind", "categories"}, {"labels", labels}, {"reference", r}, {"current", c}};
}

// Evidently's get_binned_data.
Binned binned(const ColumnProfile& ref, const ColumnProfile& cur, bool feel_zeroes) {
  Binned b;
  if (ref.type == ColumnType::numerical && ref.distinct() > 20) {
    double lo = std::min(ref.min, cur.sample.n ? cur.min : ref.min);
    double hi = std::max(ref.max, cur.sample.n ? cur.max : ref.max);
    auto edges = sturges_edges(lo, hi, ref.sample.n + cur.sample.n);
    b.p = histogram(ref.sample, edges);
    b.q = histogram(cur.sample, edges);
    for (double& v : b.p) v /= static_cast<double>(ref.sample.n);
    for (double& v : b.q) v /= static_cast<double>(cur.sample.n);
    b.chart = hist_chart(edges, b.p, b.q);
  } else {
    Keyed k = keyed_counts(ref, cur);
    for (std::size_t i = 0; i < k.labels.size(); ++i) {
      b.p.push_back(k.ref[i] / k.ref_n);
      b.q.push_back(k.cur[i] / k.cur_n);
    }
    b.chart = cat_chart(k);
  }
  if (feel_zeroes) {
    fill_zeroes(b.p);
    fill_zeroes(b.q);
  }
  return b;
}

double tvd_value(const std::vector<double>& r, const std::vector<double>& c) {
  double sr = 0, sc = 0, t = 0;
  for (double v : r) sr += v;
  for (double v : c) sc += v;
  for (std::size_t i = 0; i < r.size(); ++i) t += std::fabs(r[i] / sr - c[i] / sc);
  return 0.5 * t;
}

// Evidently's permutation test (1000 permutations, seeded). Exact shuffles up to
// 200,000 values; beyond, each category's draw is a normal approximation of the
// hypergeometric.
double tvd_permutation_p(const Keyed& k, double observed) {
  std::mt19937_64 rng(0);
  const int iterations = 1000;
  auto nr = static_cast<std::uint64_t>(k.ref_n), nc = static_cast<std::uint64_t>(k.cur_n);
  std::uint64_t N = nr + nc;
  std::vector<double> combined(k.labels.size());
  for (std::size_t i = 0; i < combined.size(); ++i) combined[i] = k.ref[i] + k.cur[i];
  int hits = 0;
  std::vector<double> r(combined.size()), c(combined.size());
  if (N <= 200000) {
    std::vector<std::uint32_t> pool;
    pool.reserve(N);
    for (std::size_t i = 0; i < combined.size(); ++i)
      pool.insert(pool.end(), static_cast<std::size_t>(combined[i]), static_cast<std::uint32_t>(i));
    for (int it = 0; it < iterations; ++it) {
      std::fill(r.begin(), r.end(), 0.0);
      for (std::uint64_t i = 0; i < nr; ++i) {
        std::uniform_int_distribution<std::uint64_t> d(i, N - 1);
        std::swap(pool[i], pool[d(rng)]);
        r[pool[i]] += 1;
      }
      for (std::size_t i = 0; i < c.size(); ++i) c[i] = combined[i] - r[i];
      if (observed <= std::fabs(tvd_value(r, c))) ++hits;
    }
  } else {
    for (int it = 0; it < iterations; ++it) {
      double left = static_cast<double>(N), draws = static_cast<double>(nr);
      for (std::size_t i = 0; i < combined.size(); ++i) {
        double K = combined[i];
        double x;
        if (i + 1 == combined.size()) x = draws;
        else {
          double mean = draws * K / left;
          double var = left > 1 ? draws * (K / left) * (1 - K / left) * (left - draws) / (left - 1) : 0;
          std::normal_distribution<double> nd(mean, std::sqrt(std::max(var, 0.0)));
          x = std::clamp(std::round(nd(rng)), std::max(0.0, draws - (left - K)), std::min(K, draws));
        }
        r[i] = x;
        c[i] = K - x;
        draws -= x;
        left -= K;
      }
      if (observed <= std::fabs(tvd_value(r, c))) ++hits;
    }
  }
  return static_cast<double>(hits) / iterations;
}

bool verdict(const MethodInfo& m, double score, double thr) {
  if (std::isnan(score)) return false;
  if (m.drift_when == "<") return score < thr;
  if (m.drift_when == "<=") return score <= thr;
  if (m.drift_when == ">=") return score >= thr;
  return score > thr;
}

// ---- the methods, one function each (table below)

void set_test(ColumnDrift& out, const TestValue& tv) {
  out.score = tv.p_value;
  out.statistic = tv.statistic;
}

void ks_method(const ColumnProfile& ref, const ColumnProfile& cur, ColumnDrift& out) {
  set_test(out, ks_2samp(ref.sample, cur.sample));
}
void wasserstein_method(const ColumnProfile& ref, const ColumnProfile& cur, ColumnDrift& out) {
  double norm = std::max(std::sqrt(ref.variance()), 0.001);
  out.score = wasserstein(ref.sample, cur.sample) / norm;
}
void energy_method(const ColumnProfile& ref, const ColumnProfile& cur, ColumnDrift& out) {
  out.score = energy_distance(ref.sample, cur.sample);
}
void anderson_method(const ColumnProfile& ref, const ColumnProfile& cur, ColumnDrift& out) {
  set_test(out, anderson_ksamp(ref.sample, cur.sample));
}
void cramer_von_mises_method(const ColumnProfile& ref, const ColumnProfile& cur, ColumnDrift& out) {
  set_test(out, cramer_von_mises(ref.sample, cur.sample));
}
void mannw_method(const ColumnProfile& ref, const ColumnProfile& cur, ColumnDrift& out) {
  set_test(out, mann_whitney(ref.sample, cur.sample));
}
void es_method(const ColumnProfile& ref, const ColumnProfile& cur, ColumnDrift& out) {
  set_test(out, epps_singleton(ref.sample, cur.sample));
}
void t_test_method(const ColumnProfile& ref, const ColumnProfile& cur, ColumnDrift& out) {
  set_test(out, t_test(static_cast<double>(ref.sample.n), ref.mean, ref.variance(), static_cast<double>(cur.sample.n),
                       cur.mean, cur.variance()));
}

// psi, kl_div and jensenshannon: distances between binned shares.
void psi_method(const ColumnProfile& ref, const ColumnProfile& cur, ColumnDrift& out) {
  Binned b = binned(ref, cur, true);
  out.chart = b.chart;
  out.score = psi(b.p, b.q);
}
void kl_div_method(const ColumnProfile& ref, const ColumnProfile& cur, ColumnDrift& out) {
  Binned b = binned(ref, cur, true);
  out.chart = b.chart;
  out.score = kl_divergence(b.p, b.q);
}
void jensenshannon_method(const ColumnProfile& ref, const ColumnProfile& cur, ColumnDrift& out) {
  Binned b = binned(ref, cur, false);
  out.chart = b.chart;
  out.score = jensenshannon(b.p, b.q);  // natural log, as Evidently (scipy's default)
}

void hellinger_categorical(const ColumnProfile& ref, const ColumnProfile& cur, ColumnDrift& out) {
  Keyed k = keyed_counts(ref, cur);
  double bc = 0;
  for (std::size_t i = 0; i < k.labels.size(); ++i) bc += std::sqrt((k.ref[i] / k.ref_n) * (k.cur[i] / k.cur_n));
  out.score = std::sqrt(1 - std::clamp(bc, 0.0, 1.0));
  out.chart = cat_chart(k);
}

// Distinct values over both sorted samples (a merge count, no set built).
std::uint64_t union_distinct(const Sample& a, const Sample& b) {
  std::uint64_t keys = 0;
  std::size_t i = 0, j = 0;
  while (i < a.values.size() || j < b.values.size()) {
    if (j >= b.values.size() || (i < a.values.size() && a.values[i] < b.values[j])) ++i;
    else if (i >= a.values.size() || b.values[j] < a.values[i]) ++j;
    else { ++i; ++j; }
    ++keys;
  }
  return keys;
}

// Numerical hellinger: densities on bins from the distinct values of both
// sides (np.histogram_bin_edges(keys, "sturges")), as Evidently.
void hellinger_method(const ColumnProfile& ref, const ColumnProfile& cur, ColumnDrift& out) {
  if (ref.type != ColumnType::numerical) return hellinger_categorical(ref, cur, out);
  double lo = std::min(ref.min, cur.min), hi = std::max(ref.max, cur.max);
  auto edges = sturges_edges(lo, hi, union_distinct(ref.sample, cur.sample));
  auto h1 = histogram(ref.sample, edges), h2 = histogram(cur.sample, edges);
  // Evidently's bin width spans the edges: numpy widens a zero range to +-0.5,
  // so a constant column on both sides scores 0, not 1.
  double bw = (edges.back() - edges.front()) / static_cast<double>(h1.size());
  double bc = 0, n1 = static_cast<double>(ref.sample.n), n2 = static_cast<double>(cur.sample.n);
  for (std::size_t b = 0; b < h1.size(); ++b) {
    double w = edges[b + 1] - edges[b];
    double d1 = h1[b] / (n1 * w), d2 = h2[b] / (n2 * w);
    bc += std::sqrt(d1 * d2) * bw;
  }
  out.score = std::sqrt(1 - std::clamp(bc, 0.0, 1.0));
  for (double& v : h1) v /= n1;
  for (double& v : h2) v /= n2;
  out.chart = hist_chart(edges, h1, h2);
}

// O(d^2) kernel over the distinct values of both sides (Evidently builds
// the full (n+m)^2 matrix): refused beyond a bound rather than run for hours.
void mmd_method(const ColumnProfile& ref, const ColumnProfile& cur, ColumnDrift& out) {
  std::uint64_t values = ref.sample.n + cur.sample.n;
  std::size_t distinct = ref.sample.distinct() + cur.sample.distinct();
  if (distinct > kMmdMaxDistinct && union_distinct(ref.sample, cur.sample) > kMmdMaxDistinct)
    throw InputError("empirical_mmd compares every pair of distinct values: column '" + ref.name + "' has more than " +
                         std::to_string(kMmdMaxDistinct),
                     "use ks, wasserstein or another method for this column (--column-method " + ref.name + "=ks)");
  if (values > kMmdMaxValues)
    throw InputError("empirical_mmd permutes every value: column '" + ref.name + "' has " + std::to_string(values) +
                         " (at most " + std::to_string(kMmdMaxValues) + ")",
                     "use ks, wasserstein or another method for this column, or a smaller window (--since/--window)");
  set_test(out, empirical_mmd(ref.sample, cur.sample));
}

// Value-count methods (chisquare, z, g_test, tvd, fisher_exact) need the
// exact value counts, which numerical columns keep only up to 21 values.
Keyed counted(const ColumnProfile& ref, const ColumnProfile& cur, const std::string& method, ColumnDrift& out) {
  if (ref.type == ColumnType::numerical && ref.small_overflow)
    throw InputError("drift method '" + method + "' compares value counts, but numerical column '" + ref.name +
                         "' has more than 21 distinct values",
                     "use a method for numerical columns (ks, wasserstein, psi, ...) or declare the column categorical");
  Keyed k = keyed_counts(ref, cur);
  out.chart = cat_chart(k);
  return k;
}

// Evidently scales the reference counts to the current total as expected counts.
std::vector<double> expected_counts(const Keyed& k) {
  double knorm = k.cur_n / k.ref_n;
  std::vector<double> exp(k.ref.size());
  for (std::size_t i = 0; i < exp.size(); ++i) exp[i] = k.ref[i] * knorm;
  return exp;
}

void chisquare_method(const ColumnProfile& ref, const ColumnProfile& cur, ColumnDrift& out) {
  Keyed k = counted(ref, cur, "chisquare", out);
  set_test(out, chisquare(k.cur, expected_counts(k)));
}
void g_test_method(const ColumnProfile& ref, const ColumnProfile& cur, ColumnDrift& out) {
  Keyed k = counted(ref, cur, "g_test", out);
  set_test(out, g_test(k.cur, expected_counts(k)));
}

void z_method(const ColumnProfile& ref, const ColumnProfile& cur, ColumnDrift& out) {
  Keyed k = counted(ref, cur, "z", out);
  if (k.labels.size() == 1) {
    out.score = 1;
    return;
  }
  // share of values other than the smallest key
  double n1 = k.ref_n, n2 = k.cur_n;
  double p1 = (n1 - k.ref[0]) / n1, p2 = (n2 - k.cur[0]) / n2;
  double P = (p1 * n1 + p2 * n2) / (n1 + n2);
  double z = (p1 - p2) / std::sqrt(P * (1 - P) * (1 / n1 + 1 / n2));
  out.statistic = z;
  out.score = 2 * (1 - (1 - normal_sf(std::fabs(z))));
}

void tvd_method(const ColumnProfile& ref, const ColumnProfile& cur, ColumnDrift& out) {
  Keyed k = counted(ref, cur, "tvd", out);
  double obs = tvd_value(k.ref, k.cur);
  out.statistic = obs;
  out.score = tvd_permutation_p(k, obs);
}

void fisher_exact_method(const ColumnProfile& ref, const ColumnProfile& cur, ColumnDrift& out) {
  Keyed k = counted(ref, cur, "fisher_exact", out);
  if (k.labels.size() > 2)
    throw InputError("fisher_exact needs a binary column, '" + ref.name + "' has " + std::to_string(k.labels.size()) +
                         " values",
                     "use chisquare or g_test for this column");
  if (ref.infinite || cur.infinite)
    throw InputError("fisher_exact: column '" + ref.name + "' has infinite values", "clean the data or use another method");
  auto a = static_cast<std::uint64_t>(k.labels.size() == 2 ? k.cur[1] : 0);
  auto b = static_cast<std::uint64_t>(k.cur[0]);
  auto c = static_cast<std::uint64_t>(k.labels.size() == 2 ? k.ref[1] : 0);
  auto d = static_cast<std::uint64_t>(k.ref[0]);
  out.score = fisher_exact(a, b, c, d);
}

// Methods without their own chart get the report's default: Sturges bins
// (at most 40) for numbers, value shares for categories.
nlohmann::json default_chart(const ColumnProfile& ref, const ColumnProfile& cur) {
  if (ref.type != ColumnType::numerical) return cat_chart(keyed_counts(ref, cur));
  double lo = std::min(ref.min, cur.min), hi = std::max(ref.max, cur.max);
  auto edges = sturges_edges(lo, hi, std::min<std::uint64_t>(ref.sample.n + cur.sample.n, 1u << 20));
  if (edges.size() > 41) edges = sturges_edges(lo, hi, 1ULL << 39);
  auto p = histogram(ref.sample, edges), q = histogram(cur.sample, edges);
  for (double& v : p) v /= static_cast<double>(ref.sample.n);
  for (double& v : q) v /= static_cast<double>(cur.sample.n);
  return hist_chart(edges, p, q);
}

// column > type > global; unset parts fall back to the method's defaults.
MethodChoice choice_for(const ColumnProfile& ref, const DriftOptions& opt) {
  MethodChoice ch;
  auto apply = [&](const MethodChoice& m) {
    if (m.method) ch.method = m.method;
    if (m.threshold) ch.threshold = m.threshold;
  };
  apply(opt.all);
  if (auto it = opt.per_type.find(ref.type); it != opt.per_type.end()) apply(it->second);
  if (auto it = opt.per_column.find(ref.name); it != opt.per_column.end()) apply(it->second);
  return ch;
}

void check_applies(const MethodInfo& m, const ColumnProfile& ref) {
  bool numerical = ref.type == ColumnType::numerical;
  if ((numerical && !m.numerical) || (!numerical && !m.categorical))
    throw InputError("drift method '" + m.name + "' does not apply to " + (numerical ? "numerical" : "categorical") +
                         " column '" + ref.name + "'",
                     "choose a method for that type (see man mlo-monitor, DRIFT METHODS)");
}

}  // namespace

const std::vector<MethodInfo>& drift_methods() {
  // name, p-value?, numerical, categorical, default threshold, drift when, function
  static const std::vector<MethodInfo> methods = {
      {"ks", true, true, false, 0.05, "<=", ks_method},
      {"chisquare", true, false, true, 0.05, "<", chisquare_method},
      {"z", true, false, true, 0.05, "<", z_method},
      {"wasserstein", false, true, false, 0.1, ">=", wasserstein_method},
      {"psi", false, true, true, 0.1, ">=", psi_method},
      {"kl_div", false, true, true, 0.1, ">=", kl_div_method},
      {"jensenshannon", false, true, true, 0.1, ">=", jensenshannon_method},
      {"hellinger", false, true, true, 0.1, ">=", hellinger_method},
      {"anderson", true, true, false, 0.1, "<", anderson_method},
      {"cramer_von_mises", true, true, false, 0.1, "<=", cramer_von_mises_method},
      {"mannw", true, true, false, 0.05, "<", mannw_method},
      {"t_test", true, true, false, 0.05, "<", t_test_method},
      {"energy", false, true, false, 0.1, ">", energy_method},
      {"tvd", true, false, true, 0.1, "<", tvd_method},
      {"fisher_exact", true, false, true, 0.1, "<", fisher_exact_method},
      {"g_test", true, false, true, 0.1, "<", g_test_method},
      {"es", true, true, false, 0.05, "<", es_method},
      {"empirical_mmd", true, true, false, 0.1, "<", mmd_method},
  };
  return methods;
}

const MethodInfo& find_method(const std::string& name) {
  std::string n = name == "ed" ? "energy" : name == "TVD" ? "tvd" : name;
  for (const auto& m : drift_methods())
    if (m.name == n) return m;
  std::string all;
  for (const auto& m : drift_methods()) all += (all.empty() ? "" : ", ") + m.name;
  throw InputError("unknown drift method '" + name + "'", "use one of: " + all);
}

namespace {

bool integer_literal(const std::string& t) {
  std::size_t i = (!t.empty() && (t[0] == '-' || t[0] == '+')) ? 1 : 0;
  if (i == t.size()) return false;
  for (; i < t.size(); ++i)
    if (t[i] < '0' || t[i] > '9') return false;
  return true;
}

// pandas reads a column as int64 when every value is an integer and none is missing.
bool integer_typed(const ColumnProfile& c) {
  if (c.type != ColumnType::numerical || c.missing || c.infinite || c.invalid || c.categories_overflow ||
      c.categories.empty())
    return false;
  return std::all_of(c.categories.begin(), c.categories.end(), [](const auto& e) { return integer_literal(e.first); });
}

bool outside_unit_interval(const ColumnProfile& c) { return c.sample.n && (c.max > 1 || c.min < 0); }

}  // namespace

ColumnType evidently_column_type(const ColumnProfile& ref, const ColumnProfile* cur, ColumnRole role,
                                 const std::string& task) {
  if (ref.type != ColumnType::numerical) return ref.type;
  // Evidently: nunique of the reference (of the current when the reference has none)
  std::uint64_t nunique = ref.distinct() ? ref.distinct() : cur ? cur->distinct() : 0;
  bool few = nunique > 0 && nunique <= 5;
  // its dtype is the current column's (int64 and float64 cast both ways)
  bool integer = integer_typed(cur ? *cur : ref);
  const ColumnProfile& seen = cur ? *cur : ref;
  switch (role) {
    case ColumnRole::target:
      if (task == "regression") return ColumnType::numerical;
      return task == "classification" || !(nunique > 5) ? ColumnType::categorical : ColumnType::numerical;
    case ColumnRole::prediction:
      if (task != "regression" && few && (integer || outside_unit_interval(seen))) return ColumnType::categorical;
      if (task == "classification" && outside_unit_interval(seen)) return ColumnType::categorical;
      return ColumnType::numerical;
    case ColumnRole::feature:
      break;
  }
  return integer && few ? ColumnType::categorical : ColumnType::numerical;
}

std::string default_method(const ColumnProfile& ref, const ColumnProfile& cur) {
  std::uint64_t n_values = combined_distinct(ref, cur);
  if (ref.present() <= 1000) {
    if (ref.type == ColumnType::numerical) {
      if (n_values <= 5) return n_values > 2 ? "chisquare" : "z";
      return "ks";
    }
    return n_values > 2 ? "chisquare" : "z";
  }
  if (ref.type == ColumnType::numerical) return n_values <= 5 ? "jensenshannon" : "wasserstein";
  return "jensenshannon";
}

ColumnDrift column_drift(const ColumnProfile& ref, const ColumnProfile& cur, const DriftOptions& opt) {
  ColumnDrift r;
  r.column = ref.name;
  r.type = ref.type;
  r.reference_n = ref.present();
  r.current_n = cur.present();
  MethodChoice ch = choice_for(ref, opt);
  if (r.reference_n == 0 || r.current_n == 0) {
    r.method = ch.method.value_or("");
    r.error = std::string("no values to compare in the ") + (r.reference_n == 0 ? "reference" : "current") +
              " data (empty or all missing)";
    r.score = std::nan("");
    return r;
  }
  const MethodInfo& m = find_method(ch.method.value_or(default_method(ref, cur)));
  // Evidently lets its own default pick chisquare/z for numerical columns with few values.
  if (ch.method) check_applies(m, ref);
  r.method = m.name;
  r.threshold = ch.threshold.value_or(m.default_threshold);
  r.approximate = ref.type == ColumnType::numerical && (ref.sample.approximate || cur.sample.approximate);
  m.compute(ref, cur, r);
  if (r.chart.is_null()) r.chart = default_chart(ref, cur);
  r.drifted = verdict(m, r.score, r.threshold);
  if (std::isnan(r.score)) r.error = "the method is undefined for these values (constant or too few values)";
  return r;
}

}  // namespace mlo::monitor
