// The per-cell number parser's fast path, inline because it runs for every
// numeric cell of every file: a CSV number of at most 8 bytes
// ([-]digits[.digits]) is parsed in registers, eight bytes at a time.
#pragma once
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace mlo::monitor::number {

inline constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
inline constexpr std::uint64_t kBytes01 = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;

// The n (1..8) bytes at p as one little-endian word, zero above byte n, read
// without touching a byte past p + n (two overlapping loads).
inline std::uint64_t load_upto8(const char* p, std::size_t n) {
  if (n >= 4) {
    std::uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + n - 4, 4);
    return lo | (std::uint64_t{hi} << (8 * (n - 4)));
  }
  auto byte = [&](std::size_t i) { return std::uint64_t{static_cast<unsigned char>(p[i])} << (8 * i); };
  return byte(0) | byte(n / 2) | byte(n - 1);
}

// The value of the n (1..8) digits whose ASCII bytes minus '0' are t's low
// bytes, first digit most significant: pairs, quads, then all eight.
inline std::uint64_t digits_value(std::uint64_t t, std::size_t n) {
  std::uint64_t v = t << (8 * (8 - n));  // the bytes above n leave; zeros lead
  v = (v * 10 + (v >> 8)) & 0x00FF00FF00FF00FFULL;
  v = (v * 100 + (v >> 16)) & 0x0000FFFF0000FFFFULL;
  return (v * 10000 + (v >> 32)) & 0xFFFFFFFFULL;
}

// [-]digits[.digits] in n (1..8) bytes. The digits as one integer m < 10^8
// are exact in a double and 10^frac is exact, so one division rounds
// correctly (Clinger): from_chars' double. False for anything else.
// Byte tests on a whole word are exact up to the first byte that fails them
// (borrows and carries only move upwards), which is all that is used.
inline bool parse_short_decimal(const char* p, std::size_t n, double& out) {
  if constexpr (std::endian::native != std::endian::little) return false;
  if (n - 1 >= 8) return false;  // 0 ("+" once its sign is dropped) or over 8 bytes
  std::uint64_t w = load_upto8(p, n);
  bool neg = (w & 0xff) == '-';
  if (neg) {
    w >>= 8;
    --n;
  }
  std::uint64_t x = w ^ ('.' * kBytes01);  // a '.' byte becomes zero
  std::uint64_t dots = (x - kBytes01) & ~x & kHigh;
  std::size_t nd = n, frac = 0;
  if (dots) {  // drop the point: the bytes after it move down one
    std::size_t dot = static_cast<std::size_t>(std::countr_zero(dots)) / 8;
    std::uint64_t below = (std::uint64_t{1} << (8 * dot)) - 1;
    w = (w & below) | ((w >> 8) & ~below);
    nd = n - 1;
    frac = nd - dot;
  }
  if (nd == 0) return false;
  std::uint64_t t = w - '0' * kBytes01;
  std::uint64_t not_digit = (t | (w + 0x46 * kBytes01)) & kHigh;  // below '0' or above '9'
  if (not_digit & (~std::uint64_t{0} >> (64 - 8 * nd))) return false;
  double v = static_cast<double>(digits_value(t, nd)) / kPow10[frac];
  out = neg ? -v : v;
  return true;
}

}  // namespace mlo::monitor::number
