#include "registry/tag_locks.h"

#include <dirent.h>

#include <cstdlib>
#include <fstream>

#include "core/error.h"
#include "core/fs.h"
#include "repo/repo.h"

namespace mlo::registry {

namespace {

bool is_under(const fs::path& path, const fs::path& root) {
  auto rel = path.lexically_relative(root);
  return !rel.empty() && *rel.begin() != "..";
}

// The pid of a process named git* whose working folder is inside `root`, or 0.
long git_process_in(const fs::path& root) {
  DIR* proc = opendir("/proc");
  if (!proc) return 0;
  long found = 0;
  while (dirent* d = readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(d->d_name, &end, 10);
    if (pid <= 0 || *end) continue;
    std::string base = std::string("/proc/") + d->d_name;
    std::ifstream comm(base + "/comm");
    std::string name;
    if (!std::getline(comm, name) || name.rfind("git", 0) != 0) continue;
    std::error_code ec;
    fs::path cwd = fs::read_symlink(base + "/cwd", ec);
    if (!ec && is_under(cwd, root)) {
      found = pid;
      break;
    }
  }
  closedir(proc);
  return found;
}

}  // namespace

void check_tag_lock(Repo& repo, const std::string& tag, bool clear, bool offer_force) {
  fs::path lock = repo.git().common_dir() / "refs" / "tags" / (tag + ".lock");
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(lock, ec))) return;
  std::string what = "cannot create tag " + tag + ": " + lock.string() +
                     " exists (the ref lock of a git process that is running, or one that was killed)";
  if (!clear && offer_force)
    throw InputError(what, "if no git process is running in this repository, run this again with --force to "
                           "remove the stale lock (or remove the file yourself)");
  if (!clear)
    throw InputError(what, "if no git process is running in this repository, remove that file, then run this again");
  if (long pid = git_process_in(repo.root()))
    throw InputError(what, "git (pid " + std::to_string(pid) + ") is running in this repository; let it finish, then "
                           "run this again");
  if (!fs::remove(lock, ec) && ec)
    throw InputError(what + "; cannot remove it: " + ec.message(), "remove the file yourself");
}

}  // namespace mlo::registry
