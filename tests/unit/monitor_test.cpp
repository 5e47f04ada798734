#include <catch2/catch.hpp>

#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <random>

#include "core/error.h"
#include "monitor/drift.h"
#include "monitor/mmd.h"
#include "monitor/monitor.h"
#include "monitor/profile.h"
#include "monitor/stats.h"
#include "monitor/table.h"
#include "registry/fairness.h"
#include "repo/repo.h"
#include "test_util.h"

using namespace mlo;
using namespace mlo::monitor;

namespace {

Source csv(const std::filesystem::path& p) {
  return resolve_inputs({p.string()}, nullptr, std::nullopt).at(0);
}

std::vector<std::vector<std::string>> read_all(const std::filesystem::path& p, std::vector<Malformed>* bad = nullptr,
                                               std::vector<std::string>* names = nullptr) {
  std::vector<std::vector<std::string>> rows;
  RowVisitor v;
  v.header = [&](const std::vector<std::string>& n) { if (names) *names = n; };
  v.row = [&](const std::vector<Cell>& cells, std::string_view) {
    std::vector<std::string> r;
    for (auto& c : cells) r.push_back(c.missing ? "<NA>" : std::string(c.text));
    rows.push_back(r);
  };
  v.malformed = [&](const Malformed& m) { if (bad) bad->push_back(m); };
  read_table(csv(p), ReadOptions{}, v);
  return rows;
}

}  // namespace

TEST_CASE("CSV reader: RFC 4180 quoting, CRLF, missing tokens, malformed rows with line numbers") {
  test::TempDir t;
  test::write(t / "a.csv", "x,y\r\n1,\"a,b\"\r\n\"2\",\"he said \"\"hi\"\"\"\r\nNA,\"two\nlines\"\r\n3\r\n4,null\r\n");
  std::vector<Malformed> bad;
  std::vector<std::string> names;
  auto rows = read_all(t / "a.csv", &bad, &names);
  CHECK(names == std::vector<std::string>{"x", "y"});
  REQUIRE(rows.size() == 4);
  CHECK(rows[0] == std::vector<std::string>{"1", "a,b"});
  CHECK(rows[1] == std::vector<std::string>{"2", "he said \"hi\""});
  CHECK(rows[2] == std::vector<std::string>{"<NA>", "two\nlines"});
  CHECK(rows[3] == std::vector<std::string>{"4", "<NA>"});
  REQUIRE(bad.size() == 1);
  CHECK(bad[0].line == 6);
}

TEST_CASE("CSV reader: records larger than the read buffer, no header detection for numeric first rows") {
  test::TempDir t;
  std::string big(3 << 20, 'z');
  test::write(t / "b.csv", "1,2\n3,\"" + big + "\"\n");
  std::vector<std::string> names;
  auto rows = read_all(t / "b.csv", nullptr, &names);
  CHECK(names == std::vector<std::string>{"column_1", "column_2"});
  REQUIRE(rows.size() == 2);
  CHECK(rows[1][1].size() == big.size());
}

TEST_CASE("JSON Lines: request-log shape flattens inputs and outputs; bad lines are malformed") {
  test::TempDir t;
  test::write(t / "r.jsonl",
              "{\"ts\":1,\"model\":\"m\",\"inputs\":{\"a\":1.5,\"b\":\"x\"},\"outputs\":{\"p\":0.2}}\n"
              "[1,2]\n"
              "{\"ts\":2,\"model\":\"m\",\"inputs\":{\"a\":null,\"b\":\"y\"},\"outputs\":{\"p\":0.9}}\n");
  std::vector<Malformed> bad;
  std::vector<std::string> names;
  auto rows = read_all(t / "r.jsonl", &bad, &names);
  CHECK(names == std::vector<std::string>{"ts", "model", "a", "b", "p"});
  REQUIRE(rows.size() == 2);
  CHECK(rows[1][2] == "<NA>");
  REQUIRE(bad.size() == 1);
  CHECK(bad[0].line == 2);
}

