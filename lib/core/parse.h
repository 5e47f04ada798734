// Checked parsing of numbers and JSON from text mlo did not write itself (a
// command line, a pointer, a manifest, a remote's answer). Unlike std::stoll
// and friends nothing here throws a raw std::exception or casts out of range:
// a bad value is reported to the caller, who names where it came from.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace mlo {

// The whole of `text` as a decimal number; nullopt when it is empty, has
// other characters, or does not fit.
std::optional<std::uint64_t> parse_u64(std::string_view text);
std::optional<std::int64_t> parse_i64(std::string_view text);
// A finite decimal floating-point number (no inf/nan).
std::optional<double> parse_double(std::string_view text);
// The same, throwing InputError "WHAT: 'TEXT' is not a whole number from 0 to 2^64-1".
std::uint64_t parse_u64_or_throw(std::string_view text, const std::string& what);
std::int64_t parse_i64_or_throw(std::string_view text, const std::string& what);

// True when `text` is well-formed UTF-8 (no overlong forms or surrogates).
bool is_valid_utf8(std::string_view text);
// `text` for messages: bytes that are not valid UTF-8, and control
// characters, are written as \xNN.
std::string printable(std::string_view text);

// JSON documents mlo reads are shallow; deeper nesting is hostile (each level
// costs stack in recursive code, and error messages must not echo it).
inline constexpr std::size_t kMaxJsonDepth = 64;
// True when no array/object in `text` nests deeper than `max_depth`. A byte
// scan that skips strings; run it before nlohmann parses the text.
bool json_depth_within(std::string_view text, std::size_t max_depth = kMaxJsonDepth);
// Parses JSON from untrusted text: depth first, then nlohmann. Throws
// InputError "WHERE: not valid JSON (...)" or "... nested too deeply";
// never echoes the document.
nlohmann::json parse_json_checked(std::string_view text, const std::string& where,
                                  std::size_t max_depth = kMaxJsonDepth);
// A JSON value that must be an unsigned whole number (not a float, not
// negative); nullopt otherwise. nlohmann's get<uint64_t>() would cast a
// float such as 1.777e20 (undefined behaviour) or throw.
std::optional<std::uint64_t> json_u64(const nlohmann::json& value);

}  // namespace mlo
