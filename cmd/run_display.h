// What `mlo run` shows while it works (issue 25): on a terminal a ninja-like
// status line of the running stages ("[2/5] train (12 s)"), their output
// above it with -v (otherwise its last lines when a stage fails); through a
// pipe the output as it comes, and in GitHub Actions one log group per
// stage; at the end, on a terminal or in CI, a summary table.
#pragma once
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "command.h"
#include "core/live_status.h"
#include "pipeline/run.h"

namespace mlo::cli {

// " [lr=0.1 depth=3]" for a sweep point, "" otherwise.
std::string point_text(const nlohmann::json& point);

class RunDisplay {
 public:
  // `table`: end with the summary table (not for a dry run).
  RunDisplay(Context& ctx, bool table);
  ~RunDisplay();
  RunDisplay(const RunDisplay&) = delete;
  RunDisplay& operator=(const RunDisplay&) = delete;

  void planned(std::size_t stages);
  void event(const StageOutcome& o, bool started);
  // Erases the status line and, on a terminal or in CI, prints the table.
  void finish();

 private:
  struct Row {
    std::string label, action;
    double seconds = -1;  // -1: did not run here
  };
  void print_result(const StageOutcome& o, const std::string& name, double seconds) const;
  void print_table() const;
  void tick_until_stopped();

  Context& ctx_;
  LiveStatusSettings settings_;
  std::unique_ptr<LiveStatus> live_;
  bool text_, table_;
  std::chrono::steady_clock::time_point begun_ = std::chrono::steady_clock::now();
  std::mutex mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> starts_;  // by run id
  std::vector<Row> rows_;
  std::condition_variable stop_cv_;
  bool stop_ = false, finished_ = false;
  std::thread ticker_;
};

}  // namespace mlo::cli
