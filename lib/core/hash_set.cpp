#include "core/hash_set.h"

#include <algorithm>
#include <array>

namespace mlo {

namespace {
// Each byte's value as a lower-case hex digit, or -1: a pull decodes every
// object's name several times: one table load per digit, no range tests.
constexpr std::array<signed char, 256> hex_digit_values() {
  std::array<signed char, 256> t{};
  for (auto& v : t) v = -1;
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = static_cast<signed char>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[static_cast<std::size_t>(c)] = static_cast<signed char>(c - 'a' + 10);
  return t;
}
constexpr std::array<signed char, 256> kHexDigit = hex_digit_values();
}  // namespace

bool sha256_from_hex(std::string_view hex, Sha256Bytes& out) {
  if (hex.size() != 64) return false;
  int bad = 0;  // any -1 digit sets the sign bit; tested once at the end
  for (std::size_t i = 0; i < 32; ++i) {
    int hi = kHexDigit[static_cast<unsigned char>(hex[2 * i])];
    int lo = kHexDigit[static_cast<unsigned char>(hex[2 * i + 1])];
    bad |= hi | lo;
    out[i] = static_cast<unsigned char>((hi << 4) | lo);
  }
  return bad >= 0;
}

std::string sha256_to_hex(const Sha256Bytes& bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out(64, '0');
  for (std::size_t i = 0; i < 32; ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 15];
  }
  return out;
}

void HashSet::insert(std::string_view hash) {
  Sha256Bytes b;
  if (sha256_from_hex(hash, b)) {
    bytes_.push_back(b);
    // Repeats are dropped once the unsorted part outgrows the sorted one, so
    // a hash inserted many times (each version of a dataset naming most of
    // the same files) costs at most twice the distinct ones.
    if (bytes_.size() - sorted_upto_ > std::max<std::size_t>(sorted_upto_, std::size_t(1) << 16)) sorted();
  } else
    odd_.emplace(hash);
}

void HashSet::merge(HashSet&& other) {
  if (other.bytes_.size() > bytes_.size()) {
    std::swap(bytes_, other.bytes_);
    std::swap(sorted_upto_, other.sorted_upto_);
  }
  if (!other.bytes_.empty()) {
    bytes_.reserve(bytes_.size() + other.bytes_.size());
    bytes_.insert(bytes_.end(), other.bytes_.begin(), other.bytes_.end());
  }
  odd_.merge(other.odd_);
  std::vector<Sha256Bytes>().swap(other.bytes_);
  other.sorted_upto_ = 0;
  other.odd_.clear();
}

const std::vector<Sha256Bytes>& HashSet::sorted() const {
  if (sorted_upto_ != bytes_.size()) {
    // Sorting in place (no second copy): the vector is the only table.
    std::sort(bytes_.begin(), bytes_.end());
    bytes_.erase(std::unique(bytes_.begin(), bytes_.end()), bytes_.end());
    sorted_upto_ = bytes_.size();
  }
  return bytes_;
}

bool HashSet::contains(std::string_view hash) const {
  Sha256Bytes b;
  if (!sha256_from_hex(hash, b)) return odd_.count(std::string(hash)) != 0;
  const auto& v = sorted();
  return std::binary_search(v.begin(), v.end(), b);
}

std::size_t HashSet::size() const { return sorted().size() + odd_.size(); }

}  // namespace mlo
