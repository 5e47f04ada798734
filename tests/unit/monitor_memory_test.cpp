// Bounded-memory profiles: exact value counts while a column's distinct
// values stay under the limit, the sketch beyond it, duplicate rows.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <random>
#include <set>
#include <unordered_set>

#include "monitor/counts.h"
#include "monitor/drift.h"
#include "monitor/profile.h"
#include "monitor/stats.h"
#include "monitor/table.h"
#include "test_util.h"

using namespace mlo;
using namespace mlo::monitor;

namespace {

Source source(const std::filesystem::path& p) { return resolve_inputs({p.string()}, nullptr, std::nullopt).at(0); }

// What the profile computed before it counted values: every value kept, then
// Neumaier-compensated two-pass moments in input order.
struct KeptMoments {
  double mean = 0, m2 = 0;
  explicit KeptMoments(const std::vector<double>& xs) {
    auto sum = [&](auto f) {
      double s = 0, c = 0;
      for (double x : xs) {
        double v = f(x), t = s + v;
        c += std::fabs(s) >= std::fabs(v) ? (s - t) + v : (v - t) + s;
        s = t;
      }
      return s + c;
    };
    mean = sum([](double x) { return x; }) / static_cast<double>(xs.size());
    m2 = sum([m = mean](double x) { return (x - m) * (x - m); });
  }
};

}  // namespace

TEST_CASE("KeyCounts: counts past 16 bits, adds in bulk, sorts") {
  KeyCounts c;
  for (int i = 0; i < 70000; ++i) c.add(5);
  c.add(7, 1ULL << 40);
  c.add(7, 3);
  c.add(3);
  CHECK(c.count(5) == 70000);
  CHECK(c.count(7) == (1ULL << 40) + 3);
  CHECK(c.count(4) == 0);
  CHECK(c.size() == 3);
  CHECK(c.sorted_keys() == std::vector<std::uint64_t>{3, 5, 7});
  CHECK(c.contains(5));
  CHECK_FALSE(c.contains(6));

  // many keys through the table's growth and the radix sort
  std::mt19937_64 rng(3);
  std::map<std::uint64_t, std::uint64_t> want;
  KeyCounts big;
  std::vector<std::uint64_t> batch;
  for (int i = 0; i < 300000; ++i) {
    std::uint64_t k = (rng() % 150000) * 0x9E3779B97F4A7C15ULL | 1;
    ++want[k];
    batch.push_back(k);
    if (batch.size() == 256) {
      big.add_batch(batch.data(), batch.size());
      batch.clear();
    }
  }
  big.add_batch(batch.data(), batch.size());
  auto keys = big.sorted_keys();
  REQUIRE(keys.size() == want.size());
  std::size_t i = 0;
  bool same = true;
  for (auto& [k, n] : want) same = same && keys[i++] == k && big.count(k) == n;
  CHECK(same);
}

TEST_CASE("a column whose values repeat is counted exactly past a million rows") {
  // Before, more than 2^20 values per column went to the sketch (approximate);
  // counting distinct values keeps this exact and memory flat.
  test::TempDir t;
  std::mt19937_64 rng(11);
  std::normal_distribution<double> nd(0, 1);
  std::string text = "big,x\n";
  std::vector<double> big, xs;
  std::unordered_set<std::string> lines;  // duplicate rows, counted here the plain way
  std::uint64_t repeats = 0;
  for (int i = 0; i < 1100000; ++i) {
    double b = 1e9 + std::round(nd(rng) * 100) / 100;  // ~1,000 distinct values at an offset
    double x = static_cast<double>(i % 7) - 3;         // -3..3, with -0 spelled once in a while
    big.push_back(b);
    xs.push_back(x);
    char line[64];
    std::snprintf(line, sizeof line, "%.2f,%s\n", b, (x == 0 && i % 2) ? "-0" : std::to_string(int(x)).c_str());
    text += line;
    repeats += !lines.insert(line).second;
  }
  test::write(t / "d.csv", text);
  ProfileOptions o;
  auto p = build_profile({source(t / "d.csv")}, o);
  REQUIRE(p.columns.size() == 2);
  // duplicate rows over many merged batches of row hashes, exact
  CHECK(p.duplicate_rows == repeats);
  CHECK_FALSE(p.duplicates_approximate);
  const ColumnProfile& c = p.columns[0];
  CHECK_FALSE(c.sample.approximate);
  CHECK(c.sample.n == big.size());
  std::map<double, std::uint64_t> want;
  for (double b : big) ++want[b];
  REQUIRE(c.sample.values.size() == want.size());
  std::size_t i = 0;
  bool same = true;
  for (auto& [v, n] : want) {
    same = same && c.sample.values[i] == v && c.sample.counts[i] == n;
    ++i;
  }
  CHECK(same);
  KeptMoments km(big);
  CHECK(c.mean == km.mean);
  CHECK(c.m2 == km.m2);
  CHECK(c.min == want.begin()->first);
  CHECK(c.max == want.rbegin()->first);
  // -0 and 0 are one value (as when every value was kept and sorted)
  const ColumnProfile& x = p.columns[1];
  CHECK(x.sample.values == std::vector<double>{-3, -2, -1, 0, 1, 2, 3});
  CHECK(x.small.size() == 7);
  KeptMoments kx(xs);
  CHECK(x.mean == kx.mean);
  CHECK(x.m2 == kx.m2);
}

