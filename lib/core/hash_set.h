// A set of SHA-256 hashes held as 32 raw bytes each: what push keeps for
// every object a dataset names. A std::set<std::string> of the same hashes
// costs ~150 bytes a hash (tree node, string, 65-byte heap block); this is
// 32 bytes a hash in one sorted vector.
#pragma once
#include <array>
#include <cstddef>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace mlo {

using Sha256Bytes = std::array<unsigned char, 32>;
// Parses 64 lower-case hex digits; false (out unspecified) for anything else.
bool sha256_from_hex(std::string_view hex, Sha256Bytes& out);
std::string sha256_to_hex(const Sha256Bytes& bytes);

// Sorted lazily by the first read after an insert: fill it from one thread,
// then read it (reads from several threads only after one has sorted it).
class HashSet {
 public:
  // Anything that is not a SHA-256 in lower-case hex is kept aside as text,
  // so a malformed name still reaches the caller (e.g. reported missing).
  void insert(std::string_view hash);
  void reserve(std::size_t n) { bytes_.reserve(n); }
  // Empties it and keeps its room, for the next batch of the same size.
  void clear() {
    bytes_.clear();
    sorted_upto_ = 0;
    odd_.clear();
  }
  // Takes every hash of `other` (left empty, its memory freed): the larger
  // table is kept and the smaller appended in one step, so the two are never
  // held twice over as inserting one by one would.
  void merge(HashSet&& other);
  bool contains(std::string_view hash) const;
  std::size_t size() const;
  // Hashes held now, repeats not yet dropped included (no sort): its memory.
  std::size_t held() const { return bytes_.size() + odd_.size(); }
  bool empty() const { return size() == 0; }
  // The hashes in order (raw ones sorted, then the odd ones).
  const std::vector<Sha256Bytes>& sorted() const;
  const std::set<std::string>& odd() const { return odd_; }
  // Every hash as hex, one at a time.
  template <typename F>
  void for_each(F&& f) const {
    for (const auto& b : sorted()) f(sha256_to_hex(b));
    for (const auto& s : odd_) f(s);
  }

 private:
  mutable std::vector<Sha256Bytes> bytes_;
  mutable std::size_t sorted_upto_ = 0;  // bytes_[0, sorted_upto_) is sorted and unique
  std::set<std::string> odd_;
};

}  // namespace mlo
