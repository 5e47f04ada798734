#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/progress.h"

using namespace mlo;

namespace {

// A fake terminal: every write, and a clock the test moves by hand.
struct Fake {
  std::vector<std::string> writes;
  std::int64_t ns = 1'000'000'000;
  ProgressReporter make(ProgressStyle style, bool groups = false) {
    ProgressSettings s;
    s.style = style;
    s.github_groups = groups;
    return ProgressReporter(s, [this](std::string_view w) { writes.emplace_back(w); }, [this] { return ns; });
  }
  std::string all() const {
    std::string out;
    for (const auto& w : writes) out += w;
    return out;
  }
};

constexpr std::int64_t ms = 1'000'000;

}  // namespace

TEST_CASE("progress line shows counts, bytes, percent, rate and ETA", "[progress_test]") {
  ProgressState s{"hash", "files", 120, 3000, 2 << 20, 40 << 20, 1.0};
  CHECK(format_progress(s) == "hash: 120/3000 files, 2.0 MiB/40.0 MiB (5%), 2.0 MiB/s, ETA 0m19s");
  ProgressState scan{"scan", "files", 500, 0, 0, 0, 0.5};
  CHECK(format_progress(scan) == "scan: 500 files, 1000 files/s");
  CHECK(format_progress(ProgressState{"store", "files", 0, 0, 0, 0, 0.5}) == "store: 0 files");  // no rate of nothing
  CHECK(format_progress(ProgressState{"planning", "", 0, 0, 0, 0, 3.0}) == "planning...");  // counts nothing
  ProgressState counts{"gc", "objects", 50, 200, 0, 0, 2.0};
  CHECK(format_progress(counts) == "gc: 50/200 objects (25%), 25 objects/s, ETA 0m06s");
  CHECK(format_progress_done(ProgressState{"hash", "files", 3000, 3000, 0, 0, 1.25}) == "hash: 3000 files in 1.2 s");
}

TEST_CASE("progress redraws at most 10 times a second and clears its line", "[progress_test]") {
  Fake f;
  auto r = f.make(ProgressStyle::terminal);
  auto id = r.begin("hash", 1000);
  REQUIRE(f.writes.size() == 1);  // drawn at once
  CHECK(f.writes[0] == "\r\033[Khash: 0/1000 files (0%), ETA --");
  // 1000 adds within 0.5 s of clock: at most 5 more redraws.
  for (int i = 0; i < 1000; ++i) {
    r.add(1);
    f.ns += ms / 2;
  }
  CHECK(f.writes.size() >= 5);
  CHECK(f.writes.size() <= 6);
  r.end(id);
  CHECK(f.writes.back() == "\r\033[K");  // the summary starts on a clean line
  CHECK(f.writes[f.writes.size() - 2].find("1000/1000 files (100%)") != std::string::npos);
  CHECK(f.writes[f.writes.size() - 3] != f.writes[f.writes.size() - 2]);  // never the same text twice
  auto before = f.writes.size();
  r.add(1);
  f.ns += 1000 * ms;
  r.add(1);
  CHECK(f.writes.size() == before);  // nothing after the phase ended
}

TEST_CASE("progress under TERM=dumb uses no escape codes", "[progress_test]") {
  Fake f;
  auto r = f.make(ProgressStyle::dumb);
  auto id = r.begin("checkout", 20000, 0);
  f.ns += 200 * ms;
  r.add(5);
  r.end(id);
  CHECK(f.all().find('\033') == std::string::npos);
  // The last write blanks the widest line drawn and returns to column 0.
  CHECK(f.writes.back().front() == '\r');
  CHECK(f.writes.back().back() == '\r');
  CHECK(f.writes.back().size() >= f.writes[0].size());
}

TEST_CASE("progress in CI writes a few plain lines and log groups", "[progress_test]") {
  Fake f;
  auto r = f.make(ProgressStyle::lines, /*groups=*/true);
  auto id = r.begin("hash", 100);
  for (int i = 0; i < 100; ++i) {
    r.add(1);
    f.ns += 250 * ms;  // 25 s in all: two periodic lines
  }
  r.end(id);
  std::string out = f.all();
  CHECK(out.find('\r') == std::string::npos);
  CHECK(out.find('\033') == std::string::npos);
  REQUIRE(f.writes.size() == 5);
  CHECK(f.writes[0] == "::group::hash\n");
  CHECK(f.writes[1].rfind("hash: 41/100 files (41%)", 0) == 0);  // the add at 10.0 s
  CHECK(f.writes[3] == "::endgroup::\n");
  CHECK(f.writes[4] == "hash: 100 files in 25.0 s\n");
  // A phase shorter than half a second says nothing in CI.
  f.writes.clear();
  auto quick = r.begin("scan", 0);
  f.ns += 100 * ms;
  r.add(3);
  r.end(quick);
  CHECK(f.writes.empty());
}

TEST_CASE("progress leaves the terminal clean when a phase is abandoned", "[progress_test]") {
  Fake f;
  auto r = f.make(ProgressStyle::terminal);
  r.begin("store", 10);
  r.abandon();
  CHECK(f.writes.back() == "\r\033[K");
  // Off: nothing, whatever is reported.
  Fake g;
  auto off = g.make(ProgressStyle::off);
  off.end(off.begin("hash", 10));
  off.add(5);
  CHECK(g.writes.empty());
}

TEST_CASE("progress phase clears the line when unwound by an error", "[progress_test]") {
  std::string out;
  set_progress(ProgressSettings{ProgressStyle::terminal}, [&](std::string_view w) { out += w; });
  try {
    ProgressPhase p("hash", 10);
    p.add(1);
    out.clear();
    throw std::runtime_error("disk full");
  } catch (const std::runtime_error&) {
  }
  set_progress(ProgressSettings{}, nullptr);
  CHECK(out == "\r\033[K");  // cleared, no final redraw
}
