// Two-sample statistics on compact sorted samples, written to give the same
// numbers as scipy (the reference implementation Evidently calls). A sample
// is a sorted list of distinct finite values with counts, so exact data and
// the bounded-memory sketch (values rounded to 11 significant bits) go
// through the same code.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mlo::monitor {

struct Sample {
  std::vector<double> values;          // sorted ascending, distinct
  std::vector<std::uint64_t> counts;   // same length, > 0
  std::uint64_t n = 0;                 // sum of counts
  bool approximate = false;            // values are sketch buckets, not exact
  std::size_t distinct() const { return values.size(); }
};

// Builds a Sample from raw values (sorts them; non-finite values must be removed first).
Sample make_sample(std::vector<double> values);

struct TestValue {
  double statistic = 0;
  double p_value = -1;  // -1: the method has no p-value
};

// scipy.stats.ks_2samp (two-sided, method auto: exact for max(n1,n2) <= 10000, else kstwo).
TestValue ks_2samp(const Sample& a, const Sample& b);
// scipy.stats.wasserstein_distance / energy_distance
double wasserstein(const Sample& a, const Sample& b);
double energy_distance(const Sample& a, const Sample& b);
// scipy.stats.cramervonmises_2samp as Evidently copies it (exact when max(n) <= 20).
TestValue cramer_von_mises(const Sample& a, const Sample& b);
// scipy.stats.anderson_ksamp (midrank, k=2): normalized statistic and interpolated p (capped 0.25, floored 0.001).
TestValue anderson_ksamp(const Sample& a, const Sample& b);
// scipy.stats.mannwhitneyu(a, b, alternative="less") as Evidently calls it
// (continuity correction, method auto). The statistic is U of a.
TestValue mann_whitney(const Sample& a, const Sample& b);
// scipy.stats.epps_singleton_2samp (t = 0.4, 0.8): statistic W and chi2 p-value.
// NaN when a side has fewer than 5 values or the pooled IQR is 0 (Evidently refuses both).
TestValue epps_singleton(const Sample& a, const Sample& b);
// scipy.stats.ttest_ind (equal variances) from moments; var is the population variance (ddof=0).
TestValue t_test(double n1, double mean1, double var1, double n2, double mean2, double var2);

// scipy.stats.chisquare(f_obs, f_exp) and power_divergence(lambda_="log-likelihood").
TestValue chisquare(const std::vector<double>& obs, const std::vector<double>& exp);
TestValue g_test(const std::vector<double>& obs, const std::vector<double>& exp);
// scipy.stats.fisher_exact([[a, b], [c, d]]) two-sided p-value.
double fisher_exact(std::uint64_t a, std::uint64_t b, std::uint64_t c, std::uint64_t d);

// numpy: np.histogram_bin_edges(x, "sturges") for n values in [lo, hi], and np.histogram counts.
std::vector<double> sturges_edges(double lo, double hi, std::uint64_t n);
std::vector<double> histogram(const Sample& s, const std::vector<double>& edges);

// Distances between two probability vectors (scipy.spatial.distance.jensenshannon,
// natural log unless a base is given, as Evidently calls it; scipy.stats.entropy
// for KL; PSI as Evidently).
double jensenshannon(std::vector<double> p, std::vector<double> q, double base = 0);
double kl_divergence(std::vector<double> p, std::vector<double> q);
double psi(const std::vector<double>& p, const std::vector<double>& q);
// Evidently's get_binned_data(feel_zeroes=True) replacement of zero shares.
void fill_zeroes(std::vector<double>& p);

// Special functions.
double normal_sf(double z);
double chi2_sf(double x, double k);
double student_t_sf(double t, double df);
// scipy.stats.kstwo.sf(d, n): the one-sample two-sided Kolmogorov distribution.
double kolmogorov_sf(double d, std::uint64_t n);

}  // namespace mlo::monitor
