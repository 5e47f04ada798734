#include "monitor/stats.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "monitor/counts.h"

namespace mlo::monitor {

namespace {

constexpr double kPi = 3.14159265358979323846;
const double kNaN = std::numeric_limits<double>::quiet_NaN();

// Visits the distinct values of a ∪ b in order with their counts in each.
template <class F>
void merge_walk(const Sample& a, const Sample& b, F&& f) {
  std::size_t i = 0, j = 0;
  while (i < a.values.size() || j < b.values.size()) {
    double v;
    std::uint64_t ca = 0, cb = 0;
    if (j >= b.values.size() || (i < a.values.size() && a.values[i] < b.values[j])) {
      v = a.values[i];
      ca = a.counts[i++];
    } else if (i >= a.values.size() || b.values[j] < a.values[i]) {
      v = b.values[j];
      cb = b.counts[j++];
    } else {
      v = a.values[i];
      ca = a.counts[i++];
      cb = b.counts[j++];
    }
    f(v, ca, cb);
  }
}

double log_choose(double n, double k) { return std::lgamma(n + 1) - std::lgamma(k + 1) - std::lgamma(n - k + 1); }

// Regularized lower incomplete gamma P(a, x) by series; upper Q by continued fraction.
double gamma_p_series(double a, double x) {
  double sum = 1.0 / a, del = sum, ap = a;
  for (int n = 0; n < 100000; ++n) {
    ap += 1;
    del *= x / ap;
    sum += del;
    if (std::fabs(del) < std::fabs(sum) * 1e-17) break;
  }
  return sum * std::exp(-x + a * std::log(x) - std::lgamma(a));
}
double gamma_q_cf(double a, double x) {
  const double tiny = 1e-300;
  double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
  for (int i = 1; i < 100000; ++i) {
    double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < tiny) d = tiny;
    c = b + an / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < 1e-17) break;
  }
  return std::exp(-x + a * std::log(x) - std::lgamma(a)) * h;
}

double betacf(double a, double b, double x) {
  const double tiny = 1e-300;
  double qab = a + b, qap = a + 1, qam = a - 1, c = 1, d = 1 - qab * x / qap;
  if (std::fabs(d) < tiny) d = tiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m < 1000000; ++m) {
    int m2 = 2 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < 1e-16) break;
  }
  return h;
}
// Regularized incomplete beta I_x(a, b).
double betainc(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  double lbt = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return std::exp(lbt) * betacf(a, b, x) / a;
  return 1 - std::exp(lbt) * betacf(b, a, 1 - x) / b;
}

// Exact one-sided Smirnov sf P(D+ >= x) (Birnbaum-Tingey), as scipy.special.smirnov.
double smirnov(std::uint64_t n, double x) {
  if (x <= 0) return 1;
  if (x >= 1) return 0;
  double nn = static_cast<double>(n);
  auto jmax = static_cast<std::uint64_t>(std::floor(nn * (1 - x)));
  double sum = 0;
  for (std::uint64_t j = 0; j <= jmax; ++j) {
    double jj = static_cast<double>(j);
    double t1 = x + jj / nn, t2 = 1 - x - jj / nn;
    if (t2 <= 0) {
      if (j == n) sum += std::exp(log_choose(nn, jj) + (jj - 1) * std::log(t1));
      continue;
    }
    sum += std::exp(log_choose(nn, jj) + (jj - 1) * std::log(t1) + (nn - jj) * std::log(t2));
  }
  return std::clamp(x * sum, 0.0, 1.0);
}

// Marsaglia-Tsang-Wang (Durbin matrix) CDF of the Kolmogorov statistic.
double kolmogorov_cdf_dmtw(std::uint64_t n, double d) {
  int k = static_cast<int>(static_cast<double>(n) * d) + 1;
  int m = 2 * k - 1;
  double h = k - static_cast<double>(n) * d;
  std::vector<double> H(static_cast<std::size_t>(m) * m);
  auto at = [&](std::vector<double>& A, int i, int j) -> double& { return A[static_cast<std::size_t>(i) * m + j]; };
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < m; ++j) at(H, i, j) = (i - j + 1 < 0) ? 0 : 1;
  for (int i = 0; i < m; ++i) {
    at(H, i, 0) -= std::pow(h, i + 1);
    at(H, m - 1, i) -= std::pow(h, m - i);
  }
  at(H, m - 1, 0) += (2 * h - 1 > 0 ? std::pow(2 * h - 1, m) : 0);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < m; ++j)
      if (i - j + 1 > 0)
        for (int g = 1; g <= i - j + 1; ++g) at(H, i, j) /= g;
  auto mul = [&](const std::vector<double>& A, const std::vector<double>& B) {
    std::vector<double> C(A.size(), 0.0);
    for (int i = 0; i < m; ++i)
      for (int l = 0; l < m; ++l) {
        double a = A[static_cast<std::size_t>(i) * m + l];
        if (a == 0) continue;
        for (int j = 0; j < m; ++j) C[static_cast<std::size_t>(i) * m + j] += a * B[static_cast<std::size_t>(l) * m + j];
      }
    return C;
  };
  // Q = H^n with a separate power-of-two exponent.
  std::vector<double> Q(H.size(), 0.0);
  for (int i = 0; i < m; ++i) at(Q, i, i) = 1;
  long long eQ = 0, eH = 0;
  std::uint64_t e = n;
  auto rescale = [&](std::vector<double>& A, long long& ex) {
    double mx = 0;
    for (double v : A) mx = std::max(mx, std::fabs(v));
    if (mx == 0) return;
    int s;
    std::frexp(mx, &s);
    for (double& v : A) v = std::ldexp(v, -s);
    ex += s;
  };
  while (e) {
    if (e & 1) {
      Q = mul(Q, H);
      eQ += eH;
      rescale(Q, eQ);
    }
    e >>= 1;
    if (e) {
      H = mul(H, H);
      eH *= 2;
      rescale(H, eH);
    }
  }
  double s = at(Q, k - 1, k - 1);
  // s * n! / n^n * 2^eQ
  double logv = std::log(std::fabs(s)) + static_cast<double>(eQ) * std::log(2.0) + std::lgamma(static_cast<double>(n) + 1) -
                static_cast<double>(n) * std::log(static_cast<double>(n));
  if (s <= 0) return 0;
  return std::exp(logv);
}