TEST_CASE("more distinct values than the limit: the sketch, with exact moments and count") {
  test::TempDir t;
  std::mt19937_64 rng(5);
  std::normal_distribution<double> nd(0, 1);
  std::string text = "x\n";
  std::vector<double> xs;
  for (int i = 0; i < 20000; ++i) {
    double v = nd(rng);
    char b[32];
    std::snprintf(b, sizeof b, "%.17g\n", v);
    text += b;
    xs.push_back(v);
  }
  test::write(t / "s.csv", text);
  ProfileOptions o;
  o.exact_limit = 1000;
  auto p = build_profile({source(t / "s.csv")}, o);
  const ColumnProfile& c = p.columns[0];
  CHECK(c.sample.approximate);
  CHECK(c.sample.n == 20000);
  CHECK(c.sample.values.size() < 20000);
  KeptMoments km(xs);
  CHECK(c.mean == Approx(km.mean).epsilon(1e-12));
  CHECK(c.m2 == Approx(km.m2).epsilon(1e-12));
  // every bucket is within 2^-11 relative of the values it stands for
  std::sort(xs.begin(), xs.end());
  CHECK(c.sample.values.front() == Approx(xs.front()).epsilon(std::ldexp(1.0, -11)));
  CHECK(c.sample.values.back() == Approx(xs.back()).epsilon(std::ldexp(1.0, -11)));
}

TEST_CASE("duplicate rows: exact up to the limit of distinct rows, then estimated from a hash sample") {
  test::TempDir t;
  std::string text = "a,b\n";
  for (int rep = 0; rep < 3; ++rep)
    for (int i = 0; i < 4000; ++i) text += std::to_string(i) + ",r" + std::to_string(i % 13) + "\n";
  test::write(t / "d.csv", text);
  ProfileOptions o;
  auto exact = build_profile({source(t / "d.csv")}, o);
  CHECK(exact.duplicate_rows == 8000);
  CHECK_FALSE(exact.duplicates_approximate);
  o.duplicate_limit = 500;
  auto est = build_profile({source(t / "d.csv")}, o);
  CHECK(est.duplicates_approximate);
  // a hash sample of about 1/8 of the 4,000 distinct rows, scaled back
  CHECK(est.duplicate_rows > 6000);
  CHECK(est.duplicate_rows < 10000);
}

TEST_CASE("every numerical drift method on the sketch stays within its documented bound of the exact result") {
  // Two continuous columns (every value distinct) with a small shift, so the
  // p-values are neither 0 nor 1: the exact profiles count every value, the
  // sketch ones (limit 1,000 distinct) round them to 11 significant bits.
  test::TempDir t;
  std::mt19937_64 rng(17);
  std::normal_distribution<double> a(10, 2), b(10.05, 2.1);
  std::string ta = "x\n", tb = "x\n";
  char line[32];
  for (int i = 0; i < 30000; ++i) {
    std::snprintf(line, sizeof line, "%.17g\n", a(rng));
    ta += line;
    std::snprintf(line, sizeof line, "%.17g\n", b(rng));
    tb += line;
  }
  test::write(t / "a.csv", ta);
  test::write(t / "b.csv", tb);
  ProfileOptions exact, sketch;
  sketch.exact_limit = 1000;
  auto ea = build_profile({source(t / "a.csv")}, exact).columns[0], eb = build_profile({source(t / "b.csv")}, exact).columns[0];
  auto sa = build_profile({source(t / "a.csv")}, sketch).columns[0], sb = build_profile({source(t / "b.csv")}, sketch).columns[0];
  REQUIRE(sa.sample.approximate);
  REQUIRE_FALSE(ea.sample.approximate);
  // method -> (bound, relative?) as in man mlo-monitor, MEMORY AND ACCURACY
  const std::map<std::string, std::pair<double, bool>> bounds = {
      {"ks", {0.01, false}},        {"wasserstein", {1e-3, true}}, {"psi", {0.01, true}},
      {"kl_div", {0.01, true}},     {"jensenshannon", {0.01, true}},
      {"anderson", {0.01, false}},  {"cramer_von_mises", {0.01, false}}, {"mannw", {0.01, false}},
      {"t_test", {1e-9, false}},    {"energy", {1e-3, true}},       {"es", {0.01, false}}};
  for (auto& [method, bound] : bounds) {
    DriftOptions o;
    o.all.method = method;
    auto e = column_drift(ea, eb, o), s = column_drift(sa, sb, o);
    REQUIRE(e.error.empty());
    double diff = std::fabs(s.score - e.score), allowed = bound.second ? bound.first * std::fabs(e.score) : bound.first;
    INFO(method << ": exact " << e.score << ", sketch " << s.score);
    CHECK(diff <= allowed);
    CHECK(s.approximate);
  }
  // hellinger's bin count follows the distinct values (Sturges), which the
  // sketch undercounts: no bound (man page), but marked approximate
  DriftOptions o;
  o.all.method = "hellinger";
  CHECK(column_drift(sa, sb, o).approximate);
}
