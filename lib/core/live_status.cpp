#include "core/live_status.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace mlo {
namespace {

constexpr std::size_t kMaxPartial = 64 * 1024;  // a line longer than this is written out anyway
constexpr std::size_t kMaxTailLine = 512;

// Cuts `s` to at most `width` bytes without splitting a UTF-8 character.
std::string cut_to(std::string s, std::size_t width) {
  if (s.size() <= width) return s;
  std::size_t n = width;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s;
}

// What a terminal would show of a line the job is still writing: the text
// after its last carriage return (progress bars redraw with "\r").
std::string_view current_line(std::string_view partial) {
  while (!partial.empty() && partial.back() == '\r') partial.remove_suffix(1);
  auto cr = partial.rfind('\r');
  return cr == std::string_view::npos ? partial : partial.substr(cr + 1);
}

}  // namespace

std::string format_elapsed(double seconds) {
  long s = seconds < 0 ? 0 : static_cast<long>(seconds);
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%ld s", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  return buf;
}

std::string printable_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == 0x1b) {  // an escape sequence: ESC [ params final-byte, or ESC + one byte
      if (i + 1 < s.size() && s[i + 1] == '[') {
        i += 2;
        while (i < s.size() && !(s[i] >= 0x40 && s[i] <= 0x7e)) ++i;
      } else {
        ++i;
      }
      continue;
    }
    if (c == '\t') out += ' ';
    else if (c >= 0x20 && c != 0x7f) out += static_cast<char>(c);
  }
  return out;
}

LiveStatus::LiveStatus(LiveStatusSettings settings, ProgressSink sink, ProgressClock clock)
    : settings_(settings), sink_(std::move(sink)), clock_(std::move(clock)) {}

