#include "monitor/counts.h"

#include <algorithm>
#include <bit>
#include <new>

namespace mlo::monitor {

void KeyCounts::add(std::uint64_t key, std::uint64_t times) {
  if (times == 0) return;
  add(key);
  std::uint64_t more = times - 1;
  if (more == 0) return;
  std::size_t h = slot(key);
  while (keys_[h] != key) h = (h + 1) & mask_;
  std::uint64_t sum = counts_[h] + more;
  counts_[h] = static_cast<std::uint16_t>(sum & 0xffff);
  if (sum >> 16) carry_[key] += sum & ~0xffffULL;
}

void KeyCounts::add_batch(const std::uint64_t* keys, std::size_t n) {
  while ((size_ + n) * 5 > slots_ * 4) grow();  // room for every key being new
  constexpr std::size_t kAhead = 16;
  for (std::size_t i = 0; i < n; ++i) {
    if (i + kAhead < n) {
      std::size_t h = slot(keys[i + kAhead]);
      __builtin_prefetch(&keys_[h]);
      __builtin_prefetch(&counts_[h]);
    }
    bump(keys[i]);
  }
}

bool KeyCounts::contains(std::uint64_t key) const {
  if (slots_ == 0) return false;
  for (std::size_t h = slot(key);; h = (h + 1) & mask_) {
    if (keys_[h] == key) return true;
    if (keys_[h] == 0) return false;
  }
}

std::uint64_t KeyCounts::count(std::uint64_t key) const {
  if (slots_ == 0) return 0;
  for (std::size_t h = slot(key);; h = (h + 1) & mask_) {
    if (keys_[h] == key) return total(h);
    if (keys_[h] == 0) return 0;
  }
}

std::uint64_t KeyCounts::total(std::size_t i) const {
  std::uint64_t c = counts_[i];
  if (carry_.empty()) [[likely]] return c;
  auto it = carry_.find(keys_[i]);
  return it == carry_.end() ? c : c + it->second;
}

void KeyCounts::grow() {
  std::size_t old_slots = slots_;
  slots_ = slots_ == 0 ? 32 : slots_ * 2;
  decltype(keys_) old_keys(new std::uint64_t[slots_]());
  decltype(counts_) old_counts(new std::uint16_t[slots_]());
  old_keys.swap(keys_);
  old_counts.swap(counts_);
  mask_ = slots_ - 1;
  shift_ = 64 - std::countr_zero(slots_);
  for (std::size_t i = 0; i < old_slots; ++i) {
    if (!old_keys[i]) continue;
    std::size_t h = slot(old_keys[i]);
    while (keys_[h]) h = (h + 1) & mask_;
    keys_[h] = old_keys[i];
    counts_[h] = old_counts[i];  // the carry is by key: unchanged
  }
}

std::vector<std::uint64_t> KeyCounts::sorted_keys() const {
  std::vector<std::uint64_t> out;
  out.reserve(size_);
  for (std::size_t i = 0; i < slots_; ++i)
    if (keys_[i]) out.push_back(keys_[i]);
  radix_sort(out);
  return out;
}

void radix_sort(std::vector<std::uint64_t>& keys) {
  const std::size_t n = keys.size();
  if (n < 2048) {
    std::sort(keys.begin(), keys.end());
    return;
  }
  // 11-bit digits: the counts stay in L1 and the scatter has few open
  // destinations; the six histograms are built in one pass.
  constexpr int kBits = 11, kPasses = 6;
  constexpr std::size_t kRadix = 1 << kBits, kMask = kRadix - 1;
  std::vector<std::size_t> count(kPasses * kRadix, 0);
  for (auto k : keys)
    for (int p = 0; p < kPasses; ++p) ++count[p * kRadix + ((k >> (p * kBits)) & kMask)];
  std::vector<std::uint64_t> tmp(n);
  for (int pass = 0; pass < kPasses; ++pass) {
    int shift = pass * kBits;
    std::size_t* c = count.data() + static_cast<std::size_t>(pass) * kRadix;
    if (c[(keys[0] >> shift) & kMask] == n) continue;
    std::size_t sum = 0;
    for (std::size_t d = 0; d < kRadix; ++d) {
      std::size_t t = c[d];
      c[d] = sum;
      sum += t;
    }
    for (auto k : keys) tmp[c[(k >> shift) & kMask]++] = k;
    keys.swap(tmp);
  }
}

Sample sample_from_counts(const KeyCounts& counts) {
  Sample s;
  std::vector<std::uint64_t> keys = counts.sorted_keys();
  s.values.reserve(keys.size());
  s.counts.reserve(keys.size());
  for (auto k : keys) {
    double v = from_order_key(k);
    std::uint64_t c = counts.count(k);
    s.n += c;
    if (!s.values.empty() && s.values.back() == v) s.counts.back() += c;  // -0.0 and 0.0
    else {
      s.values.push_back(v);
      s.counts.push_back(c);
    }
  }
  return s;
}

}  // namespace mlo::monitor
