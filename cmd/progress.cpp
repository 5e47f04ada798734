#include "progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "core/error.h"
#include "core/progress.h"

namespace mlo::cli {

namespace {

bool env_is(const char* name, const char* value) {
  const char* v = std::getenv(name);
  return v && std::strcmp(v, value) == 0;
}

unsigned terminal_columns() {
  winsize ws{};
  return ::ioctl(2, TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 0;
}

// A number of seconds from the environment variable `name` (unset: `fallback`).
double env_seconds(const char* name, double fallback, const char* example) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  double seconds = std::strtod(v, &end);
  if (*end || !(seconds >= 0) || seconds > 86400)
    throw UsageError(std::string(name) + "=" + v + ": not a number of seconds",
                     std::string("set it to a number of seconds, e.g. ") + example + ", or unset it");
  return seconds;
}

// MLO_PROGRESS_EVERY=SECONDS: how often CI logs get a plain progress line
// (default 10); phases shorter than half a second, or than this, stay silent.
// MLO_PROGRESS_DELAY=SECONDS: how long a phase runs before a terminal shows
// it (default 0.3, so quick commands do not flash a line).
void apply_intervals(ProgressSettings& s) {
  if (std::getenv("MLO_PROGRESS_EVERY")) {
    s.line_ns = static_cast<std::int64_t>(env_seconds("MLO_PROGRESS_EVERY", 10, "MLO_PROGRESS_EVERY=30") * 1e9);
    s.min_report_ns = std::min(s.min_report_ns, s.line_ns);
  }
  s.start_delay_ns = static_cast<std::int64_t>(env_seconds("MLO_PROGRESS_DELAY", 0.3, "MLO_PROGRESS_DELAY=1") * 1e9);
}

ProgressSettings settings_for_stderr() {
  ProgressSettings s;
  if (::isatty(2)) {
    s.style = env_is("TERM", "dumb") ? ProgressStyle::dumb : ProgressStyle::terminal;
    s.columns = terminal_columns();
    apply_intervals(s);
  } else if (env_is("CI", "true") || env_is("GITHUB_ACTIONS", "true")) {
    s.style = ProgressStyle::lines;
    s.github_groups = env_is("GITHUB_ACTIONS", "true");
    apply_intervals(s);
    // Lines are written every line_ns; the redraw gate must not be slower, or
    // MLO_PROGRESS_EVERY under 0.1 s would still wait 0.1 s for its first line.
    s.redraw_ns = std::min(s.redraw_ns, s.line_ns);
  }
  return s;
}

}  // namespace

LiveStatusSettings live_status_settings(const GlobalOptions& global) {
  LiveStatusSettings live;
  ProgressSettings s = settings_for_stderr();
  live.style = s.style;
  live.github_groups = s.github_groups;
  live.columns = s.columns;
  live.redraw_ns = s.redraw_ns;
  live.start_delay_ns = s.start_delay_ns;
  live.show_output = global.verbose;
  return live;
}

void configure_progress(const GlobalOptions& global) {
  if (global.quiet || global.json) return;  // --json keeps stdout and stderr machine-clean
  ProgressSettings s = settings_for_stderr();
  if (s.style == ProgressStyle::off) return;
  set_progress(s, [](std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
  });
}

}  // namespace mlo::cli