TEST_CASE("numbers and timestamps") {
  double v;
  CHECK(parse_number(" 1e3 ", v));
  CHECK(v == 1000);
  CHECK(parse_number("-inf", v));
  CHECK(std::isinf(v));
  CHECK_FALSE(parse_number("12abc", v));
  CHECK(parse_timestamp("2024-05-01T00:00:00Z").value() == 1714521600);
  CHECK(parse_timestamp("2024-05-01 02:00:00+02:00").value() == 1714521600);
  CHECK(parse_timestamp("1714521600").value() == 1714521600);
  CHECK(parse_duration("1d") == 86400);
  CHECK_THROWS_AS(parse_duration("soon"), UsageError);
}

namespace {
// parse_number's meaning spelled plainly: blanks trimmed, one '+' dropped,
// then the whole rest must be a from_chars decimal. Nullopt: not a number;
// out-of-range spellings are left out (the caller skips them).
std::optional<std::optional<double>> plain_number(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range) return std::nullopt;
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::optional<double>();
  return std::optional<double>(v);
}

void check_same_number(const std::string& t) {
  auto want = plain_number(t);
  if (!want) return;
  double got = 0;
  INFO("cell '" << t << "'");
  REQUIRE(parse_number(t, got) == want->has_value());
  if (*want) REQUIRE(std::memcmp(&got, &**want, sizeof got) == 0);
}
}  // namespace

TEST_CASE("numbers: short cells (the in-register path) parse bit for bit as from_chars, and every other cell too") {
  // Every string of up to 5 symbols over digits, point, signs, blank, exponent, a letter.
  const std::string alphabet = "0159.-+ ex";
  std::string t;
  std::function<void(std::size_t)> all = [&](std::size_t len) {
    if (t.size() == len) return check_same_number(t);
    for (char c : alphabet) {
      t.push_back(c);
      all(len);
      t.pop_back();
    }
  };
  for (std::size_t len = 1; len <= 5; ++len) all(len);
  // Random 6..10-byte cells, mostly digits: the 8-byte edge and the fallback after it.
  std::mt19937_64 rng(7);
  const std::string digits_heavy = "0123456789012345678901234567890123456789..-";
  for (int i = 0; i < 300000; ++i) {
    t.assign(6 + rng() % 5, '0');
    for (auto& c : t) c = digits_heavy[rng() % digits_heavy.size()];
    check_same_number(t);
  }
  double v = 0;
  CHECK((parse_number("-0", v) && std::signbit(v) && v == 0));
  CHECK((parse_number("12.3456", v) && v == 12.3456));
  CHECK((parse_number("-12.3456", v) && v == -12.3456));
  CHECK((parse_number("99999999", v) && v == 99999999.0));
  CHECK((parse_number(".5", v) && v == 0.5));
  CHECK((parse_number("5.", v) && v == 5.0));
  for (const char* no : {".", "-", "-.", "1.2.3", "1-2", "1.-2", "v12", "1\x80", "\xb0"}) CHECK_FALSE(parse_number(no, v));
  // Out of a double's range: too large is infinite, too small is zero or a
  // subnormal (it was read as +inf).
  CHECK((parse_number("1e400", v) && v == HUGE_VAL));
  CHECK((parse_number("-1e400", v) && v == -HUGE_VAL));
  CHECK((parse_number("1e-400", v) && v == 0 && !std::signbit(v)));
  CHECK((parse_number("-1e-400", v) && v == 0 && std::signbit(v)));
  CHECK((parse_number("3e-324", v) && v == std::numeric_limits<double>::denorm_min()));
  CHECK((parse_number("4e-320", v) && v > 0 && v < std::numeric_limits<double>::min()));
  // A short cell inside a longer buffer: nothing past its end is read.
  std::string buffer = "1.5" "7777";
  CHECK((parse_number(std::string_view(buffer).substr(0, 3), v) && v == 1.5));
}

