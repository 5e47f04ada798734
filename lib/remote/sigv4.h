// AWS Signature Version 4 (header-based) for the s3 remote. Pure functions,
// tested against AWS's published examples (tests/unit/remote_test.cpp).
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace mlo::remote {

struct AwsCredentials {
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // empty unless temporary credentials
};

struct SigV4Request {
  std::string method;
  std::string canonical_uri;  // already URI-encoded path ("/bucket/key")
  std::vector<std::pair<std::string, std::string>> query;  // raw (unencoded) names and values
  std::map<std::string, std::string> headers;              // lower-case names -> values; all are signed
  std::string payload_hash;   // hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

struct SigV4Result {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;
  std::string authorization;  // the Authorization header's value
};

// amz_date is "YYYYMMDDTHHMMSSZ".
SigV4Result sigv4_sign(const SigV4Request& request, const AwsCredentials& creds, const std::string& region,
                       const std::string& service, const std::string& amz_date);
// The canonical query string: names and values encoded, sorted.
std::string sigv4_canonical_query(const std::vector<std::pair<std::string, std::string>>& query);
// "YYYYMMDDTHHMMSSZ" for now (UTC).
std::string amz_date_now();

}  // namespace mlo::remote
