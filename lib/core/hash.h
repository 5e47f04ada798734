// SHA-256, built in: SHA-NI where the CPU has it, portable C++ elsewhere.
// No OpenSSL: its start-up (library relocation, EVP provider lookup) cost more
// than hashing the short strings most commands hash (issue 14).
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace mlo {

class Sha256 {
 public:
  Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, std::size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  // The 32 raw digest bytes; the object can not be updated afterwards.
  void digest(unsigned char out[32]);
  // Lower-case hex of the digest; the object can not be updated afterwards.
  std::string hex_digest();

 private:
  std::uint32_t state_[8];
  unsigned char block_[64];
  std::size_t buffered_ = 0;
  std::uint64_t total_ = 0;
};

std::string sha256_hex(std::string_view data);
// HMAC-SHA256 (RFC 2104) of data under key: the 32 raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view data);
// Hashes a whole file. Throws InputError when it can not be read.
// `on_bytes`, when given, hears of every block read (a progress line that
// moves while one large file is hashed).
std::string sha256_file(const std::filesystem::path& path,
                        const std::function<void(std::size_t)>& on_bytes = {});
// 64 lower-case hex digits.
bool is_sha256_hex(std::string_view text);
// "SHA-NI" or "portable": which block function this CPU uses (for `mlo doctor`).
const char* sha256_implementation();

namespace detail {
// Compresses n 64-byte blocks into state (FIPS 180-4, 6.2.2).
void sha256_blocks_portable(std::uint32_t state[8], const unsigned char* data, std::size_t n);
// The same with the x86 SHA extensions; only call when sha256_has_shani().
void sha256_blocks_shani(std::uint32_t state[8], const unsigned char* data, std::size_t n);
bool sha256_has_shani();
}  // namespace detail

}  // namespace mlo
