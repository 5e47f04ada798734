#include "core/fs.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cerrno>
#include <limits>
#include <memory>

#include "core/error.h"

namespace mlo {

char* io_buffer() {
  thread_local std::unique_ptr<char[]> buf(new char[kIoBufferSize]);
  return buf.get();
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

std::optional<std::string> read_file_if_exists(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return std::nullopt;
    throw_errno("cannot read " + path.string(), errno);
  }
  std::string data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read " + path.string(), errno);
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  return data;
}

std::string read_file(const fs::path& path) {
  auto data = read_file_if_exists(path);
  if (!data) throw InputError("cannot read " + path.string() + ": no such file");
  return *data;
}

void write_all(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot write " + what, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

namespace {

// The process id, read once (a pull names 10,000 temp files) and again in a
// forked child, which is another process.
std::atomic<pid_t> cached_pid{0};

pid_t current_pid() {
  pid_t pid = cached_pid.load(std::memory_order_relaxed);
  if (pid == 0) {
    static const int registered = ::pthread_atfork(nullptr, nullptr, [] { cached_pid.store(0); });
    (void)registered;
    pid = ::getpid();
    cached_pid.store(pid, std::memory_order_relaxed);
  }
  return pid;
}

}  // namespace

fs::path unique_temp_name(const fs::path& dir, std::string_view stem) {
  static std::atomic<unsigned> counter{0};
  return dir / ("." + std::string(stem) + ".tmp." + std::to_string(current_pid()) + "." +
                std::to_string(counter.fetch_add(1)));
}

namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() <= 18 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool process_alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

}  // namespace

bool is_stale_temp_name(std::string_view name) {
  // ".<stem>.tmp.<pid>.<n>"
  if (name.size() < 9 || name.front() != '.') return false;
  auto last = name.rfind('.');
  auto before = name.rfind('.', last - 1);
  if (before == std::string_view::npos || before < 5 || name.substr(before - 4, 4) != ".tmp") return false;
  std::string_view pid = name.substr(before + 1, last - before - 1), n = name.substr(last + 1);
  if (!all_digits(pid) || !all_digits(n)) return false;
  long long value = 0;
  std::from_chars(pid.data(), pid.data() + pid.size(), value);
  if (value <= 0 || value > std::numeric_limits<pid_t>::max()) return false;
  return !process_alive(static_cast<pid_t>(value));
}

void remove_stale_temps(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (is_stale_temp_name(name)) ::unlink(entry.path().c_str());
  }
}

AtomicFile::AtomicFile(fs::path destination, int mode) : dest_(std::move(destination)) {
  fs::path dir = dest_.parent_path();
  if (dir.empty()) dir = ".";
  temp_ = unique_temp_name(dir, dest_.filename().string());
  fd_.reset(::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd_) throw_errno("cannot create " + temp_.string(), errno);
}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    fd_.reset();
    ::unlink(temp_.c_str());
  }
}

void AtomicFile::write(std::string_view data) { write_all(fd_.get(), data, temp_.string()); }

void AtomicFile::commit(bool durable) {
  if (durable && ::fsync(fd_.get()) != 0) throw_errno("cannot sync " + temp_.string(), errno);
  fd_.reset();
  if (::rename(temp_.c_str(), dest_.c_str()) != 0) throw_errno("cannot rename to " + dest_.string(), errno);
  committed_ = true;
  if (durable) fsync_path(dest_.parent_path().empty() ? fs::path(".") : dest_.parent_path());
}

void write_file_atomic(const fs::path& path, std::string_view data, bool durable) {
  AtomicFile file(path);
  file.write(data);
  file.commit(durable);
}

void fsync_path(const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd) ::fsync(fd.get());
}

std::optional<std::string> relative_inside(const fs::path& path, const fs::path& base) {
  fs::path p = path.lexically_normal();
  fs::path b = base.lexically_normal();
  fs::path rel = p.lexically_relative(b);
  if (rel.empty()) return std::nullopt;
  std::string s = rel.generic_string();
  if (s == ".") return std::string();
  if (s == ".." || s.rfind("../", 0) == 0) return std::nullopt;
  if (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

bool is_safe_relative(std::string_view rel) {
  if (rel.empty() || rel.front() == '/') return false;
  size_t start = 0;
  while (start <= rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string_view::npos) end = rel.size();
    std::string_view part = rel.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (part.find('\0') != std::string_view::npos) return false;
    start = end + 1;
  }
  return true;
}

}  // namespace mlo
