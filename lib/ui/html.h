// Small helpers for the HTML that mlo ui and mlo plots write: escaping (every
// text from a repo, a record or a request is hostile), URLs and query strings.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mlo::ui {

// Text and attribute values: & < > " ' escaped; bytes that are not valid
// UTF-8 become U+FFFD so the page stays well-formed.
std::string esc(std::string_view text);
// Percent-encodes everything but unreserved characters (for links built from names).
std::string url_encode(std::string_view text);
// Decodes %XX and '+' ; a malformed escape is kept as written.
std::string url_decode(std::string_view text);

using QueryParams = std::vector<std::pair<std::string, std::string>>;
// Splits "a=1&b=2" into decoded pairs. Bounded: at most `max_params` pairs and
// `max_length` bytes of query; past that UsageError (the page answers 400).
QueryParams parse_query(std::string_view query, std::size_t max_params = 64, std::size_t max_length = 8192);
// The first value of `name`, or `fallback`.
std::string query_value(const QueryParams& q, std::string_view name, std::string fallback = {});
std::vector<std::string> query_values(const QueryParams& q, std::string_view name);

// The page's style sheet (inline: no external assets).
const char* style_sheet();

}  // namespace mlo::ui
