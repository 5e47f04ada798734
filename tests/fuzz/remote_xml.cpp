// Fuzz target: what remotes answer in XML (remote/backend.h): an S3
// ListObjectsV2 page or error body, and a WebDAV PROPFIND multistatus. The
// pieces the backends use are run the way they use them: element values,
// sizes, timestamps, percent-decoded hrefs and the untrusted-path check, plus
// URL redaction of whatever a message would quote. Nothing may throw anything
// but mlo::Error, or crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/safe_path.h"
#include "remote/backend.h"
#include "remote/http.h"
#include "remote/timestamps.h"
#include "scratch.h"

namespace r = mlo::remote;
using mlo::fuzz::expect_mlo_errors_only;

namespace {

void s3_list_page(std::string_view body) {
  for (const auto& contents : r::xml_values(body, "Contents")) {
    auto key = r::xml_values(contents, "Key");
    auto size = r::xml_values(contents, "Size");
    if (key.size() != 1 || size.size() != 1) continue;
    expect_mlo_errors_only([&] { r::parse_remote_u64(size[0], "Size"); });
    mlo::is_checked_relative(key[0]);
    for (const auto& m : r::xml_values(contents, "LastModified")) r::parse_iso8601(m);
  }
  r::xml_values(body, "IsTruncated");
  r::xml_values(body, "NextContinuationToken");
  r::xml_values(body, "UploadId");
  for (const auto& code : r::xml_values(body, "Code")) r::redact_url(code);
  for (const auto& message : r::xml_values(body, "Message")) r::redact_url(message);
}

void propfind(std::string_view body) {
  for (const auto& resp : r::xml_values(body, "response")) {
    for (const auto& href : r::xml_values(resp, "href")) {
      r::redact_url(href);
      r::url_has_userinfo(href);
      if (auto decoded = r::uri_decode(href)) mlo::is_checked_relative(*decoded);
    }
    for (const auto& s : r::xml_values(resp, "getcontentlength"))
      expect_mlo_errors_only([&] { r::parse_remote_u64(s, "getcontentlength"); });
    for (const auto& m : r::xml_values(resp, "getlastmodified")) r::parse_http_date(m);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body = mlo::fuzz::as_text(data, size);
  s3_list_page(body);
  propfind(body);
  return 0;
}
