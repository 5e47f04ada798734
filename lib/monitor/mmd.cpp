#include "monitor/mmd.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>
#include <vector>

namespace mlo::monitor {

namespace {

// The distinct values of both sides, and where each side's values sit in it.
struct Union {
  std::vector<double> values;
  std::vector<std::uint32_t> ref_at, cur_at;
};

Union merge_values(const Sample& a, const Sample& b) {
  Union u;
  std::size_t i = 0, j = 0;
  while (i < a.values.size() || j < b.values.size()) {
    bool take_a = j >= b.values.size() || (i < a.values.size() && a.values[i] <= b.values[j]);
    bool take_b = i >= a.values.size() || (j < b.values.size() && b.values[j] <= a.values[i]);
    auto at = static_cast<std::uint32_t>(u.values.size());
    u.values.push_back(take_a ? a.values[i] : b.values[j]);
    if (take_a) u.ref_at.push_back(at), ++i;
    if (take_b) u.cur_at.push_back(at), ++j;
  }
  return u;
}

// numpy's percentile(q=50, method="nearest") of the n x n squared distances
// of the reference (diagonal zeros included): index (n^2 - 1) / 2, a half
// rounded to the even index.
double median_squared_distance(const Sample& ref) {
  std::vector<std::pair<double, std::uint64_t>> pairs;
  const auto& v = ref.values;
  const auto& c = ref.counts;
  pairs.reserve(v.size() * (v.size() + 1) / 2);
  for (std::size_t i = 0; i < v.size(); ++i) {
    pairs.emplace_back(0.0, c[i] * c[i]);
    for (std::size_t j = i + 1; j < v.size(); ++j) pairs.emplace_back((v[i] - v[j]) * (v[i] - v[j]), 2 * c[i] * c[j]);
  }
  std::sort(pairs.begin(), pairs.end());
  std::uint64_t w = ref.n * ref.n, k = (w - 1) / 2;
  if (w % 2 == 0 && k % 2 == 1) ++k;
  std::uint64_t seen = 0;
  for (auto& [d, weight] : pairs) {
    seen += weight;
    if (seen > k) return d;
  }
  return pairs.back().first;
}

// Evidently's sigma_median: sqrt(0.5 * median), or sqrt(0.5) when that is 0.
double bandwidth(const Sample& ref) {
  double sigma = std::sqrt(0.5 * median_squared_distance(ref));
  return sigma == 0 ? std::sqrt(0.5) : sigma;
}

// The MMD from value counts: x-side counts a, y-side counts b, kernel K (d x d,
// K_vv = 1). Each point's pairing with itself is left out (Evidently zeroes
// the kernel matrix's diagonal), so a sum over one side loses its count.
struct Kernel {
  std::size_t d = 0;
  std::vector<double> k;  // row-major d x d

  std::vector<double> times(const std::vector<double>& a) const {
    std::vector<double> out(d, 0.0);
    for (std::size_t v = 0; v < d; ++v) {
      const double* row = &k[v * d];
      double s = 0;
      for (std::size_t w = 0; w < d; ++w) s += row[w] * a[w];
      out[v] = s;
    }
    return out;
  }
};

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// `kt` is K times the pooled counts: K b = K t - K a saves one product a permutation.
double mmd_of(const Kernel& K, const std::vector<double>& kt, const std::vector<double>& a, const std::vector<double>& b,
              double n, double m) {
  std::vector<double> ka = K.times(a), kb(ka.size());
  for (std::size_t v = 0; v < kb.size(); ++v) kb[v] = kt[v] - ka[v];
  double xx = dot(a, ka) - n, yy = dot(b, kb) - m, xy = dot(b, ka);
  return xx / (n * (n - 1)) + yy / (m * (m - 1)) - 2.0 * xy / (n * m);
}

// numpy's legacy RandomState.random_interval: masked rejection on 32-bit draws.
std::uint32_t random_interval(std::mt19937& rng, std::uint32_t max) {
  std::uint32_t mask = max;
  for (int s = 1; s <= 16; s *= 2) mask |= mask >> s;
  std::uint32_t v;
  while ((v = (rng() & mask)) > max) {
  }
  return v;
}

// np.random.permutation(N) as numpy's legacy generator shuffles arange(N).
void permutation(std::mt19937& rng, std::vector<std::uint32_t>& idx) {
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<std::uint32_t>(i);
  for (std::size_t i = idx.size() - 1; i >= 1; --i) std::swap(idx[i], idx[random_interval(rng, static_cast<std::uint32_t>(i))]);
}

}  // namespace

// Evidently permutes with numpy's unseeded global generator, so its p-value
// changes from run to run. mlo draws the same permutations numpy draws after
// np.random.seed(seed), over each side's values in ascending order: with the
// data sorted that way, Evidently's code gives the same p-value.
TestValue empirical_mmd(const Sample& ref, const Sample& cur, std::uint32_t seed, int permutations) {
  TestValue out;
  if (ref.n < 2 || cur.n < 2) {
    out.statistic = out.p_value = std::nan("");
    return out;
  }
  Union u = merge_values(ref, cur);
  const std::size_t d = u.values.size();
  const double sigma = bandwidth(ref), gamma = 1.0 / (2.0 * sigma * sigma);
  Kernel K{d, std::vector<double>(d * d)};
  for (std::size_t v = 0; v < d; ++v)
    for (std::size_t w = 0; w < d; ++w) {
      double diff = u.values[v] - u.values[w];
      K.k[v * d + w] = std::exp(-gamma * diff * diff);
    }
  std::vector<double> a(d, 0.0), b(d, 0.0), total(d, 0.0);
  std::vector<std::uint32_t> point;  // each value's union index: reference first, then current
  point.reserve(ref.n + cur.n);
  for (std::size_t i = 0; i < ref.values.size(); ++i) {
    a[u.ref_at[i]] += static_cast<double>(ref.counts[i]);
    point.insert(point.end(), ref.counts[i], u.ref_at[i]);
  }
  for (std::size_t j = 0; j < cur.values.size(); ++j) {
    b[u.cur_at[j]] += static_cast<double>(cur.counts[j]);
    point.insert(point.end(), cur.counts[j], u.cur_at[j]);
  }
  for (std::size_t v = 0; v < d; ++v) total[v] = a[v] + b[v];
  const double n = static_cast<double>(ref.n), m = static_cast<double>(cur.n);
  const std::vector<double> kt = K.times(total);
  const double observed = mmd_of(K, kt, a, b, n, m);
  // Permutations equal in exact arithmetic count as at least the observed
  // value (numpy's own float sums decide such ties by rounding).
  const double tie = 1e-12 * std::max(1.0, std::fabs(observed));
  std::mt19937 rng(seed);
  std::vector<std::uint32_t> idx(point.size());
  int hits = 0;
  for (int p = 0; p < permutations; ++p) {
    permutation(rng, idx);
    std::fill(a.begin(), a.end(), 0.0);
    for (std::uint64_t i = 0; i < ref.n; ++i) a[point[idx[i]]] += 1;
    for (std::size_t v = 0; v < d; ++v) b[v] = total[v] - a[v];
    if (mmd_of(K, kt, a, b, n, m) >= observed - tie) ++hits;
  }
  out.statistic = observed;
  out.p_value = static_cast<double>(hits) / permutations;
  return out;
}

}  // namespace mlo::monitor
