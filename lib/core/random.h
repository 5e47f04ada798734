// Random identifiers from the kernel's generator (/dev/urandom): tokens,
// and nonces that make two otherwise identical records differ.
#pragma once
#include <cstddef>
#include <string>

namespace mlo {

// 2 * bytes lowercase hex digits. Throws mlo::Error when /dev/urandom cannot be read.
std::string random_hex(std::size_t bytes);

}  // namespace mlo
