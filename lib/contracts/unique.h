// Repeated values for unique and primary-key checks, in bounded memory: an
// open-addressing set of 64-bit value hashes that finds a repeat the moment
// it is read (so the example can name its line). Past `max_slots` slots it
// keeps only hashes whose top `level` bits are zero, raising the level as it
// fills: both copies of a repeated value share a hash, so every repeat within
// the sample is still found, and a found repeat is real (up to a 2^-64
// collision); a pass over a sample is reported as approximate.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

namespace mlo::contracts {

inline std::uint64_t mix64(std::uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}
std::uint64_t hash_text(std::string_view text);
inline std::uint64_t combine_hash(std::uint64_t seed, std::uint64_t h) { return mix64(seed * 0x9E3779B97F4A7C15ULL + h + 1); }

class UniqueSet {
 public:
  explicit UniqueSet(std::size_t max_slots) : max_slots_(max_slots < 64 ? 64 : max_slots) {}
  // True when the hash was added before (a repeat); adds it otherwise.
  bool seen_before(std::uint64_t h);
  bool sampled() const { return level_ > 0; }
  // Starts loading the slot where `h` would go: past the caches' size, a
  // probe otherwise waits on memory (issued a little before seen_before).
  void prefetch(std::uint64_t h) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[slot_of(h ? h : 1) & (slots_.size() - 1)]);
  }

 private:
  static std::size_t slot_of(std::uint64_t h) { return static_cast<std::size_t>(h * 0x9E3779B97F4A7C15ULL); }
  bool kept(std::uint64_t h) const { return level_ == 0 || (h >> (64 - level_)) == 0; }
  void rebuild(std::size_t slots);
  std::vector<std::uint64_t> slots_;  // 0: empty
  std::size_t size_ = 0, max_slots_;
  int level_ = 0;
};

}  // namespace mlo::contracts
