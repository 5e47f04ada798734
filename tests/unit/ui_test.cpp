#include <catch2/catch.hpp>

#include "core/error.h"
#include "pipeline/runs.h"
#include "repo/repo.h"
#include "test_util.h"
#include "ui/html.h"
#include "ui/plots.h"
#include "ui/server.h"
#include "ui/svg.h"

using namespace mlo;
using json = nlohmann::json;

TEST_CASE("ui html: escaping, URLs and bounded query strings") {
  CHECK(ui::esc("<script>alert('x')</script>&\"") == "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;");
  CHECK(ui::esc(std::string("a\xff" "b", 3)) == "a\xEF\xBF\xBD" "b");  // not UTF-8: replaced, page stays valid
  CHECK(ui::esc("é") == "é");
  CHECK(ui::url_decode("a%3Cb+c%zz%4") == "a<b c%zz%4");
  CHECK(ui::url_encode("a b/<") == "a%20b%2F%3C");
  auto q = ui::parse_query("where=metrics.acc%3E0.9&where=stage%3Dtrain&sort=&x");
  CHECK(ui::query_values(q, "where") == std::vector<std::string>{"metrics.acc>0.9", "stage=train"});
  CHECK(ui::query_value(q, "sort", "none").empty());
  CHECK(ui::query_value(q, "missing", "none") == "none");
  std::string many;
  for (int i = 0; i < 65; ++i) many += "a=1&";
  CHECK_THROWS_AS(ui::parse_query(many), UsageError);
  CHECK_THROWS_AS(ui::parse_query(std::string(9000, 'a')), UsageError);
}

TEST_CASE("ui svg: ticks cover the data, hostile names are escaped, long series stay small") {
  auto t = ui::nice_ticks(0.013, 0.93);
  REQUIRE(t.size() >= 2);
  CHECK(t.front() <= 0.013);
  CHECK(t.back() >= 0.93);
  CHECK(ui::nice_ticks(5, 5).size() >= 2);
  ui::LineChart c{"loss", "step", "loss", {{"<script>alert(1)</script>", {}}, {"b", {{0, 1}, {1, 0.5}}}}, false};
  for (int i = 0; i < 100000; ++i) c.series[0].points.emplace_back(i, 1.0 / (i + 1));
  std::string svg = ui::line_chart_svg(c);
  CHECK(svg.find("<script") == std::string::npos);
  CHECK(svg.find("&lt;script&gt;") != std::string::npos);
  CHECK(svg.find("b: step 1, loss 0.5") != std::string::npos);  // hover value
  CHECK(svg.size() < 200000);
  ui::BarChart b{"acc", "acc", {"HEAD", "workspace"}, {0.8, std::nan("")}};
  std::string bars = ui::bar_chart_svg(b);
  CHECK(bars.find("HEAD: acc 0.8") != std::string::npos);
  CHECK(bars.find("workspace: no value") != std::string::npos);
}

