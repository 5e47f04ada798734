// When a remote stored a blob, as its listing says: S3's LastModified
// (ISO 8601, UTC), WebDAV's getlastmodified (RFC 1123), a file's mtime.
// Each returns unix seconds, or 0 when the text is not such a time (a
// listing's clock is advisory: callers treat 0 as "unknown").
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace mlo::remote {

std::int64_t parse_iso8601(std::string_view text);    // 2026-12-04T04:33:31.000Z
std::int64_t parse_http_date(std::string_view text);  // Fri, 04 Dec 2026 04:33:31 GMT
std::int64_t file_mtime(const std::filesystem::path& path);
// The other way: 2026-12-04T04:33:31Z ("?" for a time gmtime cannot show).
std::string format_iso8601(std::int64_t unix_seconds);

}  // namespace mlo::remote
