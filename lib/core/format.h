// Small shared formatting and I/O helpers.
#pragma once
#include <cstdint>
#include <string>
#include <sys/types.h>
#include <string_view>
#include <vector>

namespace mlo {

// "12.3 MiB" (binary units; bytes shown exactly below 1 KiB).
std::string human_bytes(std::uint64_t bytes);

// A table cell for Markdown: '|' escaped, newlines folded into spaces.
std::string markdown_cell(const std::string& text);

// Reads up to `length` bytes at `offset`, retrying short reads and EINTR.
// Returns the bytes read (fewer only at end of file), or -1 with errno set.
ssize_t pread_full(int fd, char* buffer, std::uint64_t length, std::uint64_t offset);

// Edit distance (insertions, deletions, substitutions, adjacent swaps).
std::size_t edit_distance(std::string_view a, std::string_view b);
// The candidate closest to `word` when it is close enough to be a typo
// (distance <= max(1, len/3)); empty when none is. For "did you mean X?".
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace mlo