double kolmogorov_cdf_pelz_good(std::uint64_t n, double x) {
  const double pi2 = kPi * kPi, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
  const double sqrt2pi = std::sqrt(2 * kPi);
  double z = std::sqrt(static_cast<double>(n)) * x;
  double z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2;
  double qlog = -pi2 / 8 / z2;
  if (qlog < -708) return 0;
  double q = std::exp(qlog);
  double k1a = -z2, k1b = pi2 / 4;
  double k2a = 6 * z6 + 2 * z4, k2b = (2 * z4 - 5 * z2) * pi2 / 4, k2c = pi4 * (1 - 2 * z2) / 16;
  double k3d = pi6 * (5 - 30 * z2) / 64, k3c = pi4 * (-60 * z2 + 212 * z4) / 16,
         k3b = pi2 * (135 * z4 - 96 * z6) / 4, k3a = -30 * z6 - 90 * z6 * z2;
  double K[4] = {0, 0, 0, 0};
  int maxk = static_cast<int>(std::ceil(16 * z / kPi));
  for (int k = maxk; k > 0; --k) {
    double m = 2.0 * k - 1, m2 = m * m, m4 = m2 * m2, m6 = m4 * m2;
    double qp = std::pow(q, 8.0 * k);
    double c[4] = {1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6};
    for (int i = 0; i < 4; ++i) K[i] = K[i] * qp + c[i];
  }
  double div[4] = {z, 6 * z4, 72 * z6 * z, 6480 * z6 * z4};
  for (int i = 0; i < 4; ++i) K[i] = K[i] * q * sqrt2pi / div[i];
  double q2 = std::exp(-pi2 / 2 / z2);
  double s2 = 0, s3 = 0, sqrt3z = std::sqrt(3.0) * z;
  for (int k = maxk; k > 0; --k) {
    double kk = static_cast<double>(k) * k, qp = std::pow(q2, kk), kpi = kPi * k;
    s2 += kk * qp;
    s3 += (sqrt3z + kpi) * (sqrt3z - kpi) * kk * qp;
  }
  K[2] += s2 * pi2 * sqrt2pi / (-36 * z3);
  K[3] += s3 * pi2 * sqrt2pi / (216 * z6);
  double sum = 0;
  for (int i = 0; i < 4; ++i) sum += K[i] / std::pow(static_cast<double>(n), i / 2.0);
  return sum;
}

double clip01(double p) { return std::clamp(p, 0.0, 1.0); }

}  // namespace

Sample make_sample(std::vector<double> values) {
  KeyCounts counts;
  for (double v : values) counts.add(order_key(v));
  return sample_from_counts(counts);
}

