// The closed loop's pure parts: cron schedules, webhook signatures, and the
// A/B statistics (numbers measured with scipy 1.10, as commented).
#include <catch2/catch.hpp>

#include "core/error.h"
#include "deploy/experiment.h"
#include "notify/notify.h"
#include "triggers/cron.h"

using namespace mlo;

namespace {
std::int64_t utc(int y, int mo, int d, int h, int mi) {
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  return static_cast<std::int64_t>(timegm(&tm));
}
}  // namespace

TEST_CASE("cron: the latest matching minute at or before now", "[loop]") {
  std::int64_t fri = utc(2026, 12, 4, 10, 15) + 7;  // Friday 2026-12-04 10:15:07 UTC
  auto slot = [&](const char* c) { return triggers::latest_slot(triggers::parse_cron(c, "t"), fri); };
  CHECK(slot("0 3 * * *") == utc(2026, 12, 4, 3, 0));
  CHECK(slot("*/15 * * * *") == utc(2026, 12, 4, 10, 15));
  CHECK(slot("20-40/10 * * * *") == utc(2026, 12, 4, 9, 40));
  CHECK(slot("0 0 * * 1") == utc(2026, 11, 30, 0, 0));  // Monday
  CHECK(slot("0 0 * * 7") == utc(2026, 11, 29, 0, 0));  // 7 is Sunday too
  CHECK(slot("@daily") == utc(2026, 12, 4, 0, 0));
  CHECK(slot("@monthly") == utc(2026, 12, 1, 0, 0));
  CHECK(slot("30 12 1,15 * *") == utc(2026, 12, 1, 12, 30));
  // both day fields restricted: either matches (cron's rule)
  CHECK(slot("0 0 1 * 3") == utc(2026, 12, 2, 0, 0));
  CHECK_FALSE(slot("0 0 31 2 *"));  // never
  auto next = triggers::next_slot(triggers::parse_cron("0 3 * * *", "t"), fri);
  CHECK(next == utc(2026, 12, 5, 3, 0));
  CHECK(triggers::next_slot(triggers::parse_cron("*/15 * * * *", "t"), utc(2026, 12, 4, 10, 15)) == utc(2026, 12, 4, 10, 30));
}

TEST_CASE("cron: bad schedules name the field", "[loop]") {
  CHECK_THROWS_WITH(triggers::parse_cron("0 3 * *", "mlo.yaml:4"), Catch::Contains("mlo.yaml:4") && Catch::Contains("4 fields"));
  CHECK_THROWS_WITH(triggers::parse_cron("61 * * * *", "w"), Catch::Contains("minute") && Catch::Contains("0-59"));
  CHECK_THROWS_WITH(triggers::parse_cron("0 x * * *", "w"), Catch::Contains("hour"));
  CHECK_THROWS_WITH(triggers::parse_cron("*/0 * * * *", "w"), Catch::Contains("step of 0"));
  CHECK_THROWS_AS(triggers::parse_cron("0 0 0 * *", "w"), InputError);
}

TEST_CASE("notify: the webhook signature is HMAC-SHA256 of the body", "[loop]") {
  // RFC 4231 test case 2
  CHECK(notify::signature_header("Jefe", "what do ya want for nothing?") ==
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  notify::Event e{"drift", "m", "monitor m: dataset drift", {{"cols", {"age"}}}, ""};
  auto body = nlohmann::json::parse(notify::webhook_body(e, "d1", "2026-12-04T10:00:00Z"));
  CHECK(body["event"] == "drift");
  CHECK(body["subject"] == "m");
  CHECK(body["delivery"] == "d1");
  CHECK(body["detail"]["cols"][0] == "age");
}

TEST_CASE("A/B: sample size per arm", "[loop]") {
  deploy::PlanInput p;
  p.metric = "converted";
  p.baseline = 0.10;
  p.mde = 0.02;
  CHECK(deploy::sample_size_per_arm(p) == 3841);  // (za*sqrt(2 pbar qbar) + zb*sqrt(p1q1+p2q2))^2/mde^2 = 3840.85
  p.kind = "mean";
  p.sd = 4;
  p.mde = 1;
  CHECK(deploy::sample_size_per_arm(p) == 252);  // 2*(za+zb)^2*16 = 251.16
  p.mde = 0;
  CHECK_THROWS_AS(deploy::sample_size_per_arm(p), UsageError);
  CHECK(deploy::normal_isf(0.025) == Approx(1.959963984540054).epsilon(1e-9));
}

TEST_CASE("A/B: two-proportion z-test and Welch t-test match scipy", "[loop]") {
  auto z = deploy::two_proportion_z(1000, 100, 1000, 130, 0.05);
  CHECK(z.statistic == Approx(2.102740605622114).epsilon(1e-9));
  CHECK(z.p_value == Approx(0.03548845046647471).epsilon(1e-7));  // 2*norm.sf(|z|)
  CHECK(z.ci_low == Approx(0.0020679344393763587).epsilon(1e-6));
  CHECK(z.ci_high == Approx(0.057932065560623636).epsilon(1e-6));
  // a = [1.0,2.5,3.1,4.7,5.2,2.2,3.3], b = [2.1,3.9,4.4,5.8,6.1,4.0]: ttest_ind(b, a, equal_var=False)
  auto t = deploy::welch_t(7, 3.142857142857143, 2.096190476190476, 6, 4.383333333333333, 2.1096666666666666, 0.05);
  CHECK(t.statistic == Approx(1.5373601759083484).epsilon(1e-9));
  CHECK(t.p_value == Approx(0.15327363756129295).epsilon(1e-6));
  CHECK(t.df == Approx(10.684898184347544).epsilon(1e-9));
  CHECK(t.ci_low == Approx(-0.5418813079996521).epsilon(1e-6));
  CHECK(t.ci_high == Approx(3.022833688952032).epsilon(1e-6));
}

TEST_CASE("bandit: P(B better) under Beta posteriors matches scipy's integral", "[loop]") {
  // A: 30 of 100, B: 45 of 100 -> Beta(31, 71) and Beta(46, 56);
  // scipy: quad(beta.pdf(x, 46, 56) * beta.cdf(x, 31, 71), 0, 1) = 0.98548
  double p = deploy::prob_b_better(30, 70, 45, 55, 200000, 7);
  CHECK(p == Approx(0.9854764919961668).margin(0.003));  // 200000 draws: sd 0.0003
  CHECK(deploy::prob_b_better(45, 55, 30, 70, 200000, 7) == Approx(0.01452350800383383).margin(0.003));
  CHECK(deploy::prob_b_better(10, 10, 10, 10, 200000, 7) == Approx(0.5).margin(0.005));
  CHECK(deploy::prob_b_better(30, 70, 45, 55, 20000, 7) == deploy::prob_b_better(30, 70, 45, 55, 20000, 7));  // seeded
}
