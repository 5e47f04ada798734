#include "core/hash.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/fs.h"

namespace mlo {

namespace {

using BlockFn = void (*)(std::uint32_t*, const unsigned char*, std::size_t);

// Chosen once: CPUID is cheap, but not free on every short hash.
BlockFn block_function() {
  static const BlockFn fn = detail::sha256_has_shani() ? detail::sha256_blocks_shani : detail::sha256_blocks_portable;
  return fn;
}

void store_be32(unsigned char* p, std::uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<unsigned char>(v);
}

std::string to_hex(const unsigned char* bytes, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string hex(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    hex[2 * i] = digits[bytes[i] >> 4];
    hex[2 * i + 1] = digits[bytes[i] & 15];
  }
  return hex;
}

}  // namespace

Sha256::Sha256()
    : state_{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19} {}

void Sha256::update(const void* data, std::size_t size) {
  // Nothing to add; an empty string_view's data() may be null, which memcpy must never see.
  if (size == 0) return;
  auto* p = static_cast<const unsigned char*>(data);
  total_ += size;
  if (buffered_ > 0) {
    std::size_t take = std::min(size, sizeof block_ - buffered_);
    std::memcpy(block_ + buffered_, p, take);
    buffered_ += take, p += take, size -= take;
    if (buffered_ < sizeof block_) return;
    block_function()(state_, block_, 1);
    buffered_ = 0;
  }
  // Whole blocks straight from the caller's buffer, the rest kept for later.
  if (std::size_t whole = size / 64; whole > 0) block_function()(state_, p, whole);
  std::memcpy(block_, p + size / 64 * 64, size % 64);
  buffered_ = size % 64;
}

void Sha256::digest(unsigned char out[32]) {
  const std::uint64_t bits = total_ * 8;
  block_[buffered_++] = 0x80;
  if (buffered_ > 56) {
    std::memset(block_ + buffered_, 0, 64 - buffered_);
    block_function()(state_, block_, 1);
    buffered_ = 0;
  }
  std::memset(block_ + buffered_, 0, 56 - buffered_);
  store_be32(block_ + 56, static_cast<std::uint32_t>(bits >> 32));
  store_be32(block_ + 60, static_cast<std::uint32_t>(bits));
  block_function()(state_, block_, 1);
  for (int i = 0; i < 8; ++i) store_be32(out + 4 * i, state_[i]);
}

std::string Sha256::hex_digest() {
  unsigned char d[32];
  digest(d);
  return to_hex(d, sizeof d);
}

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.hex_digest();
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char k[64] = {};
  if (key.size() > sizeof k) {
    Sha256 h;
    h.update(key);
    h.digest(k);
  } else if (!key.empty()) {
    std::memcpy(k, key.data(), key.size());
  }
  unsigned char pad[64], inner[32], outer[32];
  for (int i = 0; i < 64; ++i) pad[i] = k[i] ^ 0x36;
  Sha256 in;
  in.update(pad, sizeof pad);
  in.update(data);
  in.digest(inner);
  for (int i = 0; i < 64; ++i) pad[i] = k[i] ^ 0x5c;
  Sha256 out;
  out.update(pad, sizeof pad);
  out.update(inner, sizeof inner);
  out.digest(outer);
  return std::string(reinterpret_cast<char*>(outer), sizeof outer);
}

const char* sha256_implementation() { return detail::sha256_has_shani() ? "SHA-NI" : "portable"; }

std::string sha256_file(const std::filesystem::path& path, const std::function<void(std::size_t)>& on_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_errno("cannot read " + path.string(), errno);
  Sha256 h;
  char* buf = io_buffer();
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, kIoBufferSize);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read " + path.string(), errno);
    }
    if (n == 0) break;
    h.update(buf, static_cast<std::size_t>(n));
    if (on_bytes) on_bytes(static_cast<std::size_t>(n));
  }
  return h.hex_digest();
}

bool is_sha256_hex(std::string_view text) {
  if (text.size() != 64) return false;
  // No early exit, so the compiler may vectorize it (remote pack indexes
  // check every object's name on each load).
  bool ok = true;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    ok &= static_cast<unsigned char>(u - '0') <= 9 || static_cast<unsigned char>(u - 'a') <= 5;
  }
  return ok;
}

}  // namespace mlo