double normal_sf(double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

double chi2_sf(double x, double k) {
  if (std::isnan(x)) return x;
  if (std::isinf(x)) return x > 0 ? 0.0 : 1.0;
  if (x <= 0) return 1;
  double a = k / 2, xx = x / 2;
  if (xx < a + 1) return 1 - gamma_p_series(a, xx);
  return gamma_q_cf(a, xx);
}

double student_t_sf(double t, double df) {
  double x = df / (df + t * t);
  double tail = 0.5 * betainc(df / 2, 0.5, x);
  return t > 0 ? tail : 1 - tail;
}

double kolmogorov_sf(double x, std::uint64_t n) {
  if (n == 0) return kNaN;
  if (x >= 1) return 0;
  if (x <= 0) return 1;
  double nn = static_cast<double>(n);
  double t = nn * x;
  if (t <= 1) {
    if (t <= 0.5) return 1;
    double prob = std::exp(std::lgamma(nn + 1) - nn * std::log(nn) + nn * std::log(2 * t - 1));
    return clip01(1 - prob);
  }
  if (t >= nn - 1) return clip01(2 * std::pow(1 - x, nn));
  if (x >= 0.5) return clip01(2 * smirnov(n, x));
  double nx2 = t * x;
  if (n <= 140) {
    if (nx2 <= 4) return clip01(1 - kolmogorov_cdf_dmtw(n, x));  // scipy: DMTW or Pomeranz (both exact)
    return clip01(2 * smirnov(n, x));
  }
  if (nx2 >= 370) return 0;
  if (nx2 >= 2.2) return clip01(2 * smirnov(n, x));
  double cdf;
  if (nx2 >= 18) cdf = 1;
  else if (n <= 100000 && nn * std::pow(x, 1.5) <= 1.4) cdf = kolmogorov_cdf_dmtw(n, x);
  else cdf = kolmogorov_cdf_pelz_good(n, x);
  return clip01(1 - cdf);
}

TestValue ks_2samp(const Sample& a, const Sample& b) {
  if (a.n == 0 || b.n == 0) return {kNaN, kNaN};
  double na = static_cast<double>(a.n), nb = static_cast<double>(b.n);
  std::uint64_t ca = 0, cb = 0;
  double d = 0;
  merge_walk(a, b, [&](double, std::uint64_t x, std::uint64_t y) {
    ca += x;
    cb += y;
    d = std::max(d, std::fabs(static_cast<double>(ca) / na - static_cast<double>(cb) / nb));
  });
  std::uint64_t n1 = a.n, n2 = b.n;
  if (std::max(n1, n2) <= 10000) {
    std::uint64_t g = std::gcd(n1, n2);
    double lcm = static_cast<double>(n1 / g) * static_cast<double>(n2);
    auto h = static_cast<std::uint64_t>(std::nearbyint(d * lcm));
    double dr = static_cast<double>(h) / lcm;
    if (h == 0) return {dr, 1.0};
    if (n1 == n2) {
      // scipy _compute_prob_outside_square
      double n = static_cast<double>(n1), hh = static_cast<double>(h), P = 0;
      for (long long k = static_cast<long long>(std::floor(n / hh)); k >= 0; --k) {
        double p1 = 1;
        for (std::uint64_t j = 0; j < h; ++j) p1 = (n - k * hh - j) * p1 / (n + k * hh + j + 1);
        P = p1 * (1 - P);
      }
      return {dr, clip01(2 * P)};
    }
    // Probability that a random lattice path from (0,0) to (n1,n2) stays inside
    // |i*n2 - j*n1| < h*g; the p-value is its complement.
    long long H = static_cast<long long>(h * g);
    long long N1 = static_cast<long long>(n1), N2 = static_cast<long long>(n2);
    std::vector<double> prev(n2 + 1, 0.0), cur(n2 + 1, 0.0);
    auto band = [&](long long i, long long& lo, long long& hi) {
      // j with |i*N2 - j*N1| < H  <=>  (i*N2 - H) < j*N1 < (i*N2 + H)
      long long a0 = i * N2 - H, b0 = i * N2 + H;
      lo = a0 < 0 ? 0 : a0 / N1 + 1;
      hi = (b0 - 1) / N1;
      if (hi > N2) hi = N2;
    };
    long long plo, phi;
    band(0, plo, phi);
    prev[0] = 1;
    for (long long j = 1; j <= phi; ++j) prev[j] = prev[j - 1] * static_cast<double>(N2 - (j - 1)) / static_cast<double>(N1 + N2 - (j - 1));
    for (long long i = 1; i <= N1; ++i) {
      long long lo, hi;
      band(i, lo, hi);
      for (long long j = lo; j <= hi; ++j) {
        double v = 0;
        if (j >= plo && j <= phi) v += prev[j] * static_cast<double>(N1 - (i - 1)) / static_cast<double>(N1 + N2 - (i - 1) - j);
        if (j - 1 >= lo) v += cur[j - 1] * static_cast<double>(N2 - (j - 1)) / static_cast<double>(N1 + N2 - i - (j - 1));
        cur[j] = v;
      }
      for (long long j = plo; j <= phi; ++j) prev[j] = 0;
      std::swap(prev, cur);
      plo = lo;
      phi = hi;
    }
    double inside = (N2 >= plo && N2 <= phi) ? prev[N2] : 0.0;
    return {dr, clip01(1 - inside)};
  }
  double en = na * nb / (na + nb);
  return {d, kolmogorov_sf(d, static_cast<std::uint64_t>(std::nearbyint(en)))};
}

namespace {
double cdf_distance(const Sample& a, const Sample& b, int p) {
  double na = static_cast<double>(a.n), nb = static_cast<double>(b.n);
  std::uint64_t ca = 0, cb = 0;
  double sum = 0, last = 0;
  bool first = true;
  merge_walk(a, b, [&](double v, std::uint64_t x, std::uint64_t y) {
    if (!first) {
      double diff = static_cast<double>(ca) / na - static_cast<double>(cb) / nb;
      double delta = v - last;
      sum += (p == 1 ? std::fabs(diff) : diff * diff) * delta;
    }
    first = false;
    last = v;
    ca += x;
    cb += y;
  });
  return p == 1 ? sum : std::sqrt(sum);
}
}  // namespace

double wasserstein(const Sample& a, const Sample& b) {
  if (a.n == 0 || b.n == 0) return kNaN;
  return cdf_distance(a, b, 1);
}

double energy_distance(const Sample& a, const Sample& b) {
  if (a.n == 0 || b.n == 0) return kNaN;
  return std::sqrt(2.0) * cdf_distance(a, b, 2);
}

namespace {
// Sum over the tie group of positions first..first+c-1 (1-based ranks within the
// own sample, i = start+1..start+c) of (r - i)^2 where r is the group's average rank.
double sq_rank_diff(double r, double start, double c) {
  // sum_{i=start+1}^{start+c} (r - i)^2
  double s1 = c * (2 * start + c + 1) / 2;                                              // sum i
  double s2 = (start + c) * (start + c + 1) * (2 * (start + c) + 1) / 6 - start * (start + 1) * (2 * start + 1) / 6;  // sum i^2
  return c * r * r - 2 * r * s1 + s2;
}

double cdf_cvm_inf(double x) {
  // scipy _cdf_cvm_inf, with exp(-q) * K_{1/4}(q) = int_0^inf exp(-q (1 + cosh t)) cosh(t/4) dt
  double tot = 0;
  for (int k = 0; k < 1000; ++k) {
    double u = std::exp(std::lgamma(k + 0.5) - std::lgamma(k + 1.0)) / (std::pow(kPi, 1.5) * std::sqrt(x));
    double y = 4.0 * k + 1;
    double q = y * y / (16 * x);
    double integral = 0, hstep = 1.0 / 64;
    for (int i = 0;; ++i) {
      double t = i * hstep;
      double f = std::exp(-q * (1 + std::cosh(t))) * std::cosh(t / 4);
      integral += (i == 0 ? 0.5 : 1.0) * f;
      if (f < 1e-300 || (i > 10 && f < integral * 1e-18)) break;
    }
    integral *= hstep;
    double z = u * std::sqrt(y) * integral;
    tot += z;
    if (std::fabs(z) < 1e-7) break;
  }
  return tot;
}
}  // namespace

namespace {

// U -> number of orderings, sorted by U.
using UDist = std::vector<std::pair<std::uint64_t, double>>;

// Merges two distributions, each shifted by a constant (shifts keep the order).
UDist merge_shifted(const UDist& a, std::uint64_t sa, const UDist& b, std::uint64_t sb) {
  UDist out;
  out.reserve(a.size() + b.size());
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    bool take_a = j == b.size() || (i < a.size() && a[i].first + sa <= b[j].first + sb);
    std::uint64_t u = take_a ? a[i].first + sa : b[j].first + sb;
    double c = take_a ? a[i++].second : b[j++].second;
    if (!out.empty() && out.back().first == u) out.back().second += c;
    else out.emplace_back(u, c);
  }
  return out;
}

// P(U >= u) under the null for sizes nx, ny (scipy's exact method): counts the
// orderings of x and y by their U over the grid of (x placed, y placed).
// Placing an x after j y's adds nx*j^2; placing a y after i x's adds ny*i^2.
double cvm_exact_sf(std::uint64_t nx, std::uint64_t ny, double u_observed) {
  std::vector<UDist> row(ny + 1, UDist{{0, 1.0}});  // i = 0: only y's placed, U = 0
  for (std::uint64_t i = 1; i <= nx; ++i) {
    std::vector<UDist> next(ny + 1);
    next[0] = row[0];  // only x's placed: each adds nx*0
    for (std::uint64_t j = 1; j <= ny; ++j) next[j] = merge_shifted(row[j], nx * j * j, next[j - 1], ny * i * i);
    row = std::move(next);
  }
  double total = 0, tail = 0;
  for (auto& [u, c] : row[ny]) {
    total += c;
    if (static_cast<double>(u) >= u_observed) tail += c;
  }
  return tail / total;
}

}  // namespace

