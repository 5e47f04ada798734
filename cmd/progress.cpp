#include "progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

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

ProgressSettings settings_for_stderr() {
  ProgressSettings s;
  if (::isatty(2)) {
    s.style = env_is("TERM", "dumb") ? ProgressStyle::dumb : ProgressStyle::terminal;
    s.columns = terminal_columns();
  } else if (env_is("CI", "true") || env_is("GITHUB_ACTIONS", "true")) {
    s.style = ProgressStyle::lines;
    s.github_groups = env_is("GITHUB_ACTIONS", "true");
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