TEST_CASE("statistics: known values") {
  Sample a = make_sample({1, 2, 3, 4, 5}), b = make_sample({3, 4, 5, 6, 7});
  CHECK(wasserstein(a, b) == Approx(2.0));
  TestValue ks = ks_2samp(a, b);
  CHECK(ks.statistic == Approx(0.4));
  CHECK(ks.p_value == Approx(0.873015873015873).epsilon(1e-12));  // scipy.stats.ks_2samp
  CHECK(chi2_sf(3.84145882069412, 1) == Approx(0.05).epsilon(1e-9));
  CHECK(student_t_sf(2.0, 10) == Approx(0.03669401738537018).epsilon(1e-9));
  CHECK(normal_sf(1.959963984540054) == Approx(0.025).epsilon(1e-12));
  CHECK(fisher_exact(8, 2, 1, 5) == Approx(0.03496503496503495).epsilon(1e-9));
  auto e = sturges_edges(0, 10, 100);
  CHECK(e.size() == 9);  // ceil(log2(100) + 1) = 8 bins
  CHECK(e.back() == 10);
}

TEST_CASE("default drift method follows Evidently by reference size and distinct values") {
  auto num = [](std::vector<double> v) {
    ColumnProfile p;
    p.type = ColumnType::numerical;
    p.sample = make_sample(v);
    std::map<double, std::uint64_t> m;
    for (double x : v) ++m[x];
    if (m.size() > 21) p.small_overflow = true;
    else p.small.assign(m.begin(), m.end());
    return p;
  };
  std::vector<double> many, few, two;
  for (int i = 0; i < 1500; ++i) {
    many.push_back(i * 0.5);
    few.push_back(i % 4);
    two.push_back(i % 2);
  }
  CHECK(default_method(num(many), num(many)) == "wasserstein");
  CHECK(default_method(num(few), num(few)) == "jensenshannon");
  std::vector<double> small_many(many.begin(), many.begin() + 500), small_few(few.begin(), few.begin() + 500),
      small_two(two.begin(), two.begin() + 500);
  CHECK(default_method(num(small_many), num(small_many)) == "ks");
  CHECK(default_method(num(small_few), num(small_few)) == "chisquare");
  CHECK(default_method(num(small_two), num(small_two)) == "z");
  CHECK(find_method("ed").name == "energy");
  CHECK_THROWS_AS(find_method("nope"), InputError);
}

TEST_CASE("the bounded-memory sketch stays within its documented tolerance") {
  test::TempDir t;
  std::mt19937_64 rng(7);
  std::normal_distribution<double> n1(0, 1), n2(0.2, 1.1);
  std::string a = "x\n", b = "x\n";
  for (int i = 0; i < 60000; ++i) {
    a += std::to_string(n1(rng)) + "\n";
    b += std::to_string(n2(rng)) + "\n";
  }
  test::write(t / "a.csv", a);
  test::write(t / "b.csv", b);
  ProfileOptions exact, sketch;
  sketch.exact_limit = 1000;
  auto ea = build_profile({csv(t / "a.csv")}, exact), eb = build_profile({csv(t / "b.csv")}, exact);
  auto sa = build_profile({csv(t / "a.csv")}, sketch), sb = build_profile({csv(t / "b.csv")}, sketch);
  REQUIRE(sa.columns[0].sample.approximate);
  REQUIRE_FALSE(ea.columns[0].sample.approximate);
  CHECK(sa.columns[0].sample.n == 60000);
  // moments are exact either way (streamed in the sketch, two-pass when kept: equal to rounding)
  CHECK(sa.columns[0].mean == Approx(ea.columns[0].mean).epsilon(1e-12));
  CHECK(sa.columns[0].variance() == Approx(ea.columns[0].variance()).epsilon(1e-12));
  double we = wasserstein(ea.columns[0].sample, eb.columns[0].sample);
  double ws = wasserstein(sa.columns[0].sample, sb.columns[0].sample);
  CHECK(std::fabs(ws - we) <= 1e-3 * we);
  double ke = ks_2samp(ea.columns[0].sample, eb.columns[0].sample).statistic;
  double kk = ks_2samp(sa.columns[0].sample, sb.columns[0].sample).statistic;
  CHECK(std::fabs(ke - kk) <= 2e-3);
}

