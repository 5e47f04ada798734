#include "run_display.h"

#include <cstdio>

#include "pipeline/metrics.h"
#include "progress.h"
#include "runner/output.h"

namespace mlo::cli {

std::string point_text(const nlohmann::json& point) {
  if (point.empty()) return "";
  std::string s = " [";
  bool first = true;
  for (auto it = point.begin(); it != point.end(); ++it) {
    s += (first ? "" : " ") + it.key() + "=" + value_text(it.value());
    first = false;
  }
  return s + "]";
}

namespace {

bool is_terminal(ProgressStyle s) { return s == ProgressStyle::terminal || s == ProgressStyle::dumb; }

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

RunDisplay::RunDisplay(Context& ctx, bool table)
    : ctx_(ctx),
      settings_(live_status_settings(ctx.global)),
      text_(!ctx.global.json && !ctx.global.quiet),
      table_(table) {
  if (!text_) settings_.style = ProgressStyle::off;
  live_ = std::make_unique<LiveStatus>(settings_, [](std::string_view s) {
    std::fwrite(s.data(), 1, s.size(), stderr);
    std::fflush(stderr);
  });
  set_job_output_sink([this](std::string_view job, std::string_view chunk) { live_->output(job, chunk); });
  if (is_terminal(settings_.style)) ticker_ = std::thread([this] { tick_until_stopped(); });
}

RunDisplay::~RunDisplay() {
  finish();
  set_job_output_sink({});
}

void RunDisplay::tick_until_stopped() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    stop_cv_.wait_for(lock, std::chrono::milliseconds(100));
    if (stop_) break;
    lock.unlock();
    live_->tick();
    lock.lock();
  }
}

void RunDisplay::planned(std::size_t stages) { live_->add_total(stages); }

void RunDisplay::event(const StageOutcome& o, bool started) {
  std::string name = o.stage + point_text(o.point);
  if (started) {
    {
      std::lock_guard g(mu_);
      starts_[o.run_id] = std::chrono::steady_clock::now();
    }
    // A terminal shows the running stages in the status line; logs say it in a line.
    if (text_ && !is_terminal(settings_.style))
      live_->print([this, o] {
        std::string painted = ctx_.paint(o.stage, "bold") + point_text(o.point);
        std::printf("Running %s (run %s): %s\n", painted.c_str(), o.run_id.c_str(), o.reason.c_str());
        std::fflush(stdout);
      });
    live_->started(o.run_id, name);
    return;
  }
  double seconds = -1;
  {
    std::lock_guard g(mu_);
    auto it = starts_.find(o.run_id);
    if (it != starts_.end() && (o.action == "ran" || o.action == "failed" || o.action == "interrupted")) {
      seconds = seconds_since(it->second);
      starts_.erase(it);
    }
    rows_.push_back({name, o.action, seconds});
  }
  bool failed = o.action == "failed" || o.action == "interrupted";
  live_->finished(o.run_id, [this, o, name, seconds] { print_result(o, name, seconds); }, failed);
}

void RunDisplay::print_result(const StageOutcome& o, const std::string& name, double seconds) const {
  if (!text_) return;
  std::string painted = ctx_.paint(o.stage, "bold") + name.substr(o.stage.size());
  std::string took = seconds >= 0 && is_terminal(settings_.style) ? " (" + format_elapsed(seconds) + ")" : "";
  if (o.action == "ran") {
    std::printf("%s %s%s\n", ctx_.paint("done", "green").c_str(), painted.c_str(), took.c_str());
  } else if (o.action == "restored") {
    std::printf("%s %s from the run cache (run %s): %s\n", ctx_.paint("restored", "green").c_str(), painted.c_str(),
                o.run_id.c_str(), o.reason.c_str());
  } else if (o.action == "up-to-date") {
    std::printf("%s is up to date\n", painted.c_str());
  } else if (o.action == "skipped") {
    std::printf("skipped %s: %s\n", painted.c_str(), o.reason.c_str());
  } else if (o.action == "failed" || o.action == "interrupted") {
    std::printf("%s %s%s: %s\n", ctx_.paint(o.action, "red").c_str(), painted.c_str(), took.c_str(),
                o.message.c_str());
    // Its output was hidden behind the status line: its last lines follow (the error's hint names the log).
    if (is_terminal(settings_.style) && !settings_.show_output) std::printf("  the last lines it printed:\n");
  }
  std::fflush(stdout);
}

void RunDisplay::finish() {
  {
    std::lock_guard g(mu_);
    if (finished_) return;
    finished_ = stop_ = true;
  }
  stop_cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  live_->close();
  bool ci = settings_.style == ProgressStyle::lines;
  if (text_ && table_ && (is_terminal(settings_.style) || ci) && !rows_.empty()) print_table();
}

// stage, result, time; then one line of counts, as cargo and ninja end.
void RunDisplay::print_table() const {
  std::size_t width = 5;
  for (const auto& r : rows_) width = std::max(width, r.label.size());
  std::map<std::string, int> counts;
  std::printf("\n%-*s  %-11s  %s\n", static_cast<int>(width), "stage", "result", "time");
  for (const auto& r : rows_) {
    std::string result = r.action == "restored" ? "cached" : r.action == "up-to-date" ? "up to date" : r.action;
    ++counts[result];
    std::string time = r.seconds >= 0 ? format_elapsed(r.seconds) : "-";
    std::printf("%-*s  %-11s  %s\n", static_cast<int>(width), r.label.c_str(), result.c_str(), time.c_str());
  }
  std::string line;
  for (const char* key : {"ran", "cached", "up to date", "failed", "skipped", "interrupted"}) {
    auto it = counts.find(key);
    if (it == counts.end()) continue;
    line += (line.empty() ? "" : ", ") + std::to_string(it->second) + " " + key;
  }
  std::printf("%zu stage%s: %s in %s\n", rows_.size(), rows_.size() == 1 ? "" : "s", line.c_str(),
              format_elapsed(seconds_since(begun_)).c_str());
  std::fflush(stdout);
}

}  // namespace mlo::cli
