#include "core/progress.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>

#include "core/format.h"

namespace mlo {

namespace {

std::string eta_text(double seconds) {
  long s = static_cast<long>(seconds + 0.5);
  return std::to_string(s / 60) + "m" + (s % 60 < 10 ? "0" : "") + std::to_string(s % 60) + "s";
}

std::string rate_text(double per_second, bool bytes, const std::string& unit) {
  if (bytes) return human_bytes(static_cast<std::uint64_t>(per_second)) + "/s";
  return std::to_string(static_cast<std::uint64_t>(per_second)) + " " + unit + "/s";
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
}

}  // namespace

std::string format_progress(const ProgressState& s) {
  if (s.unit.empty()) return s.phase + "...";  // a step that counts nothing: only what is going on
  std::string line = s.phase + ": " + std::to_string(s.items);
  if (s.total_items) line += "/" + std::to_string(s.total_items);
  line += " " + s.unit;
  const bool by_bytes = s.total_bytes > 0;
  if (by_bytes) line += ", " + human_bytes(s.bytes) + "/" + human_bytes(s.total_bytes);
  else if (s.bytes) line += ", " + human_bytes(s.bytes);
  // Percent and ETA only when the total is known; bytes measure work better
  // than counts (one big file among small ones).
  std::uint64_t done = by_bytes ? s.bytes : s.items, total = by_bytes ? s.total_bytes : s.total_items;
  if (total) line += " (" + std::to_string(std::min<std::uint64_t>(100, done * 100 / total)) + "%)";
  double rate = s.seconds > 0 ? done / s.seconds : 0;
  if (s.seconds > 0 && done > 0) line += ", " + rate_text(rate, by_bytes || (!total && s.bytes), s.unit);
  if (total) line += ", ETA " + (rate > 0 && total > done ? eta_text((total - done) / rate) : std::string(total > done ? "--" : "0m00s"));
  return line;
}

std::string format_progress_done(const ProgressState& s) {
  std::string line = s.phase + ": " + std::to_string(s.items) + " " + s.unit;
  if (s.bytes) line += ", " + human_bytes(s.bytes);
  return line + " in " + seconds_text(s.seconds);
}

ProgressReporter::ProgressReporter(ProgressSettings settings, ProgressSink sink, ProgressClock clock)
    : settings_(settings), sink_(std::move(sink)), clock_(std::move(clock)) {
  if (!sink_) settings_.style = ProgressStyle::off;
}

std::int64_t ProgressReporter::now() const {
  if (clock_) return clock_();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::uint64_t ProgressReporter::begin(std::string phase, std::uint64_t total_items, std::uint64_t total_bytes,
                                      std::string unit) {
  if (!active()) return 0;
  std::lock_guard lock(mutex_);
  if (open_) end_locked();  // a new phase replaces the one before
  open_ = true;
  phase_ = std::move(phase);
  unit_ = std::move(unit);
  items_ = 0;
  bytes_ = 0;
  total_items_ = total_items;
  total_bytes_ = total_bytes;
  started_ = last_line_ = now();
  next_draw_ = started_ + settings_.redraw_ns;
  draw_locked();  // at once, so even a short phase shows where it is
  return ++id_;
}

void ProgressReporter::set_totals(std::uint64_t total_items, std::uint64_t total_bytes) {
  total_items_ = total_items;
  total_bytes_ = total_bytes;
}

void ProgressReporter::add(std::uint64_t items, std::uint64_t bytes) {
  if (!active()) return;
  items_.fetch_add(items, std::memory_order_relaxed);
  if (bytes) bytes_.fetch_add(bytes, std::memory_order_relaxed);
  std::int64_t t = now();
  if (t < next_draw_.load(std::memory_order_relaxed)) return;
  // One worker draws; the others go on with their work.
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock() || !open_ || t < next_draw_) return;
  next_draw_ = t + settings_.redraw_ns;
  draw_locked();
}

void ProgressReporter::end(std::uint64_t id) {
  if (!active()) return;
  std::lock_guard lock(mutex_);
  if (open_ && id == id_) end_locked();
}

void ProgressReporter::abandon() {
  if (!active()) return;
  std::lock_guard lock(mutex_);
  erase_locked();
  if (group_open_) sink_("::endgroup::\n");
  group_open_ = open_ = false;
}

ProgressState ProgressReporter::snapshot() const {
  ProgressState s{phase_, unit_, items_, total_items_, bytes_, total_bytes_, 0};
  s.seconds = (now() - started_) / 1e9;
  return s;
}

void ProgressReporter::draw_locked() {
  ProgressState s = snapshot();
  if (settings_.style == ProgressStyle::lines) {
    // A plain line now and then: CI logs keep every byte, redraws would pile up.
    std::int64_t t = now();
    if (t - last_line_ < settings_.line_ns) return;
    last_line_ = t;
    if (settings_.github_groups && !group_open_) {
      sink_("::group::" + s.phase + "\n");
      group_open_ = true;
    }
    sink_(format_progress(s) + "\n");
    return;
  }
  // Quick phases stay silent: a line that flashes for a moment only distracts.
  if (now() - started_ < settings_.start_delay_ns) return;
  std::string line = format_progress(s);
  if (settings_.columns > 1 && line.size() >= settings_.columns) line.resize(settings_.columns - 1);
  std::string out = "\r";
  if (settings_.style == ProgressStyle::terminal) {
    out += "\033[K" + line;
  } else {
    out += line;
    if (line.size() < drawn_) out.append(drawn_ - line.size(), ' ');
  }
  if (drawn_ && out == last_drawn_) return;  // the same text again (the end of a phase)
  drawn_ = std::max<std::size_t>(line.size(), settings_.style == ProgressStyle::dumb ? drawn_ : 0);
  sink_(out);
  last_drawn_ = std::move(out);
}

void ProgressReporter::erase_locked() {
  if (settings_.style == ProgressStyle::terminal && drawn_) sink_("\r\033[K");
  if (settings_.style == ProgressStyle::dumb && drawn_) sink_("\r" + std::string(drawn_, ' ') + "\r");
  drawn_ = 0;
  last_drawn_.clear();
}

void ProgressReporter::end_locked() {
  if (settings_.style == ProgressStyle::lines) {
    ProgressState s = snapshot();
    if (group_open_) sink_("::endgroup::\n");
    if (group_open_ || now() - started_ >= settings_.min_report_ns) sink_(format_progress_done(s) + "\n");
    group_open_ = false;
  } else {
    draw_locked();  // the final counts, then a clean line for the summary
    erase_locked();
  }
  open_ = false;
}

namespace {
std::unique_ptr<ProgressReporter>& global_reporter() {
  static std::unique_ptr<ProgressReporter> r = std::make_unique<ProgressReporter>(ProgressSettings{}, nullptr);
  return r;
}
}  // namespace

ProgressReporter& progress() { return *global_reporter(); }

void set_progress(ProgressSettings settings, ProgressSink sink) {
  global_reporter() = std::make_unique<ProgressReporter>(settings, std::move(sink));
}

ProgressPhase::ProgressPhase(std::string phase, std::uint64_t total_items, std::uint64_t total_bytes, std::string unit)
    : id_(progress().begin(std::move(phase), total_items, total_bytes, std::move(unit))),
      exceptions_(std::uncaught_exceptions()) {}

ProgressPhase::~ProgressPhase() {
  if (std::uncaught_exceptions() > exceptions_) progress().abandon();
  else progress().end(id_);
}

}  // namespace mlo
