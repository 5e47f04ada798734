#include "remote/timestamps.h"

#include <sys/stat.h>

#include <ctime>
#include <string>

namespace mlo::remote {

namespace {
std::int64_t parse_with(std::string_view text, const char* format) {
  std::string s(text);
  struct tm tm = {};
  const char* end = ::strptime(s.c_str(), format, &tm);
  if (!end) return 0;
  std::int64_t t = ::timegm(&tm);
  return t > 0 ? t : 0;
}
}  // namespace

std::int64_t parse_iso8601(std::string_view text) { return parse_with(text, "%Y-%m-%dT%H:%M:%S"); }

std::int64_t parse_http_date(std::string_view text) { return parse_with(text, "%a, %d %b %Y %H:%M:%S"); }

std::int64_t file_mtime(const std::filesystem::path& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 ? static_cast<std::int64_t>(st.st_mtime) : 0;
}

std::string format_iso8601(std::int64_t unix_seconds) {
  std::time_t tt = static_cast<std::time_t>(unix_seconds);
  struct tm tm = {};
  char buf[32] = "?";
  if (::gmtime_r(&tt, &tm)) std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace mlo::remote
