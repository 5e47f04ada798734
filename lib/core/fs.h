// File-system primitives: owned descriptors, atomic writes, path arithmetic.
#pragma once
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace mlo {

namespace fs = std::filesystem;

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) { reset(); fd_ = other.release(); }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  explicit operator bool() const { return fd_ >= 0; }
  int get() const { return fd_; }
  int release() { int fd = fd_; fd_ = -1; return fd; }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

std::string read_file(const fs::path& path);

// A buffer of kIoBufferSize bytes per thread for streaming file I/O:
// allocated once per thread, so hashing many small files costs no
// allocation (or zeroing) per file.
inline constexpr std::size_t kIoBufferSize = 1 << 20;
char* io_buffer();
std::optional<std::string> read_file_if_exists(const fs::path& path);

// Writes all of data to fd, retrying short writes. Throws InputError naming `what`.
void write_all(int fd, std::string_view data, const std::string& what);

// A file created next to its destination and renamed over it on commit(), so
// readers see the old content or the new one, never a torn write. Removed if
// not committed (error, exception, Ctrl-C).
class AtomicFile {
 public:
  explicit AtomicFile(fs::path destination, int mode = 0644);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  int fd() const { return fd_.get(); }
  const fs::path& temp_path() const { return temp_; }
  void write(std::string_view data);
  // fsync (when durable), close, rename into place, fsync the directory (when durable).
  void commit(bool durable = true);

 private:
  fs::path dest_;
  fs::path temp_;
  UniqueFd fd_;
  bool committed_ = false;
};

void write_file_atomic(const fs::path& path, std::string_view data, bool durable = true);
void fsync_path(const fs::path& path);
// A unique name "<dir>/.<stem>.tmp.<pid>.<n>" that does not exist yet.
fs::path unique_temp_name(const fs::path& dir, std::string_view stem);
// True when `name` is such a temp file name and process <pid> is gone (it
// was killed before it could rename or remove the file).
bool is_stale_temp_name(std::string_view name);
// Removes the stale temp files directly inside `dir` (absent is fine).
void remove_stale_temps(const fs::path& dir);

// Lexically normal path with forward slashes relative to base; empty if path
// is base; nullopt if path is outside base (after normalisation).
std::optional<std::string> relative_inside(const fs::path& path, const fs::path& base);
// True when rel (a relative POSIX path) stays inside its root: no "..", not absolute, no empty parts.
bool is_safe_relative(std::string_view rel);

}  // namespace mlo
