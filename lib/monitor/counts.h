// Counting distinct 64-bit keys in memory that grows with distinct keys, not
// with rows: the storage behind a numerical column's exact value counts, its
// sketch buckets.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <vector>

#include "monitor/stats.h"

namespace mlo::monitor {

// Order-preserving key of a double: unsigned order of keys is the order of the
// values (-0.0 sorts just below 0.0). Never 0 for a finite value (0 is a NaN).
inline std::uint64_t order_key(double v) {
  std::uint64_t b;
  std::memcpy(&b, &v, 8);
  return (b >> 63) ? ~b : (b | (1ULL << 63));
}
inline double from_order_key(std::uint64_t k) {
  std::uint64_t b = (k >> 63) ? (k & ~(1ULL << 63)) : ~k;
  double v;
  std::memcpy(&v, &b, 8);
  return v;
}

// Open-addressing counter of nonzero keys (linear probing, Fibonacci hashing).
// 10 bytes a slot: counts are 16-bit with a carry map for the rare key seen
// 65,536 times or more, because a column's table is sized by its distinct
// values and the big tables are the ones whose values repeat least.
class KeyCounts {
 public:
  void add(std::uint64_t key) {
    if ((size_ + 1) * 5 > slots_ * 4) [[unlikely]] grow();
    bump(key);
  }
  void add(std::uint64_t key, std::uint64_t times);
  // Adds keys[0..n), prefetching the slots a few keys ahead: the tables of
  // many columns do not fit the cache together.
  void add_batch(const std::uint64_t* keys, std::size_t n);
  // Whether the key is present, without counting it.
  bool contains(std::uint64_t key) const;
  std::uint64_t count(std::uint64_t key) const;
  std::size_t size() const { return size_; }
  // Present keys, ascending.
  std::vector<std::uint64_t> sorted_keys() const;
  void clear() { *this = KeyCounts(); }

 private:
  std::size_t slot(std::uint64_t key) const {
    return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ULL) >> shift_);
  }
  std::uint64_t total(std::size_t i) const;
  void grow();
  // Counts the key once; the table has room for it.
  void bump(std::uint64_t key) {
    std::size_t h = slot(key);
    while (keys_[h] != key) {
      if (keys_[h] == 0) {
        keys_[h] = key;
        ++size_;
        break;
      }
      h = (h + 1) & mask_;
    }
    if (++counts_[h] == 0) [[unlikely]] carry_[key] += 1ULL << 16;
  }

  // Zeroed by writing (new T[n]()), not calloc'd: a fresh calloc'd table maps
  // the shared zero page, so a probe (a read) and then an insert (a write) took
  // two faults a page, the second a copy-on-write whose TLB flush interrupts the
  // other profiling thread. (GCC folds malloc + memset back into calloc.)
  std::unique_ptr<std::uint64_t[]> keys_;  // 0: empty slot
  std::unique_ptr<std::uint16_t[]> counts_;
  std::size_t slots_ = 0;
  std::unordered_map<std::uint64_t, std::uint64_t> carry_;  // key -> multiples of 65,536
  std::size_t size_ = 0, mask_ = 0;
  int shift_ = 64;
};

// LSD radix sort of keys (11-bit digits; passes where every key shares the
// digit are skipped). Several times faster than std::sort on 10^5+ keys.
void radix_sort(std::vector<std::uint64_t>& keys);

// The Sample of counted order keys (-0.0 and 0.0 merged into one value).
Sample sample_from_counts(const KeyCounts& counts);

}  // namespace mlo::monitor