namespace {

json record(const std::string& id, double started, double acc) {
  json series = json::array();
  for (int s = 0; s < 5; ++s) series.push_back({{"step", s}, {"value", acc / (s + 1)}});
  return {{"version", 1}, {"run_id", id}, {"stage", "train"}, {"status", "succeeded"}, {"started_at", started},
          {"finished_at", started + 1}, {"metrics", {{"acc", acc}}},
          {"params", {{"<img src=x onerror=alert(1)>", 1}, {"lr", 0.1}}}, {"metric_series", {{"loss", series}}}};
}

deploy::HttpResponse get(ui::UiApp& app, const std::string& target, deploy::Headers headers = {},
                         const std::string& method = "GET") {
  deploy::HttpRequest r;
  r.method = method;
  r.target = target;
  r.path = target.substr(0, target.find('?'));
  headers.emplace_back("Host", "127.0.0.1:8765");
  r.headers = headers;
  deploy::HttpResponse res;
  app.handle(r, res);
  return res;
}

Repo empty_repo(const test::TempDir& tmp) {
  test::git_init(tmp / "r");
  init_repo(tmp / "r", {});
  return Repo::open(tmp / "r");
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("ui pages: runs table pages, filters, escapes; compare draws both runs; bad input is 4xx") {
  test::TempDir tmp;
  Repo repo = empty_repo(tmp);
  std::vector<json> records;
  for (int i = 0; i < 120; ++i) {
    char id[17];
    std::snprintf(id, sizeof id, "%016x", 0xabc000 + i);
    records.push_back(record(id, 1000.0 + i, 0.5 + i * 0.001));
  }
  store_run_records(repo, records);
  ui::UiApp app(repo, {});

  auto first = get(app, "/");
  CHECK(first.status == 200);
  CHECK(count(first.body, "name='run' value=") == 50);
  CHECK(first.body.find("id='next'") != std::string::npos);
  CHECK(first.body.find("<img src=x") == std::string::npos);
  CHECK(first.body.find("&lt;img src=x onerror=alert(1)&gt;") != std::string::npos);
  auto last = get(app, "/?page=3");
  CHECK(count(last.body, "name='run' value=") == 20);
  CHECK(last.body.find("id='next'") == std::string::npos);
  auto filtered = get(app, "/?where=metrics.acc%3E0.6145&sort=metrics.acc%3Aasc");
  CHECK(count(filtered.body, "name='run' value=") == 5);
  CHECK(filtered.body.find("0000000000abc073") < filtered.body.find("0000000000abc077"));  // ascending

  auto cmp = get(app, "/compare?run=0000000000abc000&run=0000000000abc001");
  CHECK(cmp.status == 200);
  CHECK(cmp.body.find("data-name='0000000000abc000 train'") != std::string::npos);
  CHECK(cmp.body.find("data-name='0000000000abc001 train'") != std::string::npos);
  CHECK(count(cmp.body, "class='series'") == 2);
  auto run = get(app, "/run/0000000000abc001");
  CHECK(run.status == 200);
  CHECK(run.body.find("Metric series") != std::string::npos);

  CHECK(get(app, "/?where=nonsense").status == 400);
  CHECK(get(app, "/?sort=params.x%27%29--").status == 400);
  CHECK(get(app, "/run/%3Cscript%3E").status == 400);
  CHECK(get(app, "/run/%3Cscript%3E").body.find("<script>") == std::string::npos);
  CHECK(get(app, "/run/ffffffff").status == 404);
  CHECK(get(app, "/nope").status == 404);
  CHECK(get(app, "/", {}, "POST").status == 405);
  CHECK(get(app, "/" + std::string(5000, 'a')).status == 414);
  deploy::HttpRequest rebinding;
  rebinding.method = "GET";
  rebinding.target = rebinding.path = "/";
  rebinding.headers = {{"Host", "evil.example:8765"}};
  deploy::HttpResponse res;
  app.handle(rebinding, res);
  CHECK(res.status == 403);
}

TEST_CASE("ui token: a non-loopback server answers only with the token") {
  test::TempDir tmp;
  Repo repo = empty_repo(tmp);
  CHECK(ui::is_loopback_host("127.0.0.1"));
  CHECK(ui::is_loopback_host("127.1.2.3"));
  CHECK(ui::is_loopback_host("::1"));
  CHECK_FALSE(ui::is_loopback_host("0.0.0.0"));
  CHECK_FALSE(ui::is_loopback_host("10.0.0.1"));
  std::string token = ui::new_token();
  CHECK(token.size() == 32);
  CHECK(token != ui::new_token());
  ui::UiApp app(repo, {"0.0.0.0", 0, token});
  CHECK(get(app, "/").status == 401);
  CHECK(get(app, "/?token=wrong").status == 401);
  auto ok = get(app, "/?token=" + token);
  CHECK(ok.status == 200);
  bool cookie = false;
  for (const auto& [k, v] : ok.headers) cookie |= k == "Set-Cookie" && v.find(token) != std::string::npos;
  CHECK(cookie);
  CHECK(get(app, "/models", {{"Cookie", "a=b; mlo_ui_token=" + token}}).status == 200);
  CHECK(get(app, "/models", {{"Authorization", "Bearer " + token}}).status == 200);
  CHECK(get(app, "/models", {{"Cookie", "mlo_ui_token=" + token + "x"}}).status == 401);
}