TEST_CASE("profiles round-trip through their serialisation") {
  test::TempDir t;
  test::write(t / "p.csv", "a,b,c\n1,x,0.5\n2,y,\n2,x,inf\n1,x,0.5\n");
  ProfileOptions o;
  auto p = build_profile({csv(t / "p.csv")}, o);
  CHECK(p.duplicate_rows == 1);
  auto q = parse_profile(serialize_profile(p), "test");
  REQUIRE(q.columns.size() == 3);
  CHECK(q.columns[0].sample.values == p.columns[0].sample.values);
  CHECK(q.columns[0].sample.counts == p.columns[0].sample.counts);
  CHECK(q.columns[1].categories == p.columns[1].categories);
  CHECK(q.columns[2].infinite == 1);
  CHECK(q.columns[2].missing == 1);
  CHECK_THROWS_AS(parse_profile("garbage", "x"), InputError);
}

TEST_CASE("a profile with an empty column round-trips; a corrupt value count is an error, not a crash") {
  // the all-missing column has no sample values: parse_profile used to hand
  // memcpy a null pointer for it (UBSan: "null pointer passed as argument 2")
  test::TempDir t;
  test::write(t / "e.csv", "a,empty\n1,\n2,\n");
  ProfileOptions o;
  auto p = build_profile({csv(t / "e.csv")}, o);
  std::string bytes = serialize_profile(p);
  auto q = parse_profile(bytes, "test");
  REQUIRE(q.columns.size() == 2);
  CHECK(q.columns[1].sample.values.empty());
  CHECK(q.columns[1].missing == 2);
  CHECK_THROWS_AS(parse_profile(bytes.substr(0, bytes.size() - 3), "test"), InputError);
}

TEST_CASE("results are kept in the store and the index can be rebuilt from it") {
  test::TempDir t;
  test::git_init(t.path());
  init_repo(t.path(), {});
  Repo repo = Repo::open(t.path());
  test::write(t / "ref.csv", "a,b\n1,x\n2,y\n3,x\n4,y\n5,x\n6,y\n");
  test::write(t / "cur.csv", "a,b\n7,x\n8,x\n9,x\n10,x\n11,x\n12,x\n");
  MonitorSpec s;
  s.name = "m";
  s.reference = {(t / "ref.csv").string()};
  s.current = {(t / "cur.csv").string()};
  auto r = run_monitor(s, &repo);
  std::string id = record_result(repo, r);
  CHECK(history(repo, "m", 10).size() == 1);
  repo.index().exec("DELETE FROM monitor_results; DELETE FROM monitor_columns;");
  CHECK(history(repo, "m", 10).empty());
  rebuild_monitor_index(repo);
  auto h = history(repo, "m", 10);
  REQUIRE(h.size() == 1);
  CHECK(h[0]["id"] == id);
  CHECK(h[0]["columns"].contains("a"));
}

namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p);
  REQUIRE(f.good());
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::vector<std::string> tab_split(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string field;
  while (std::getline(ss, field, '\t')) out.push_back(field);
  return out;
}