TestValue cramer_von_mises(const Sample& a, const Sample& b) {
  if (a.n <= 1 || b.n <= 1) return {kNaN, kNaN};
  double nx = static_cast<double>(a.n), ny = static_cast<double>(b.n);
  double u = 0, pos = 0, ia = 0, ib = 0;
  merge_walk(a, b, [&](double, std::uint64_t x, std::uint64_t y) {
    double c = static_cast<double>(x + y);
    double r = pos + (c + 1) / 2;
    if (x) u += nx * sq_rank_diff(r, ia, static_cast<double>(x));
    if (y) u += ny * sq_rank_diff(r, ib, static_cast<double>(y));
    ia += static_cast<double>(x);
    ib += static_cast<double>(y);
    pos += c;
  });
  double k = nx * ny, N = nx + ny;
  double t = u / (k * N) - (4 * k - 1) / (6 * N);
  double p;
  if (std::max(a.n, b.n) <= 20) {
    p = cvm_exact_sf(a.n, b.n, u);
  } else {
    double et = (1 + 1 / N) / 6;
    double vt = (N + 1) * (4 * k * N - 3 * (nx * nx + ny * ny) - 2 * k);
    vt = vt / (45 * N * N * 4 * k);
    double tn = 1.0 / 6 + (t - et) / std::sqrt(45 * vt);
    p = tn < 0.003 ? 1.0 : std::max(0.0, 1.0 - cdf_cvm_inf(tn));
  }
  return {t, p};
}

