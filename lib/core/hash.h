// SHA-256 through OpenSSL (uses SHA-NI where the CPU has it).
#pragma once
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace mlo {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, std::size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  // Lower-case hex of the digest; the object can not be updated afterwards.
  std::string hex_digest();

 private:
  void* ctx_;
};

std::string sha256_hex(std::string_view data);
// Hashes a whole file. Throws InputError when it can not be read.
std::string sha256_file(const std::filesystem::path& path);
// 64 lower-case hex digits.
bool is_sha256_hex(std::string_view text);

}  // namespace mlo