// The rows of man mlo-monitor's DRIFT METHODS table (.TS ... .TE).
std::vector<std::vector<std::string>> man_method_rows(const std::string& man) {
  auto section = man.find(".SH DRIFT METHODS");
  REQUIRE(section != std::string::npos);
  auto ts = man.find(".TS", section), te = man.find(".TE", section);
  REQUIRE(ts < te);
  std::stringstream body(man.substr(ts, te - ts));
  std::vector<std::vector<std::string>> rows;
  std::string line;
  std::getline(body, line);  // .TS
  std::getline(body, line);  // column format
  // A cell may be a text block ("T{", its lines, then "T}" and the rest of
  // the row): joined into one logical row, its lines by spaces.
  std::string row, block;
  bool in_block = false;
  auto ends_block_start = [](const std::string& l) { return l.size() >= 2 && l.compare(l.size() - 2, 2, "T{") == 0; };
  while (std::getline(body, line)) {
    if (in_block) {
      if (line.rfind("T}", 0) != 0) {
        block += (block.empty() ? "" : " ") + line;
        continue;
      }
      row += block;  // the block ends; the rest of this line continues the row
      block.clear();
      in_block = false;
      line = line.substr(2);
    }
    if (ends_block_start(line)) {
      row += line.substr(0, line.size() - 2);
      in_block = true;
      continue;
    }
    row += line;
    if (!row.empty()) rows.push_back(tab_split(row));
    row.clear();
  }
  return rows;
}

}  // namespace

TEST_CASE("man mlo-monitor and the monitors schema list exactly the registered drift methods") {
  const char* src = std::getenv("MLO_TEST_SOURCE_DIR");
  if (!src) {
    WARN("skipped: needs MLO_TEST_SOURCE_DIR (set by ctest)");
    return;
  }
  std::filesystem::path root(src);
  auto rows = man_method_rows(slurp(root / "man" / "mlo-monitor.1"));
  const auto& methods = drift_methods();
  REQUIRE(rows.size() == methods.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    INFO("man page row " << i + 1 << ": " << rows[i][0]);
    REQUIRE(rows[i].size() == 5);
    const MethodInfo& m = find_method(rows[i][0]);
    CHECK(m.name == rows[i][0]);
    std::string kinds = m.numerical && m.categorical ? "num, cat" : m.numerical ? "num" : "cat";
    CHECK(rows[i][2] == kinds);
    CHECK(std::stod(rows[i][3]) == m.default_threshold);
    CHECK(rows[i][4] == (m.p_value ? "p " : "") + m.drift_when + " threshold");
  }
  auto schema = nlohmann::json::parse(slurp(root / "schemas" / "mlo-monitors.schema.json"));
  std::set<std::string> in_schema, in_table;
  for (auto& n : schema["$defs"]["method"]["enum"]) in_schema.insert(n.get<std::string>());
  for (auto& m : methods) in_table.insert(m.name);
  CHECK(in_schema == in_table);
}

TEST_CASE("t_test keeps its precision with a large offset (1e9 + noise)") {
  // A plain running sum of 200,000 values near 1e9 moves each mean by ~1e-5.
  // The reference sums in long double; a double mean (numpy's too) is still
  // rounded to ~1e-7 near 1e9, hence 2e-5 relative on a difference of ~0.1.
  test::TempDir t;
  std::mt19937_64 rng(42);
  std::normal_distribution<double> noise(0, 1);
  std::vector<double> a(200000), b(200000);
  for (auto& v : a) v = 1e9 + noise(rng);
  for (auto& v : b) v = 1e9 + 0.1 + noise(rng);
  auto write_col = [&](const std::filesystem::path& p, const std::vector<double>& xs) {
    std::ofstream f(p);
    f << "x\n";
    char buf[40];
    for (double v : xs) {
      std::snprintf(buf, sizeof buf, "%.17g\n", v);
      f << buf;
    }
  };
  write_col(t / "a.csv", a);
  write_col(t / "b.csv", b);
  ProfileOptions o;
  auto pa = build_profile({csv(t / "a.csv")}, o), pb = build_profile({csv(t / "b.csv")}, o);
  DriftOptions d;
  d.all.method = "t_test";
  ColumnDrift r = column_drift(pa.columns[0], pb.columns[0], d);
  auto moments = [](const std::vector<double>& xs) {
    long double s = 0, ss = 0;
    for (double v : xs) s += v;
    long double m = s / xs.size();
    for (double v : xs) ss += (v - m) * (v - m);
    return std::pair<long double, long double>{m, ss};
  };
  auto [ma, ssa] = moments(a);
  auto [mb, ssb] = moments(b);
  long double n = a.size(), pooled = (ssa + ssb) / (2 * n - 2);
  double expected_t = static_cast<double>((ma - mb) / std::sqrt(pooled * (2 / n)));
  REQUIRE(r.statistic.has_value());
  CHECK(*r.statistic == Approx(expected_t).epsilon(2e-5));
  // the check can fail: the plain running sum misses by more than that
  double sa = 0, sb = 0;
  for (double v : a) sa += v;
  for (double v : b) sb += v;
  double naive_t = (sa / n - sb / n) / static_cast<double>(std::sqrt(pooled * (2 / n)));
  CHECK(naive_t != Approx(expected_t).epsilon(2e-5));
}