TestValue anderson_ksamp(const Sample& a, const Sample& b) {
  if (a.n == 0 || b.n == 0) return {kNaN, kNaN};
  const double k = 2;
  double n[2] = {static_cast<double>(a.n), static_cast<double>(b.n)};
  double N = n[0] + n[1];
  if (a.distinct() + b.distinct() < 2) return {kNaN, kNaN};
  std::size_t zstar = 0;
  merge_walk(a, b, [&](double, std::uint64_t, std::uint64_t) { ++zstar; });
  if (zstar < 2) return {kNaN, kNaN};  // scipy: "anderson_ksamp needs more than one distinct observation"
  double A2 = 0, below = 0, ma = 0, mb = 0;
  merge_walk(a, b, [&](double, std::uint64_t x, std::uint64_t y) {
    double lj = (static_cast<double>(zstar) == N) ? 1.0 : static_cast<double>(x + y);
    double Bj = below + lj / 2;
    double fij[2] = {static_cast<double>(x), static_cast<double>(y)};
    double mless[2] = {ma, mb};
    for (int i = 0; i < 2; ++i) {
      double Mij = mless[i] + fij[i] - fij[i] / 2;
      double inner = lj / N * std::pow(N * Mij - Bj * n[i], 2) / (Bj * (N - Bj) - N * lj / 4);
      A2 += inner / n[i];
    }
    below += static_cast<double>(x + y);
    ma += static_cast<double>(x);
    mb += static_cast<double>(y);
  });
  A2 *= (N - 1) / N;
  double H = 1 / n[0] + 1 / n[1];
  // hs_cs = cumsum(1/(N-1), 1/(N-2), ..., 1/2); h = hs_cs[-1] + 1; g = sum(hs_cs / arange(2, N))
  auto Ni = static_cast<std::uint64_t>(N);
  double cs = 0, g = 0;
  for (std::uint64_t idx = 0; idx + 2 < Ni; ++idx) {
    cs += 1.0 / static_cast<double>(Ni - 1 - idx);
    g += cs / static_cast<double>(idx + 2);
  }
  double h = cs + 1;
  double aa = (4 * g - 6) * (k - 1) + (10 - 6 * g) * H;
  double bb = (2 * g - 4) * k * k + 8 * h * k + (2 * g - 14 * h - 4) * H - 8 * h + 4 * g - 6;
  double cc = (6 * h + 2 * g - 2) * k * k + (4 * h - 4 * g + 6) * k + (2 * h - 6) * H + 4 * h;
  double dd = (2 * h + 6) * k * k - 4 * h * k;
  double sigmasq = (aa * N * N * N + bb * N * N + cc * N + dd) / ((N - 1) * (N - 2) * (N - 3));
  double m = k - 1;
  double stat = (A2 - m) / std::sqrt(sigmasq);
  const double b0[7] = {0.675, 1.281, 1.645, 1.96, 2.326, 2.573, 3.085};
  const double b1[7] = {-0.245, 0.25, 0.678, 1.149, 1.822, 2.364, 3.615};
  const double b2[7] = {-0.105, -0.305, -0.362, -0.391, -0.396, -0.345, -0.154};
  const double sig[7] = {0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001};
  double crit[7];
  for (int i = 0; i < 7; ++i) crit[i] = b0[i] + b1[i] / std::sqrt(m) + b2[i] / m;
  double p;
  if (stat < *std::min_element(crit, crit + 7)) p = 0.25;
  else if (stat > *std::max_element(crit, crit + 7)) p = 0.001;
  else {
    // least-squares quadratic fit of log(sig) on crit (np.polyfit(crit, log(sig), 2)), centred for conditioning
    double mean = 0;
    for (double c : crit) mean += c / 7;
    double S[5] = {0, 0, 0, 0, 0}, T[3] = {0, 0, 0};
    for (int i = 0; i < 7; ++i) {
      double x = crit[i] - mean, y = std::log(sig[i]), xp = 1;
      for (int e = 0; e < 5; ++e) {
        S[e] += xp;
        if (e < 3) T[e] += xp * y;
        xp *= x;
      }
    }
    // solve [[S0 S1 S2][S1 S2 S3][S2 S3 S4]] c = T
    double M[3][4] = {{S[0], S[1], S[2], T[0]}, {S[1], S[2], S[3], T[1]}, {S[2], S[3], S[4], T[2]}};
    for (int c = 0; c < 3; ++c) {
      int piv = c;
      for (int r = c + 1; r < 3; ++r)
        if (std::fabs(M[r][c]) > std::fabs(M[piv][c])) piv = r;
      std::swap(M[c], M[piv]);
      for (int r = 0; r < 3; ++r) {
        if (r == c) continue;
        double f = M[r][c] / M[c][c];
        for (int e = c; e < 4; ++e) M[r][e] -= f * M[c][e];
      }
    }
    double c0 = M[0][3] / M[0][0], c1 = M[1][3] / M[1][1], c2 = M[2][3] / M[2][2];
    double x = stat - mean;
    p = std::exp(c0 + c1 * x + c2 * x * x);
  }
  return {stat, p};
}

