#include "core/random.h"

#include <cstdio>
#include <fstream>
#include <vector>

#include "core/error.h"

namespace mlo {

std::string random_hex(std::size_t bytes) {
  std::ifstream in("/dev/urandom", std::ios::binary);
  std::vector<char> b(bytes);
  if (!in.read(b.data(), static_cast<std::streamsize>(bytes)))
    throw Error(Exit::input, "cannot read /dev/urandom", "check that /dev is mounted");
  std::string out;
  char h[3];
  for (char c : b) {
    std::snprintf(h, sizeof h, "%02x", static_cast<unsigned char>(c));
    out += h;
  }
  return out;
}

}  // namespace mlo
