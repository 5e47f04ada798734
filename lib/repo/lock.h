// Advisory repo locks (flock), released by the kernel if a process dies, so a
// crash never leaves a stale lock behind the way a git index.lock can.
#pragma once
#include <filesystem>
#include <string>

#include "core/fs.h"

namespace mlo {

class RepoLock {
 public:
  // Waits up to timeout_ms for the lock `name` under lock_dir, then throws
  // InputError naming the process that holds it.
  RepoLock(const std::filesystem::path& lock_dir, const std::string& name, int timeout_ms);
  ~RepoLock();
  RepoLock(const RepoLock&) = delete;
  RepoLock& operator=(const RepoLock&) = delete;

 private:
  UniqueFd fd_;
};

}  // namespace mlo
