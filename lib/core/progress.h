// Progress of long operations (issue 25): phases with counts, bytes, rate and
// ETA. The library reports to one process-wide reporter, which is off until
// the CLI installs a sink and a style: lib/ never decides whether stderr is a
// terminal. Thread-safe: workers call add() from parallel_for.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace mlo {

enum class ProgressStyle {
  off,       // nothing at all (-q, --json, a pipe outside CI)
  terminal,  // one line redrawn in place with "\r" + erase-line
  dumb,      // TERM=dumb: redrawn with "\r" and spaces, no escape codes
  lines,     // CI logs: plain lines only, never a carriage return
};

struct ProgressSettings {
  ProgressStyle style = ProgressStyle::off;
  bool github_groups = false;           // lines: ::group:: / ::endgroup:: around a phase
  std::int64_t redraw_ns = 100'000'000;  // terminal: at most 10 redraws a second
  std::int64_t line_ns = 10'000'000'000; // lines: a plain line at most every 10 s
  std::int64_t min_report_ns = 500'000'000;  // lines: phases shorter than this stay silent
  std::int64_t start_delay_ns = 0;      // terminal: draw nothing until a phase has run this long
  unsigned columns = 0;                 // terminal width (0: unknown); longer lines are cut
};

using ProgressSink = std::function<void(std::string_view)>;
using ProgressClock = std::function<std::int64_t()>;  // monotonic nanoseconds

// What one redraw shows; pure, so the format is unit-tested.
struct ProgressState {
  std::string phase;
  std::string unit;            // "files", "objects"; empty: a step that counts nothing
  std::uint64_t items = 0, total_items = 0;  // total 0: not known yet (a scan)
  std::uint64_t bytes = 0, total_bytes = 0;
  double seconds = 0;
};
// "hash: 120/3000 files, 1.2 MiB/40.0 MiB (3%), 2.0 MiB/s, ETA 0m19s"
std::string format_progress(const ProgressState& s);
// "hash: 3000 files, 40.0 MiB in 1.2 s" (the lines style's end-of-phase line)
std::string format_progress_done(const ProgressState& s);

class ProgressReporter {
 public:
  ProgressReporter(ProgressSettings settings, ProgressSink sink, ProgressClock clock = {});
  bool active() const { return settings_.style != ProgressStyle::off; }
  // Starts a phase (ending the one before); returns its id for end().
  std::uint64_t begin(std::string phase, std::uint64_t total_items, std::uint64_t total_bytes = 0,
                      std::string unit = "files");
  void add(std::uint64_t items, std::uint64_t bytes = 0);
  void set_totals(std::uint64_t total_items, std::uint64_t total_bytes);
  // Ends phase `id` if it is still the current one: the line is cleared
  // (terminal) or summed up in one plain line (CI).
  void end(std::uint64_t id);
  // Removes whatever is drawn without a summary (an error, Ctrl-C).
  void abandon();

 private:
  ProgressState snapshot() const;
  void draw_locked();
  void erase_locked();
  void end_locked();
  std::int64_t now() const;

  ProgressSettings settings_;
  ProgressSink sink_;
  ProgressClock clock_;
  std::mutex mutex_;
  std::uint64_t id_ = 0;
  bool open_ = false, group_open_ = false;
  std::string phase_, unit_;
  std::atomic<std::uint64_t> items_{0}, bytes_{0}, total_items_{0}, total_bytes_{0};
  std::int64_t started_ = 0, last_line_ = 0;
  std::atomic<std::int64_t> next_draw_{0};
  std::size_t drawn_ = 0;  // width of the line on screen (0: none)
  std::string last_drawn_;
};

// The process-wide reporter (off by default); the CLI replaces it once.
ProgressReporter& progress();
void set_progress(ProgressSettings settings, ProgressSink sink);

// A phase for the length of a scope. Leaving the scope by an exception
// clears the line instead of summing up, so an error message starts on a
// clean line.
class ProgressPhase {
 public:
  ProgressPhase(std::string phase, std::uint64_t total_items, std::uint64_t total_bytes = 0,
                std::string unit = "files");
  ~ProgressPhase();
  ProgressPhase(const ProgressPhase&) = delete;
  ProgressPhase& operator=(const ProgressPhase&) = delete;
  void add(std::uint64_t items, std::uint64_t bytes = 0) { progress().add(items, bytes); }

 private:
  std::uint64_t id_;
  int exceptions_;
};

}  // namespace mlo
