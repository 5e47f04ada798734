#include "repo/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "core/error.h"
#include "core/interrupt.h"

namespace mlo {

RepoLock::RepoLock(const std::filesystem::path& lock_dir, const std::string& name, int timeout_ms) {
  std::filesystem::create_directories(lock_dir);
  std::filesystem::path path = lock_dir / (name + ".lock");
  fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd_) throw_errno("cannot open lock " + path.string(), errno);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) throw_errno("cannot lock " + path.string(), errno);
    check_interrupted();
    if (std::chrono::steady_clock::now() >= deadline) {
      char buf[32] = {0};
      ssize_t n = ::pread(fd_.get(), buf, sizeof buf - 1, 0);
      std::string holder = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "another process";
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
      throw InputError("another mlo command (pid " + holder + ") is working on this repository",
                       "wait for it to finish and run the command again");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_.get(), 0) == 0) {
    ssize_t ignored = ::pwrite(fd_.get(), pid.data(), pid.size(), 0);
    (void)ignored;
  }
}

RepoLock::~RepoLock() {
  if (fd_) ::flock(fd_.get(), LOCK_UN);
}

}  // namespace mlo