TestValue mann_whitney(const Sample& a, const Sample& b) {
  if (a.n == 0 || b.n == 0) return {kNaN, kNaN};
  double n1 = static_cast<double>(a.n), n2 = static_cast<double>(b.n), n = n1 + n2;
  double R1 = 0, pos = 0, tie = 0;
  bool ties = false;
  merge_walk(a, b, [&](double, std::uint64_t x, std::uint64_t y) {
    double c = static_cast<double>(x + y);
    double r = pos + (c + 1) / 2;
    R1 += r * static_cast<double>(x);
    tie += c * c * c - c;
    if (x + y > 1) ties = true;
    pos += c;
  });
  double U1 = R1 - n1 * (n1 + 1) / 2, U2 = n1 * n2 - U1;
  // alternative="less" (Evidently): small p when a's values are stochastically smaller
  double U = U2;
  bool exact = !(a.n > 8 && b.n > 8) && !ties;
  if (exact) {
    // Distribution of U: coefficients of the Gaussian binomial [n1+n2 choose m]_q, m = min(n1, n2).
    std::uint64_t m = std::min(a.n, b.n), o = std::max(a.n, b.n);
    std::size_t deg = static_cast<std::size_t>(m * o);
    std::vector<double> c(deg + 1, 0.0);
    c[0] = 1;
    for (std::uint64_t i = 1; i <= m; ++i) {
      std::size_t sh = static_cast<std::size_t>(o + i);
      for (std::size_t kk = deg; kk >= sh; --kk) c[kk] -= c[kk - sh];
      for (std::size_t kk = static_cast<std::size_t>(i); kk <= deg; ++kk) c[kk] += c[kk - i];
    }
    double total = 0, tail = 0;
    for (std::size_t kk = 0; kk <= deg; ++kk) {
      total += c[kk];
      if (static_cast<double>(kk) >= U) tail += c[kk];
    }
    return {U1, clip01(tail / total)};
  }
  double mu = n1 * n2 / 2;
  double s = std::sqrt(n1 * n2 / 12 * ((n + 1) - tie / (n * (n - 1))));
  double z = (U - mu - 0.5) / s;
  return {U1, clip01(normal_sf(z))};
}

// ---- Epps-Singleton (scipy.stats.epps_singleton_2samp, t = (0.4, 0.8))

namespace {

using Mat4 = std::array<std::array<double, 4>, 4>;
using Vec4 = std::array<double, 4>;

// Linear-interpolated percentile of a ∪ b (numpy's default), q in [0, 1].
double pooled_percentile(const Sample& a, const Sample& b, double q) {
  double h = static_cast<double>(a.n + b.n - 1) * q;
  auto lo_rank = static_cast<std::uint64_t>(std::floor(h));
  double frac = h - std::floor(h), lo = kNaN, hi = kNaN;
  std::uint64_t seen = 0;
  merge_walk(a, b, [&](double v, std::uint64_t x, std::uint64_t y) {
    std::uint64_t next = seen + x + y;  // ranks [seen, next) hold v
    if (std::isnan(lo) && lo_rank < next) lo = v;
    if (std::isnan(hi) && lo_rank + 1 < next) hi = v;
    seen = next;
  });
  if (std::isnan(hi)) hi = lo;
  return lo + frac * (hi - lo);
}

// The empirical characteristic function terms (cos t1x, cos t2x, sin t1x, sin t2x):
// their mean and biased covariance over a sample.
void ecf_moments(const Sample& s, double t1, double t2, Vec4& mean, Mat4& cov) {
  auto g = [&](double x) { return Vec4{std::cos(t1 * x), std::cos(t2 * x), std::sin(t1 * x), std::sin(t2 * x)}; };
  double n = static_cast<double>(s.n);
  mean = {};
  cov = {};
  for (std::size_t i = 0; i < s.values.size(); ++i) {
    Vec4 v = g(s.values[i]);
    for (int k = 0; k < 4; ++k) mean[k] += static_cast<double>(s.counts[i]) * v[k] / n;
  }
  for (std::size_t i = 0; i < s.values.size(); ++i) {
    Vec4 v = g(s.values[i]);
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 4; ++c)
        cov[r][c] += static_cast<double>(s.counts[i]) * (v[r] - mean[r]) * (v[c] - mean[c]) / n;
  }
}

