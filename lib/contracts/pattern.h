// A contract's `regex:` (POSIX extended, the whole value must match). Most
// such patterns are fixed-width codes ('[A-J]{2}-[0-9]{4}'): those are matched
// byte by byte against one 256-bit set per position, without regexec's
// per-call allocation and locking; every other pattern goes to regexec.
// Both give the same answer (a unit test compares them).
#pragma once
#include <regex.h>

#include <bitset>
#include <string>
#include <string_view>
#include <vector>

namespace mlo::contracts {

class Pattern {
 public:
  explicit Pattern(const std::string& pattern);
  ~Pattern();
  Pattern(const Pattern&) = delete;
  Pattern& operator=(const Pattern&) = delete;

  // Whether the whole text matches (false for every text when the pattern does not compile).
  bool matches(std::string_view text);
  // Whether the fixed-width path is used (for tests).
  bool fixed_width() const { return fixed_; }

 private:
  bool regexec_matches(std::string_view text);

  regex_t re_{};
  bool ok_ = false;
  bool fixed_ = false;
  std::vector<std::bitset<256>> sets_;  // fixed-width: the bytes allowed at each position
  std::string buf_;                     // regexec needs a NUL-terminated copy
};

}  // namespace mlo::contracts
