#include "core/safe_path.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "core/error.h"

namespace mlo {

namespace {

std::string_view parent_of(std::string_view rel) {
  auto slash = rel.rfind('/');
  return slash == std::string_view::npos ? std::string_view{} : rel.substr(0, slash);
}

std::string_view name_of(std::string_view rel) {
  auto slash = rel.rfind('/');
  return slash == std::string_view::npos ? rel : rel.substr(slash + 1);
}

[[noreturn]] void throw_unsafe(std::string_view where, std::string_view rel, const std::string& why) {
  std::string shown(rel.substr(0, 200));
  for (char& c : shown)
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  throw InputError(std::string(where.empty() ? "input" : where) + ": unsafe path '" + shown + "' (" + why + ")",
                   "paths from records, manifests and remotes must be relative and stay inside the repository; "
                   "the data may come from a damaged or hostile source");
}

}  // namespace

bool is_checked_relative(std::string_view rel, std::string* why) {
  auto fail = [&](const char* reason) {
    if (why) *why = reason;
    return false;
  };
  if (rel.empty()) return fail("empty");
  if (rel.size() > kMaxPathBytes) return fail("too long");
  if (rel.front() == '/') return fail("absolute");
  std::size_t depth = 0, start = 0;
  while (start <= rel.size()) {
    std::size_t end = rel.find('/', start);
    if (end == std::string_view::npos) end = rel.size();
    std::string_view part = rel.substr(start, end - start);
    if (part.empty()) return fail("empty component");
    if (part == "." || part == "..") return fail("'.' or '..' component");
    if (++depth > kMaxPathDepth) return fail("too deep");
    for (char c : part) {
      if (c == '\0') return fail("NUL byte");
      if (c == '\\') return fail("backslash");
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return fail("control character");
    }
    start = end + 1;
  }
  return true;
}

const std::string& checked_relative(const std::string& rel, std::string_view where) {
  std::string why;
  if (!is_checked_relative(rel, &why)) throw_unsafe(where, rel, why);
  return rel;
}

TreeWriter::TreeWriter(fs::path root, std::string where) : root_(std::move(root)), where_(std::move(where)) {}

namespace {
// One component at a time, each opened with O_NOFOLLOW | O_DIRECTORY. A missing
// component is created when `create`; otherwise, when `missing_ok`, the walk
// stops there and returns no fd (nothing beyond it can be a link).
UniqueFd walk_dirs(const fs::path& root, const std::string& where, std::string_view rel, bool create,
                   bool missing_ok) {
  UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) throw_errno("cannot open " + root.string(), errno);
  if (rel.empty()) return fd;
  checked_relative(std::string(rel), where);
  std::size_t start = 0;
  while (start <= rel.size()) {
    std::size_t end = rel.find('/', start);
    if (end == std::string_view::npos) end = rel.size();
    std::string part(rel.substr(start, end - start));
    int next = ::openat(fd.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT && create) {
      if (::mkdirat(fd.get(), part.c_str(), 0777) != 0 && errno != EEXIST)
        throw_errno("cannot create " + (root / rel.substr(0, end)).string(), errno);
      next = ::openat(fd.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (next < 0 && errno == ENOENT && missing_ok) return UniqueFd();
    if (next < 0) {
      int err = errno;
      std::string prefix(rel.substr(0, end));
      if (err == ELOOP || err == ENOTDIR) {
        struct stat st;
        bool link = ::fstatat(fd.get(), part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
        throw InputError((where.empty() ? std::string() : where + ": ") + "'" + prefix + "' is " +
                             (link ? "a symbolic link" : "not a folder") + " (in " + (root / rel).string() + ")",
                         link ? "mlo never writes through a symbolic link; remove or rename the link and run again"
                              : "remove or rename it and run again");
      }
      throw_errno("cannot open " + (root / prefix).string(), err);
    }
    fd.reset(next);
    start = end + 1;
  }
  return fd;
}
}  // namespace

UniqueFd TreeWriter::open_dir(std::string_view rel, bool create) const {
  return walk_dirs(root_, where_, rel, create, false);
}

void TreeWriter::check_parents(std::string_view rel, bool create) const {
  checked_relative(std::string(rel), where_);
  walk_dirs(root_, where_, parent_of(rel), create, true);
}

void TreeWriter::place(const fs::path& temp, std::string_view rel) const {
  checked_relative(std::string(rel), where_);
  UniqueFd dir = open_dir(parent_of(rel), true);
  std::string name(name_of(rel));
  if (::renameat(AT_FDCWD, temp.c_str(), dir.get(), name.c_str()) != 0)
    throw_errno("cannot write " + (root_ / rel).string(), errno);
}

void TreeWriter::write_file(std::string_view rel, std::string_view data, int mode, bool durable) const {
  checked_relative(std::string(rel), where_);
  UniqueFd dir = open_dir(parent_of(rel), true);
  std::string name(name_of(rel));
  std::string temp = unique_temp_name(fs::path(), name).string();
  UniqueFd out(::openat(dir.get(), temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!out) throw_errno("cannot write " + (root_ / rel).string(), errno);
  try {
    write_all(out.get(), data, (root_ / rel).string());
    if (durable && ::fsync(out.get()) != 0) throw_errno("cannot sync " + (root_ / rel).string(), errno);
    if (::renameat(dir.get(), temp.c_str(), dir.get(), name.c_str()) != 0)
      throw_errno("cannot write " + (root_ / rel).string(), errno);
  } catch (...) {
    ::unlinkat(dir.get(), temp.c_str(), 0);
    throw;
  }
  if (durable) ::fsync(dir.get());
}

bool TreeWriter::remove_all(std::string_view rel) const {
  checked_relative(std::string(rel), where_);
  UniqueFd dir;
  try {
    dir = open_dir(parent_of(rel), false);
  } catch (const InputError&) {
    // A missing parent means nothing to remove; a symlinked one is refused.
    struct stat st;
    if (::lstat((root_ / parent_of(rel)).c_str(), &st) != 0 && errno == ENOENT) return false;
    throw;
  }
  std::string name(name_of(rel));
  struct stat st;
  if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return false;
    throw_errno("cannot remove " + (root_ / rel).string(), errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dir.get(), name.c_str(), 0) != 0 && errno != ENOENT)
      throw_errno("cannot remove " + (root_ / rel).string(), errno);
    return true;
  }
  // A real folder whose parents are real folders: std::filesystem::remove_all
  // removes symlinks inside it as links and does not recurse into them.
  std::error_code ec;
  fs::remove_all(root_ / rel, ec);
  if (ec) throw_errno("cannot remove " + (root_ / rel).string(), ec.value());
  return true;
}

fs::path TreeWriter::resolve(std::string_view rel) const {
  if (rel.empty()) return root_;
  checked_relative(std::string(rel), where_);
  return root_ / rel;
}

}  // namespace mlo
