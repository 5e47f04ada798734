// A live view of parallel jobs for `mlo run` (issue 25), in ninja's manner:
//
//   [2/5] train (12 s), evaluate (3 s)
//
// The jobs' output and the result lines go above that line, which is
// redrawn in place at most 10 times a second, and only once a job has run
// for a moment, so a quick or fully cached run shows no flicker. The
// library decides what to show; the sink writes it (stderr, from cmd/).
// Styles:
//   terminal / dumb  the status line; a job's output is streamed above it
//                    with show_output (-v), otherwise kept as a short tail
//                    that is printed when the job fails;
//   lines            (a pipe, CI) output passed through as it comes; with
//                    github_groups each job's output sits in a ::group::
//                    block (live for one job at a time, the others held
//                    back until that block closes);
//   off              output passed through, nothing drawn.
// Thread-safe: runner threads call output(), a timer calls tick().
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/progress.h"

namespace mlo {

struct LiveStatusSettings {
  ProgressStyle style = ProgressStyle::off;
  bool show_output = true;                    // terminal/dumb: stream output above the status line
  bool github_groups = false;                 // lines: ::group:: blocks per job
  unsigned columns = 0;                       // terminal width; 0: unknown
  std::int64_t redraw_ns = 100'000'000;       // at most 10 redraws a second
  std::int64_t start_delay_ns = 300'000'000;  // draw nothing until a job has run this long
  std::size_t tail_lines = 10;                // kept per job to show when it fails
  std::size_t held_bytes = 1 << 20;           // lines+groups: output held back per job (the rest is cut)
  std::size_t max_status_lines = 4;           // show_output: one line per running job, at most this many
};

// "12 s", "2m05s", "1h02m"
std::string format_elapsed(double seconds);
// Control characters removed (a job's own "\r" redraws, colours), for the status line.
std::string printable_text(std::string_view s);

class LiveStatus {
 public:
  using Writer = std::function<void()>;  // writes a result line (stdout) while the status is erased

  LiveStatus(LiveStatusSettings settings, ProgressSink sink, ProgressClock clock = {});
  void add_total(std::size_t jobs);
  void started(const std::string& job, std::string label);
  void output(std::string_view job, std::string_view chunk);
  // The job is done: what it still holds is written, then `result` (may be
  // empty); a failed job whose output was hidden gets its last lines shown.
  void finished(std::string_view job, const Writer& result, bool failed);
  // Something that is not a job's output (a result line of a job that never started).
  void print(const Writer& write);
  void tick();   // redraws when due (a timer calls it)
  void close();  // erases the status line for good (the summary follows, or an error)

 private:
  struct Job {
    std::string label;
    std::int64_t started = 0;
    std::string partial;                // output after the last newline
    std::deque<std::string> tail;       // last complete lines (hidden output)
    std::string held;                   // lines+groups: output held back
    std::size_t cut = 0;                // bytes dropped from `held`
  };
  struct Done {                         // a held-back job waiting for the open group to close
    std::string label, held;
    std::size_t cut = 0;
    Writer result;
  };

  bool drawing() const;
  std::int64_t now() const;
  void write_output_locked(Job& job, std::string_view chunk);
  void keep_tail(Job& job, std::string_view chunk);
  void hold(Job& job, std::string_view chunk);
  void write_group(const std::string& label, const std::string& held, std::size_t cut);
  void flush_done_groups();
  std::vector<std::string> status_lines() const;
  void draw_locked(bool force);
  void erase_locked();

  LiveStatusSettings settings_;
  ProgressSink sink_;
  ProgressClock clock_;
  mutable std::mutex mutex_;
  std::map<std::string, Job, std::less<>> running_;
  std::vector<std::string> order_;      // running jobs in start order
  std::size_t total_ = 0, done_ = 0;
  std::size_t drawn_lines_ = 0, drawn_width_ = 0;
  std::int64_t next_draw_ = 0;
  bool closed_ = false;
  bool line_open_ = false;              // the last output written did not end a line
  std::string group_owner_;             // github_groups: the job whose block is open
  std::vector<Done> done_groups_;
};

}  // namespace mlo