// Eigen-decomposition of a symmetric 4x4 matrix by cyclic Jacobi rotations:
// m becomes diagonal (the eigenvalues), vecs holds the eigenvectors as columns.
void jacobi_eigen(Mat4& m, Mat4& vecs) {
  vecs = {};
  for (int i = 0; i < 4; ++i) vecs[i][i] = 1;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int p = 0; p < 4; ++p)
      for (int q = p + 1; q < 4; ++q) off += m[p][q] * m[p][q];
    if (off < 1e-300) return;
    for (int p = 0; p < 4; ++p)
      for (int q = p + 1; q < 4; ++q) {
        if (m[p][q] == 0) continue;
        double theta = (m[q][q] - m[p][p]) / (2 * m[p][q]);
        double t = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        double c = 1 / std::sqrt(t * t + 1), sn = t * c;
        for (int k = 0; k < 4; ++k) {  // columns p, q
          double a = m[k][p], b = m[k][q];
          m[k][p] = c * a - sn * b;
          m[k][q] = sn * a + c * b;
        }
        for (int k = 0; k < 4; ++k) {  // rows p, q
          double a = m[p][k], b = m[q][k];
          m[p][k] = c * a - sn * b;
          m[q][k] = sn * a + c * b;
        }
        for (int k = 0; k < 4; ++k) {
          double a = vecs[k][p], b = vecs[k][q];
          vecs[k][p] = c * a - sn * b;
          vecs[k][q] = sn * a + c * b;
        }
      }
  }
}

// d' pinv(m) d and the rank of pinv(m), as numpy's pinv (rcond 1e-15) and matrix_rank.
std::pair<double, int> pinv_quadratic(Mat4 m, const Vec4& d) {
  Mat4 vecs;
  jacobi_eigen(m, vecs);
  double largest = 0;
  for (int k = 0; k < 4; ++k) largest = std::max(largest, std::fabs(m[k][k]));
  double form = 0, smallest_kept = 0;
  int kept = 0;
  for (int k = 0; k < 4; ++k) {
    double lambda = m[k][k];
    if (std::fabs(lambda) <= 1e-15 * largest) continue;
    double proj = 0;
    for (int i = 0; i < 4; ++i) proj += vecs[i][k] * d[i];
    form += proj * proj / lambda;
    smallest_kept = kept ? std::min(smallest_kept, std::fabs(lambda)) : std::fabs(lambda);
    ++kept;
  }
  // rank of the pseudo-inverse: singular values 1/lambda above max * 4 * eps
  int rank = 0;
  for (int k = 0; k < 4; ++k) {
    double lambda = std::fabs(m[k][k]);
    if (lambda > 1e-15 * largest && 1 / lambda > (1 / smallest_kept) * 4 * DBL_EPSILON) ++rank;
  }
  return {form, rank};
}

}  // namespace

TestValue epps_singleton(const Sample& a, const Sample& b) {
  if (a.n < 5 || b.n < 5) return {kNaN, kNaN};
  double iqr = pooled_percentile(a, b, 0.75) - pooled_percentile(a, b, 0.25);
  if (!(iqr > 0)) return {kNaN, kNaN};  // Evidently refuses a zero IQR
  double sigma = iqr / 2, nx = static_cast<double>(a.n), ny = static_cast<double>(b.n), n = nx + ny;
  Vec4 mx, my;
  Mat4 cx, cy, est;
  ecf_moments(a, 0.4 / sigma, 0.8 / sigma, mx, cx);
  ecf_moments(b, 0.4 / sigma, 0.8 / sigma, my, cy);
  Vec4 d;
  for (int r = 0; r < 4; ++r) {
    d[r] = mx[r] - my[r];
    for (int c = 0; c < 4; ++c) est[r][c] = (n / nx) * cx[r][c] + (n / ny) * cy[r][c];
  }
  auto [form, rank] = pinv_quadratic(est, d);
  double w = n * form;
  if (std::max(a.n, b.n) < 25) w /= 1.0 + std::pow(n, -0.45) + 10.1 * (std::pow(nx, -1.7) + std::pow(ny, -1.7));
  if (rank == 0) return {w, kNaN};
  return {w, clip01(chi2_sf(w, rank))};
}

TestValue t_test(double n1, double m1, double v1, double n2, double m2, double v2) {
  if (n1 < 1 || n2 < 1 || n1 + n2 <= 2) return {kNaN, kNaN};
  double df = n1 + n2 - 2;
  // sample variances (ddof=1) from population ones
  double s1 = n1 > 1 ? v1 * n1 / (n1 - 1) : 0, s2 = n2 > 1 ? v2 * n2 / (n2 - 1) : 0;
  double svar = ((n1 - 1) * s1 + (n2 - 1) * s2) / df;
  double denom = std::sqrt(svar * (1 / n1 + 1 / n2));
  if (denom == 0) return {kNaN, kNaN};
  double t = (m1 - m2) / denom;
  double p = betainc(df / 2, 0.5, df / (df + t * t));
  return {t, clip01(p)};
}

TestValue chisquare(const std::vector<double>& obs, const std::vector<double>& exp) {
  double stat = 0;
  for (std::size_t i = 0; i < obs.size(); ++i) {
    double d = obs[i] - exp[i];
    stat += d * d / exp[i];
  }
  double k = static_cast<double>(obs.size()) - 1;
  if (k <= 0) return {stat, kNaN};
  return {stat, chi2_sf(stat, k)};
}

