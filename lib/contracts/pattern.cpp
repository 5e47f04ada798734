#include "contracts/pattern.h"

#include <cstring>
#include <optional>

namespace mlo::contracts {

namespace {

using ByteSet = std::bitset<256>;

// Only ASCII bytes other than NUL are ever put in a set: a text with any
// other byte misses the fixed-width path and is decided by regexec.
bool plain_ascii(unsigned char c) { return c > 0 && c < 0x80; }

ByteSet ascii_set() {
  ByteSet s;
  for (unsigned c = 1; c < 0x80; ++c) s.set(c);
  return s;
}

// A bracket expression starting after '[' at p[i]: members, ranges, a leading
// '^' or ']'. Collating elements, equivalence and character classes ("[:",
// "[=", "[.") are left to regexec. Advances i past the closing ']'.
std::optional<ByteSet> bracket(std::string_view p, std::size_t& i) {
  ByteSet s;
  bool negate = i < p.size() && p[i] == '^';
  if (negate) ++i;
  bool first = true;
  while (i < p.size() && (p[i] != ']' || first)) {
    auto lo = static_cast<unsigned char>(p[i]);
    if (!plain_ascii(lo) || (lo == '[' && i + 1 < p.size() && std::strchr(":=.", p[i + 1]))) return std::nullopt;
    first = false;
    if (i + 2 < p.size() && p[i + 1] == '-' && p[i + 2] != ']') {
      auto hi = static_cast<unsigned char>(p[i + 2]);
      if (!plain_ascii(hi) || hi == '[' || hi < lo) return std::nullopt;
      for (unsigned c = lo; c <= hi; ++c) s.set(c);
      i += 3;
    } else {
      s.set(lo);
      ++i;
    }
  }
  if (i >= p.size()) return std::nullopt;  // no closing ']'
  ++i;
  return negate ? ~s & ascii_set() : s;
}

// One atom at p[i] (a literal, an escaped special, '.', or a bracket).
std::optional<ByteSet> atom(std::string_view p, std::size_t& i) {
  static constexpr const char* kSpecial = ".[]()|*+?{}\\^$";
  auto c = static_cast<unsigned char>(p[i]);
  if (c == '.') return ++i, ascii_set();
  if (c == '[') return bracket(p, ++i);
  if (c == '\\') {
    if (i + 1 >= p.size() || !std::strchr(kSpecial, p[i + 1])) return std::nullopt;  // \w, \1, ...: regexec's
    c = static_cast<unsigned char>(p[i + 1]);
    i += 2;
  } else {
    if (!plain_ascii(c) || std::strchr(kSpecial, static_cast<char>(c))) return std::nullopt;
    ++i;
  }
  ByteSet s;
  s.set(c);
  return s;
}

// An optional "{N}" after an atom at p[i]: how many times it repeats (1 without).
std::optional<std::size_t> count(std::string_view p, std::size_t& i) {
  if (i >= p.size() || p[i] != '{') return 1;
  std::size_t n = 0, j = i + 1;
  while (j < p.size() && p[j] >= '0' && p[j] <= '9' && n <= 255) n = n * 10 + static_cast<std::size_t>(p[j++] - '0');
  if (j == i + 1 || j >= p.size() || p[j] != '}' || n > 255) return std::nullopt;  // {N,M} and the like: regexec's
  i = j + 1;
  return n;
}

// The sets of a fixed-width pattern, position by position; nullopt when the
// pattern uses anything else (alternation, groups, anchors, ?, *, +, {N,M}).
std::optional<std::vector<ByteSet>> fixed_width_sets(std::string_view p) {
  std::vector<ByteSet> sets;
  std::size_t i = 0;
  while (i < p.size()) {
    auto set = atom(p, i);
    if (!set) return std::nullopt;
    auto n = count(p, i);
    if (!n || sets.size() + *n > 1024) return std::nullopt;
    sets.insert(sets.end(), *n, *set);
  }
  return sets;
}

}  // namespace

Pattern::Pattern(const std::string& pattern) {
  ok_ = regcomp(&re_, ("^(" + pattern + ")$").c_str(), REG_EXTENDED | REG_NOSUB) == 0;
  if (!ok_ || pattern.find('\0') != std::string::npos) return;
  if (auto sets = fixed_width_sets(pattern)) {
    sets_ = std::move(*sets);
    fixed_ = true;
  }
}

Pattern::~Pattern() {
  if (ok_) regfree(&re_);
}

bool Pattern::matches(std::string_view text) {
  if (fixed_ && text.size() == sets_.size()) {
    std::size_t i = 0;
    while (i < text.size() && sets_[i][static_cast<unsigned char>(text[i])]) ++i;
    if (i == text.size()) return true;
  }
  // Not fixed-width, or not matched there: regexec decides (a miss is rare
  // in valid data, and this keeps regexec's answer for any byte the sets leave out).
  return regexec_matches(text);
}

bool Pattern::regexec_matches(std::string_view text) {
  buf_.assign(text.data(), text.size());
  return ok_ && regexec(&re_, buf_.c_str(), 0, nullptr, 0) == 0;
}

}  // namespace mlo::contracts
