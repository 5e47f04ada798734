#include "contracts/unique.h"

#include <functional>

namespace mlo::contracts {

std::uint64_t hash_text(std::string_view text) { return mix64(std::hash<std::string_view>{}(text)); }

bool UniqueSet::seen_before(std::uint64_t h) {
  if (h == 0) h = 1;  // 0 marks an empty slot
  if (!kept(h)) return false;
  if (slots_.empty()) rebuild(1024);
  std::size_t mask = slots_.size() - 1, i = slot_of(h) & mask;
  while (slots_[i] != 0) {
    if (slots_[i] == h) return true;
    i = (i + 1) & mask;
  }
  slots_[i] = h;
  if (++size_ * 4 > slots_.size() * 3) {
    if (slots_.size() * 2 <= max_slots_) {
      rebuild(slots_.size() * 2);
    } else {
      // Full: sample by hash (halves the set), same table size.
      while (size_ * 2 > slots_.size() && level_ < 63) {
        ++level_;
        rebuild(slots_.size());
      }
    }
  }
  return false;
}

void UniqueSet::rebuild(std::size_t slots) {
  std::vector<std::uint64_t> old;
  old.swap(slots_);
  slots_.assign(slots, 0);
  size_ = 0;
  std::size_t mask = slots - 1;
  for (std::uint64_t h : old) {
    if (h == 0 || !kept(h)) continue;
    std::size_t i = slot_of(h) & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = h;
    ++size_;
  }
}

}  // namespace mlo::contracts