std::int64_t LiveStatus::now() const {
  if (clock_) return clock_();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool LiveStatus::drawing() const {
  return !closed_ && (settings_.style == ProgressStyle::terminal || settings_.style == ProgressStyle::dumb);
}

void LiveStatus::add_total(std::size_t jobs) {
  std::lock_guard lock(mutex_);
  total_ += jobs;
}

void LiveStatus::started(const std::string& job, std::string label) {
  std::lock_guard lock(mutex_);
  Job& j = running_[job];
  j.label = std::move(label);
  j.started = now();
  order_.push_back(job);
  if (settings_.style == ProgressStyle::lines && settings_.github_groups && group_owner_.empty()) {
    if (line_open_) sink_("\n");
    sink_("::group::" + j.label + "\n");
    group_owner_ = job;
    line_open_ = false;
  }
  draw_locked(false);
}

void LiveStatus::output(std::string_view job, std::string_view chunk) {
  if (chunk.empty()) return;
  std::lock_guard lock(mutex_);
  auto it = running_.find(job);
  if (it == running_.end()) {  // not one of ours (a one-off job): as it comes
    erase_locked();
    sink_(std::string(chunk));
    line_open_ = chunk.back() != '\n';
    draw_locked(true);
    return;
  }
  write_output_locked(it->second, chunk);
}

void LiveStatus::write_output_locked(Job& job, std::string_view chunk) {
  if (!drawing()) {
    if (settings_.github_groups && running_.find(group_owner_) != running_.end() &&
        &running_.find(group_owner_)->second != &job) {
      hold(job, chunk);
      return;
    }
    sink_(std::string(chunk));
    line_open_ = chunk.back() != '\n';
    return;
  }
  if (!settings_.show_output) {
    keep_tail(job, chunk);
    return;
  }
  job.partial.append(chunk);
  auto nl = job.partial.rfind('\n');
  if (nl == std::string::npos && job.partial.size() > kMaxPartial) nl = job.partial.size() - 1;
  if (nl != std::string::npos) {
    std::string lines = job.partial.substr(0, nl + 1);
    job.partial.erase(0, nl + 1);
    if (lines.back() != '\n') lines += '\n';
    if (order_.size() > 1) {  // several jobs at once: say whose line it is
      std::string tagged;
      std::size_t from = 0;
      while (from < lines.size()) {
        auto end = lines.find('\n', from);
        tagged += "[" + job.label + "] " + lines.substr(from, end + 1 - from);
        from = end + 1;
      }
      lines = std::move(tagged);
    }
    erase_locked();
    sink_(lines);
    draw_locked(true);
  }
}

void LiveStatus::keep_tail(Job& job, std::string_view chunk) {
  job.partial.append(chunk);
  std::size_t from = 0;
  for (auto nl = job.partial.find('\n'); nl != std::string::npos; nl = job.partial.find('\n', from)) {
    job.tail.push_back(cut_to(printable_text(current_line(std::string_view(job.partial).substr(from, nl - from))),
                              kMaxTailLine));
    if (job.tail.size() > settings_.tail_lines) job.tail.pop_front();
    from = nl + 1;
  }
  job.partial.erase(0, from);
  if (job.partial.size() > kMaxPartial) job.partial.erase(0, job.partial.size() - kMaxPartial);
}

void LiveStatus::hold(Job& job, std::string_view chunk) {
  job.held.append(chunk);
  if (job.held.size() > settings_.held_bytes) {  // keep the end: that is where the error is
    std::size_t drop = job.held.size() - settings_.held_bytes;
    job.held.erase(0, drop);
    job.cut += drop;
  }
}

void LiveStatus::write_group(const std::string& label, const std::string& held, std::size_t cut) {
  if (line_open_) sink_("\n");
  sink_("::group::" + label + "\n");
  if (cut) sink_("(" + std::to_string(cut) + " bytes of output cut here; the run's log has them all)\n");
  sink_(held);
  if (!held.empty() && held.back() != '\n') sink_("\n");
  sink_("::endgroup::\n");
  line_open_ = false;
}

// The open block closed: write the jobs that finished meanwhile, then let
// the oldest job still running stream its block live.
void LiveStatus::flush_done_groups() {
  for (auto& d : done_groups_) {
    write_group(d.label, d.held, d.cut);
    if (d.result) d.result();
  }
  done_groups_.clear();
  if (order_.empty()) return;
  Job& j = running_.find(order_.front())->second;
  sink_("::group::" + j.label + "\n");
  if (j.cut) sink_("(" + std::to_string(j.cut) + " bytes of output cut here; the run's log has them all)\n");
  sink_(j.held);
  line_open_ = !j.held.empty() && j.held.back() != '\n';
  j.held.clear();
  j.cut = 0;
  group_owner_ = order_.front();
}

void LiveStatus::finished(std::string_view job, const Writer& result, bool failed) {
  std::lock_guard lock(mutex_);
  auto it = running_.find(job);
  if (it == running_.end()) {
    erase_locked();
    if (result) result();
    ++done_;
    draw_locked(true);
    return;
  }
  Job j = std::move(it->second);
  std::string key = it->first;
  running_.erase(it);
  order_.erase(std::find(order_.begin(), order_.end(), key));
  ++done_;
  if (drawing()) {
    erase_locked();
    if (settings_.show_output && !j.partial.empty()) sink_(j.partial + "\n");
    if (result) result();
    if (failed && !settings_.show_output) {
      if (!j.partial.empty()) keep_tail(j, "\n");
      for (const auto& line : j.tail)
        if (!line.empty()) sink_("    " + line + "\n");
    }
    draw_locked(true);
    return;
  }
  if (settings_.github_groups && key == group_owner_) {
    if (line_open_) sink_("\n");
    sink_("::endgroup::\n");
    line_open_ = false;
    group_owner_.clear();
    if (result) result();
    flush_done_groups();
  } else if (settings_.github_groups && !group_owner_.empty()) {
    done_groups_.push_back({j.label, std::move(j.held), j.cut, result});
  } else if (settings_.github_groups) {
    write_group(j.label, j.held, j.cut);
    if (result) result();
  } else {
    if (line_open_) sink_("\n");
    line_open_ = false;
    if (result) result();
  }
}

void LiveStatus::print(const Writer& write) {
  std::lock_guard lock(mutex_);
  erase_locked();
  if (settings_.style == ProgressStyle::lines && line_open_ && group_owner_.empty()) {
    sink_("\n");
    line_open_ = false;
  }
  if (write) write();
  draw_locked(true);
}

void LiveStatus::tick() {
  std::lock_guard lock(mutex_);
  draw_locked(false);
}

void LiveStatus::close() {
  std::lock_guard lock(mutex_);
  erase_locked();
  closed_ = true;
  if (!group_owner_.empty()) {
    if (line_open_) sink_("\n");
    sink_("::endgroup::\n");
    group_owner_.clear();
    line_open_ = false;
  }
  for (auto& d : done_groups_) {
    write_group(d.label, d.held, d.cut);
    if (d.result) d.result();
  }
  done_groups_.clear();
}

std::vector<std::string> LiveStatus::status_lines() const {
  std::int64_t t = now();
  std::size_t total = std::max(total_, done_ + order_.size());
  std::string head = "[" + std::to_string(done_) + "/" + std::to_string(total) + "] ";
  auto job_text = [&](const Job& j) { return j.label + " (" + format_elapsed((t - j.started) / 1e9) + ")"; };
  std::vector<std::string> lines;
  bool per_job = settings_.show_output && settings_.style == ProgressStyle::terminal;
  if (!per_job) {
    std::string line = head;
    for (std::size_t i = 0; i < order_.size(); ++i)
      line += (i ? ", " : "") + job_text(running_.find(order_[i])->second);
    lines.push_back(line);
  } else {
    std::string pad(head.size(), ' ');
    for (std::size_t i = 0; i < order_.size() && i < settings_.max_status_lines; ++i) {
      const Job& j = running_.find(order_[i])->second;
      std::string line = (i ? pad : head) + job_text(j);
      std::string last = printable_text(current_line(j.partial));
      if (!last.empty()) line += ": " + last;
      lines.push_back(line);
    }
    if (order_.size() > settings_.max_status_lines)
      lines.push_back(pad + "and " + std::to_string(order_.size() - settings_.max_status_lines) + " more");
  }
  std::size_t width = (settings_.columns > 1 ? settings_.columns : 80) - 1;
  for (auto& l : lines) l = cut_to(std::move(l), width);
  return lines;
}

void LiveStatus::draw_locked(bool force) {
  if (!drawing()) return;
  std::int64_t t = now();
  if (!force && t < next_draw_) return;
  if (order_.empty()) {
    erase_locked();
    return;
  }
  std::int64_t oldest = running_.find(order_.front())->second.started;
  if (t - oldest < settings_.start_delay_ns) return;  // no flicker for what is over at once
  std::vector<std::string> lines = status_lines();
  erase_locked();
  std::string out;
  if (settings_.style == ProgressStyle::dumb) {
    out = "\r" + lines.front();
    drawn_width_ = lines.front().size();
    drawn_lines_ = 1;
  } else {
    for (std::size_t i = 0; i < lines.size(); ++i) out += (i ? "\n" : "") + lines[i];
    drawn_lines_ = lines.size();
  }
  sink_(out);
  next_draw_ = t + settings_.redraw_ns;
}

void LiveStatus::erase_locked() {
  if (!drawn_lines_) return;
  if (settings_.style == ProgressStyle::dumb) {
    sink_("\r" + std::string(drawn_width_, ' ') + "\r");
  } else {
    std::string out = "\r\033[K";
    for (std::size_t i = 1; i < drawn_lines_; ++i) out += "\033[A\033[K";
    sink_(out);
  }
  drawn_lines_ = drawn_width_ = 0;
}

}  // namespace mlo
