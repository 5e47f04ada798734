// Small formatting helpers shared by commands' human output.
#pragma once
#include <cstdint>
#include <string>

namespace mlo {

// "0 B", "512 B", "2.0 KiB", "1.5 GiB" (binary units, one decimal).
std::string human_bytes(std::uint64_t n);

}  // namespace mlo
