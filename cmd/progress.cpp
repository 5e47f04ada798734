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

// MLO_PROGRESS_EVERY=SECONDS: how often CI logs get a plain progress line
// (default 10); phases shorter than half a second, or than this, stay silent.
void apply_line_interval(ProgressSettings& s) {
  const char* v = std::getenv("MLO_PROGRESS_EVERY");
  if (!v || !*v) return;
  char* end = nullptr;
  double seconds = std::strtod(v, &end);
  if (*end || !(seconds >= 0) || seconds > 86400)
    throw UsageError("MLO_PROGRESS_EVERY=" + std::string(v) + ": not a number of seconds",
                     "set it to how often CI logs get a progress line, e.g. MLO_PROGRESS_EVERY=30, or unset it");
  s.line_ns = static_cast<std::int64_t>(seconds * 1e9);
  s.min_report_ns = std::min(s.min_report_ns, s.line_ns);
}

ProgressSettings settings_for_stderr() {
  ProgressSettings s;
  if (::isatty(2)) {
    s.style = env_is("TERM", "dumb") ? ProgressStyle::dumb : ProgressStyle::terminal;
    s.columns = terminal_columns();
  } else if (env_is("CI", "true") || env_is("GITHUB_ACTIONS", "true")) {
    s.style = ProgressStyle::lines;
    s.github_groups = env_is("GITHUB_ACTIONS", "true");
    apply_line_interval(s);
  }
  return s;
}

}  // namespace

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
