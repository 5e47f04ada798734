// Azure Blob Storage's Shared Key signature pieces: pure functions, so the
// unit tests can check them against an independent computation.
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mlo::remote {

// The string a Shared Key signature signs: the verb, the standard headers
// (lower-case names in `headers`; Content-Length "0" signs as empty), the
// x-ms-* headers sorted, then the canonical resource.
std::string azure_string_to_sign(const std::string& method, const std::map<std::string, std::string>& headers,
                                 const std::string& canonical_resource);
// "/ACCOUNT/PATH" then "\nname:value" per query parameter (names lower-case,
// sorted; values unencoded, repeated names joined with ',').
std::string azure_canonical_resource(const std::string& account, const std::string& path,
                                     const std::vector<std::pair<std::string, std::string>>& query);
// "Key=Value;Key=Value" (AZURE_STORAGE_CONNECTION_STRING).
std::map<std::string, std::string> parse_connection_string(std::string_view text);

}  // namespace mlo::remote