namespace {
Sample sample_of(std::vector<double> v) { return make_sample(std::move(v)); }

// Evidently's MMD written directly over all pairs (O(n^2), small n only).
double brute_force_mmd(const std::vector<double>& x, const std::vector<double>& y) {
  std::vector<double> dxx;
  for (double a : x)
    for (double b : x) dxx.push_back((a - b) * (a - b));
  std::sort(dxx.begin(), dxx.end());
  double idx = 0.5 * static_cast<double>(dxx.size() - 1);
  auto k = static_cast<std::size_t>(std::nearbyint(idx));  // round half to even, as numpy's "nearest"
  double sigma = std::sqrt(0.5 * dxx[k]);
  if (sigma == 0) sigma = std::sqrt(0.5);
  double g = 1 / (2 * sigma * sigma);
  auto kern = [&](double a, double b) { return std::exp(-g * (a - b) * (a - b)); };
  double xx = 0, yy = 0, xy = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    for (std::size_t j = 0; j < x.size(); ++j) xx += i == j ? 0 : kern(x[i], x[j]);
  for (std::size_t i = 0; i < y.size(); ++i)
    for (std::size_t j = 0; j < y.size(); ++j) yy += i == j ? 0 : kern(y[i], y[j]);
  for (double a : x)
    for (double b : y) xy += kern(a, b);
  double n = static_cast<double>(x.size()), m = static_cast<double>(y.size());
  return xx / (n * (n - 1)) + yy / (m * (m - 1)) - 2 * xy / (n * m);
}
}  // namespace

TEST_CASE("empirical_mmd: Evidently's statistic, a seeded p-value that repeats, undefined below 2 values") {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> a(0, 1), b(0.8, 1);
  std::vector<double> x, y;
  for (int i = 0; i < 40; ++i) x.push_back(std::round(a(rng) * 10) / 10);  // ties
  for (int i = 0; i < 30; ++i) y.push_back(b(rng));
  TestValue t1 = empirical_mmd(sample_of(x), sample_of(y));
  TestValue t2 = empirical_mmd(sample_of(x), sample_of(y));
  CHECK(t1.statistic == Approx(brute_force_mmd(x, y)).epsilon(1e-10));
  CHECK(t1.p_value == t2.p_value);
  CHECK(t1.p_value < 0.1);  // a shift of 0.8 sd with 70 values: drift
  // another seed draws other permutations
  TestValue other = empirical_mmd(sample_of(x), sample_of(x), 1);
  CHECK(other.p_value > 0.5);
  CHECK(std::isnan(empirical_mmd(sample_of({1.0}), sample_of(y)).p_value));
  // identical constant sides: every permutation ties with the observed 0
  CHECK(empirical_mmd(sample_of({3, 3, 3}), sample_of({3, 3})).p_value == 1.0);
}

