#include "remote/sigv4.h"

#include <algorithm>
#include <ctime>

#include "core/hash.h"
#include "remote/http.h"

namespace mlo::remote {

namespace {

std::string hmac(const std::string& key, const std::string& data) { return hmac_sha256(key, data); }

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string trim_value(const std::string& v) {
  // Trim and collapse runs of spaces (SigV4 canonical header values).
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

}  // namespace

std::string sigv4_canonical_query(const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<std::pair<std::string, std::string>> enc;
  for (auto& [k, v] : query) enc.emplace_back(uri_encode(k, false), uri_encode(v, false));
  std::sort(enc.begin(), enc.end());
  std::string out;
  for (auto& [k, v] : enc) {
    if (!out.empty()) out += '&';
    out += k + "=" + v;
  }
  return out;
}

SigV4Result sigv4_sign(const SigV4Request& request, const AwsCredentials& creds, const std::string& region,
                       const std::string& service, const std::string& amz_date) {
  SigV4Result r;
  std::string canonical_headers, signed_headers;
  for (auto& [name, value] : request.headers) {  // std::map: sorted by lower-case name
    canonical_headers += name + ":" + trim_value(value) + "\n";
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += name;
  }
  r.canonical_request = request.method + "\n" + request.canonical_uri + "\n" + sigv4_canonical_query(request.query) +
                        "\n" + canonical_headers + "\n" + signed_headers + "\n" + request.payload_hash;
  std::string date = amz_date.substr(0, 8);
  std::string scope = date + "/" + region + "/" + service + "/aws4_request";
  r.string_to_sign = "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + sha256_hex(r.canonical_request);
  std::string k = hmac("AWS4" + creds.secret_key, date);
  k = hmac(k, region);
  k = hmac(k, service);
  k = hmac(k, "aws4_request");
  r.signature = hex(hmac(k, r.string_to_sign));
  r.authorization = "AWS4-HMAC-SHA256 Credential=" + creds.access_key + "/" + scope +
                    ",SignedHeaders=" + signed_headers + ",Signature=" + r.signature;
  return r;
}

std::string amz_date_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace mlo::remote
