#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/live_status.h"

using namespace mlo;

namespace {

constexpr std::int64_t ms = 1'000'000;

// A fake terminal: every write, and a clock the test moves by hand.
struct Screen {
  std::vector<std::string> writes;
  std::int64_t ns = 1'000'000'000;
  LiveStatus make(ProgressStyle style, bool show_output = false, bool groups = false) {
    LiveStatusSettings s;
    s.style = style;
    s.show_output = show_output;
    s.github_groups = groups;
    s.columns = 60;
    s.tail_lines = 3;
    return LiveStatus(s, [this](std::string_view w) { writes.emplace_back(w); }, [this] { return ns; });
  }
  std::string all() const {
    std::string out;
    for (const auto& w : writes) out += w;
    return out;
  }
};

}  // namespace

TEST_CASE("elapsed times and printable text", "[live_status_test]") {
  CHECK(format_elapsed(0.4) == "0 s");
  CHECK(format_elapsed(12.9) == "12 s");
  CHECK(format_elapsed(125) == "2m05s");
  CHECK(format_elapsed(3725) == "1h02m");
  CHECK(printable_text("\033[32mok\033[0m\tdone\r\x07") == "ok done");
}

TEST_CASE("the status line waits for the start delay, then shows the running stages", "[live_status_test]") {
  Screen t;
  auto live = t.make(ProgressStyle::terminal);
  live.add_total(3);
  live.started("r1", "prepare");
  live.tick();
  CHECK(t.writes.empty());  // a stage that is over at once never flashes a line
  t.ns += 400 * ms;
  live.tick();
  REQUIRE(t.writes.size() == 1);
  CHECK(t.writes[0] == "[0/3] prepare (0 s)");
  live.started("r2", "train");
  t.ns += 2000 * ms;
  live.tick();
  CHECK(t.writes.back() == "[0/3] prepare (2 s), train (2 s)");
  // A result line goes above: the line is erased first, then drawn again.
  bool wrote = false;
  live.finished("r1", [&] { t.writes.emplace_back("done prepare\n"); wrote = true; }, false);
  CHECK(wrote);
  auto n = t.writes.size();
  REQUIRE(n >= 3);
  CHECK(t.writes[n - 3] == "\r\033[K");
  CHECK(t.writes[n - 2] == "done prepare\n");
  CHECK(t.writes[n - 1] == "[1/3] train (2 s)");
  live.close();
  CHECK(t.writes.back() == "\r\033[K");
}

TEST_CASE("hidden output is kept as a tail and shown when the stage fails", "[live_status_test]") {
  Screen t;
  auto live = t.make(ProgressStyle::terminal);
  live.started("r1", "train");
  live.output("r1", "line 1\nline 2\nline 3\nline 4\nTraceback: boom");
  CHECK(t.all().find("line") == std::string::npos);  // hidden while it runs
  live.finished("r1", [&] { t.writes.emplace_back("failed train\n"); }, true);
  std::string out = t.all();
  CHECK(out.find("line 1") == std::string::npos);  // only the last 3 lines are kept
  CHECK(out.find("failed train\n    line 3\n    line 4\n    Traceback: boom\n") != std::string::npos);
}

TEST_CASE("-v streams output above the line and shows each stage's last line", "[live_status_test]") {
  Screen t;
  auto live = t.make(ProgressStyle::terminal, /*show_output=*/true);
  live.started("r1", "train");
  t.ns += 500 * ms;
  live.output("r1", "epoch 1\nepoch 2 12%\repoch 2 50%");
  std::string out = t.all();
  CHECK(out.find("epoch 1\n") != std::string::npos);
  CHECK(t.writes.back() == "[0/1] train (0 s): epoch 2 50%");
  live.started("r2", "eval");
  live.output("r2", "scoring\n");
  CHECK(t.all().find("[eval] scoring\n") != std::string::npos);  // two at once: lines say whose
  CHECK(t.writes.back() == "[0/2] train (0 s): epoch 2 50%\n      eval (0 s)");
  live.tick();
  live.finished("r2", {}, false);
  CHECK(t.all().find("\r\033[K\033[A\033[K") != std::string::npos);  // both lines erased
}

TEST_CASE("a long status line is cut to the terminal width", "[live_status_test]") {
  Screen t;
  auto live = t.make(ProgressStyle::terminal);
  live.started("r1", std::string(100, 'x'));
  t.ns += 500 * ms;
  live.tick();
  CHECK(t.writes.back().size() == 59);
}

TEST_CASE("TERM=dumb redraws with carriage returns and spaces, no escape codes", "[live_status_test]") {
  Screen t;
  auto live = t.make(ProgressStyle::dumb);
  live.started("r1", "train");
  t.ns += 500 * ms;
  live.tick();
  live.finished("r1", [&] { t.writes.emplace_back("done\n"); }, false);
  std::string out = t.all();
  CHECK(out.find('\033') == std::string::npos);
  CHECK(out.find("\r[0/1] train (0 s)") != std::string::npos);
  CHECK(out.find("\r" + std::string(17, ' ') + "\rdone\n") != std::string::npos);  // the line's width in spaces
}

TEST_CASE("a pipe gets the output as it comes and never a status line", "[live_status_test]") {
  Screen t;
  auto live = t.make(ProgressStyle::lines);
  live.started("r1", "train");
  t.ns += 5000 * ms;
  live.tick();
  live.output("r1", "partial");
  live.finished("r1", [&] { t.writes.emplace_back("done train\n"); }, false);
  CHECK(t.all() == "partial\ndone train\n");
}

TEST_CASE("GitHub groups: one live block at a time, the others held until it closes", "[live_status_test]") {
  Screen t;
  auto live = t.make(ProgressStyle::lines, false, /*groups=*/true);
  live.started("a", "prep");
  live.started("b", "train");
  live.output("b", "b1\n");
  live.output("a", "a1\n");
  live.finished("b", [&] { t.writes.emplace_back("done train\n"); }, false);
  live.output("a", "a2\n");
  CHECK(t.all() == "::group::prep\na1\na2\n");  // train's block waits for prep's to close
  live.started("c", "eval");
  live.output("c", "c1\n");
  live.finished("a", [&] { t.writes.emplace_back("done prep\n"); }, false);
  live.output("c", "c2\n");
  live.finished("c", {}, false);
  live.close();
  CHECK(t.all() ==
        "::group::prep\na1\na2\n::endgroup::\ndone prep\n"
        "::group::train\nb1\n::endgroup::\ndone train\n"
        "::group::eval\nc1\nc2\n::endgroup::\n");
}