namespace {
ColumnProfile int_column(const std::string& name, std::vector<std::pair<std::string, std::uint64_t>> texts,
                         std::uint64_t missing = 0) {
  ColumnProfile c;
  c.name = name;
  c.type = ColumnType::numerical;
  c.missing = missing;
  std::vector<double> vals;
  for (auto& [t, n] : texts) {
    c.categories.emplace_back(t, n);
    for (std::uint64_t k = 0; k < n; ++k) vals.push_back(std::stod(t));
    c.small.emplace_back(std::stod(t), n);
  }
  c.sample = make_sample(vals);
  c.min = c.sample.values.front();
  c.max = c.sample.values.back();
  c.rows = c.sample.n + missing;
  return c;
}
}  // namespace

TEST_CASE("Evidently's column types: integers with at most 5 reference values are categorical") {
  auto ref = int_column("grade", {{"1", 5}, {"2", 5}, {"3", 4}, {"4", 2}, {"5", 1}});
  auto cur = int_column("grade", {{"1", 3}, {"6", 2}});
  CHECK(evidently_column_type(ref, &cur, ColumnRole::feature, "") == ColumnType::categorical);
  // six distinct reference values: numerical
  auto six = int_column("g", {{"1", 1}, {"2", 1}, {"3", 1}, {"4", 1}, {"5", 1}, {"6", 1}});
  CHECK(evidently_column_type(six, &cur, ColumnRole::feature, "") == ColumnType::numerical);
  // floats are not an integer dtype; a missing current value makes it float
  auto floats = int_column("f", {{"1.0", 3}, {"2.5", 3}});
  CHECK(evidently_column_type(floats, &floats, ColumnRole::feature, "") == ColumnType::numerical);
  auto cur_missing = int_column("grade", {{"1", 3}}, 1);
  CHECK(evidently_column_type(ref, &cur_missing, ColumnRole::feature, "") == ColumnType::numerical);
  // the target: at most 5 values is categorical whatever the dtype, unless regression
  CHECK(evidently_column_type(floats, &floats, ColumnRole::target, "") == ColumnType::categorical);
  CHECK(evidently_column_type(floats, &floats, ColumnRole::target, "regression") == ColumnType::numerical);
  CHECK(evidently_column_type(six, &six, ColumnRole::target, "classification") == ColumnType::categorical);
  // a probability prediction stays numerical; labels outside [0, 1] are categorical
  auto probs = int_column("p", {{"0.25", 2}, {"0.75", 2}});
  CHECK(evidently_column_type(probs, &probs, ColumnRole::prediction, "") == ColumnType::numerical);
  CHECK(evidently_column_type(floats, &floats, ColumnRole::prediction, "") == ColumnType::categorical);
}

TEST_CASE("fairness gates parse METRIC(COLUMN) OP NUMBER and name what is wrong") {
  auto g = registry::parse_fairness_gate("demographic_parity_ratio(gender) >= 0.8", "mlo.yaml: gates.fairness");
  CHECK(g.metric == "demographic_parity_ratio");
  CHECK(g.column == "gender");
  CHECK(g.op == ">=");
  CHECK(g.value == 0.8);
  auto h = registry::parse_fairness_gate(" equal_opportunity_difference( age band ) <0.1", "w");
  CHECK(h.column == "age band");
  CHECK(h.op == "<");
  CHECK_THROWS_WITH(registry::parse_fairness_gate("dp_ratio(gender) >= 0.8", "w"),
                    Catch::Contains("unknown fairness metric 'dp_ratio'"));
  CHECK_THROWS_WITH(registry::parse_fairness_gate("demographic_parity_ratio >= 0.8", "w"),
                    Catch::Contains("bad fairness gate"));
  CHECK(registry::parse_fairness_gate("min_f1(g) >= 0.5", "w").metric == "min_f1");  // digits in names
  CHECK_THROWS_AS(registry::parse_fairness_gate("min_f1(g) >= 0.8.1", "w"), InputError);
}