TestValue g_test(const std::vector<double>& obs, const std::vector<double>& exp) {
  double stat = 0;
  for (std::size_t i = 0; i < obs.size(); ++i)
    if (obs[i] > 0) stat += obs[i] * std::log(obs[i] / exp[i]);
  stat *= 2;
  double k = static_cast<double>(obs.size()) - 1;
  if (k <= 0) return {stat, kNaN};
  return {stat, chi2_sf(stat, k)};
}

double fisher_exact(std::uint64_t a, std::uint64_t b, std::uint64_t c, std::uint64_t d) {
  if (a + b == 0 || c + d == 0 || a + c == 0 || b + d == 0) return 1.0;
  double n1 = static_cast<double>(a + b), n2 = static_cast<double>(c + d), n = static_cast<double>(a + c);
  double M = n1 + n2;
  auto logpmf = [&](double x) { return log_choose(n1, x) + log_choose(n2, n - x) - log_choose(M, n); };
  double lo = std::max(0.0, n - n2), hi = std::min(n, n1);
  double pexact = std::exp(logpmf(static_cast<double>(a)));
  double mode = std::floor((n + 1) * (n1 + 1) / (M + 2));
  double pmode = std::exp(logpmf(mode));
  const double eps = 1 - 1e-4;
  if (std::fabs(pexact - pmode) / std::max(pexact, pmode) <= 1 - eps) return 1.0;
  double p = 0;
  for (double x = lo; x <= hi; x += 1) {
    double px = std::exp(logpmf(x));
    if (px <= pexact / eps) p += px;
  }
  return std::min(p, 1.0);
}

std::vector<double> sturges_edges(double lo, double hi, std::uint64_t n) {
  double first = lo, last = hi;
  if (first == last) {
    first -= 0.5;
    last += 0.5;
  }
  double width = (hi - lo) / (std::log2(static_cast<double>(n)) + 1.0);
  std::size_t bins = width != 0 ? static_cast<std::size_t>(std::ceil((last - first) / width)) : 1;
  std::vector<double> e(bins + 1);
  double step = (last - first) / static_cast<double>(bins);
  for (std::size_t i = 0; i <= bins; ++i) e[i] = static_cast<double>(i) * step + first;
  e[bins] = last;
  return e;
}

std::vector<double> histogram(const Sample& s, const std::vector<double>& edges) {
  // cumulative count of values < x (left) or <= x (right)
  std::vector<std::uint64_t> cum(s.values.size() + 1, 0);
  for (std::size_t i = 0; i < s.values.size(); ++i) cum[i + 1] = cum[i] + s.counts[i];
  auto count_before = [&](double x, bool inclusive) {
    auto it = inclusive ? std::upper_bound(s.values.begin(), s.values.end(), x)
                        : std::lower_bound(s.values.begin(), s.values.end(), x);
    return cum[static_cast<std::size_t>(it - s.values.begin())];
  };
  std::vector<double> out(edges.size() - 1);
  for (std::size_t i = 0; i + 1 < edges.size(); ++i) {
    bool last = i + 2 == edges.size();
    out[i] = static_cast<double>(count_before(edges[i + 1], last) - count_before(edges[i], false));
  }
  return out;
}

namespace {
double rel_entr(double x, double y) {
  if (x > 0 && y > 0) return x * std::log(x / y);
  if (x == 0 && y >= 0) return 0;
  return std::numeric_limits<double>::infinity();
}
void normalize(std::vector<double>& p) {
  double s = 0;
  for (double v : p) s += v;
  for (double& v : p) v /= s;
}
}  // namespace

double jensenshannon(std::vector<double> p, std::vector<double> q, double base) {
  normalize(p);
  normalize(q);
  double l = 0, r = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    double m = (p[i] + q[i]) / 2;
    l += rel_entr(p[i], m);
    r += rel_entr(q[i], m);
  }
  double js = base > 0 ? (l + r) / std::log(base) : l + r;
  return std::sqrt(js / 2);
}

double kl_divergence(std::vector<double> p, std::vector<double> q) {
  normalize(p);
  normalize(q);
  double s = 0;
  for (std::size_t i = 0; i < p.size(); ++i) s += rel_entr(p[i], q[i]);
  return s;
}

double psi(const std::vector<double>& p, const std::vector<double>& q) {
  double s = 0;
  for (std::size_t i = 0; i < p.size(); ++i) s += (p[i] - q[i]) * std::log(p[i] / q[i]);
  return s;
}

void fill_zeroes(std::vector<double>& p) {
  double mn = std::numeric_limits<double>::infinity();
  for (double v : p)
    if (v != 0) mn = std::min(mn, v);
  if (!std::isfinite(mn)) return;
  double fill = mn <= 0.0001 ? mn / 1e6 : 0.0001;
  for (double& v : p)
    if (v == 0) v = fill;
}

}  // namespace mlo::monitor
