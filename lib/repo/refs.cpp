#include "repo/refs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "core/fs.h"

namespace mlo {

namespace fs = std::filesystem;

namespace {
std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

bool read_small(const fs::path& p, std::string& out) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out.clear();
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
    out.append(buf, static_cast<size_t>(n));
    // A short read of a regular file is its end: one read() for a ref file, not two.
    if (static_cast<size_t>(n) < sizeof buf) {
      n = 0;
      break;
    }
  }
  ::close(fd);
  return n == 0;
}

bool is_hex_oid(std::string_view s) {
  if (s.size() != 40 && s.size() != 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

void walk(int dirfd, const std::string& rel, std::vector<LooseRef>& out) {
  DIR* d = ::fdopendir(dirfd);
  if (!d) {
    ::close(dirfd);
    return;
  }
  while (dirent* e = ::readdir(d)) {
    const char* n = e->d_name;
    if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
    size_t len = std::strlen(n);
    if (len > 5 && std::strcmp(n + len - 5, ".lock") == 0) continue;
    struct stat st;
    if (::fstatat(::dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    std::string name = rel.empty() ? std::string(n) : rel + "/" + n;
    if (S_ISDIR(st.st_mode)) {
      int sub = ::openat(::dirfd(d), n, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (sub >= 0) walk(sub, name, out);
      continue;
    }
    if (!S_ISREG(st.st_mode)) continue;
    LooseRef r;
    r.name = std::move(name);
    r.stat = std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) +
             "." + std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_ctim.tv_sec) + "." +
             std::to_string(st.st_ctim.tv_nsec);
    r.mtime = std::max<std::int64_t>(st.st_mtim.tv_sec, st.st_ctim.tv_sec);
    out.push_back(std::move(r));
  }
  ::closedir(d);
}
}  // namespace

fs::path git_common_dir(const fs::path& workdir) {
  fs::path dotgit = workdir / ".git";
  fs::path gitdir = dotgit;
  struct stat st;
  if (::stat(dotgit.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    // A linked work tree or a submodule: ".git" is a file "gitdir: PATH".
    std::string text;
    if (read_small(dotgit, text) && text.rfind("gitdir:", 0) == 0) {
      fs::path p = trim(text.substr(7));
      gitdir = p.is_absolute() ? p : (workdir / p).lexically_normal();
    }
  }
  std::string common;
  if (read_small(gitdir / "commondir", common)) {
    fs::path p = trim(common);
    return p.is_absolute() ? p : (gitdir / p).lexically_normal();
  }
  return gitdir;
}

std::vector<LooseRef> list_loose_refs(const fs::path& common_dir, const std::string& prefix) {
  std::vector<LooseRef> out;
  int fd = ::open((common_dir / "refs" / prefix).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) walk(fd, "", out);
  return out;
}

std::string read_loose_ref(const fs::path& common_dir, const std::string& prefix, const std::string& name) {
  std::string text;
  if (!read_small(common_dir / "refs" / prefix / name, text)) return {};
  text = trim(text);
  return is_hex_oid(text) ? text : std::string();
}

std::vector<PackedRef> read_packed_refs(const fs::path& common_dir, const std::string& prefix) {
  std::vector<PackedRef> out;
  std::string text;
  if (!read_small(common_dir / "packed-refs", text)) return out;
  std::string want = "refs/" + prefix + "/";
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line(text.data() + pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '^') {
      if (!out.empty() && out.back().peeled.empty() && is_hex_oid(line.substr(1))) out.back().peeled = line.substr(1);
      continue;
    }
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos || !is_hex_oid(line.substr(0, sp))) continue;
    std::string_view ref = line.substr(sp + 1);
    if (ref.substr(0, want.size()) != want) {
      // A peel line that follows belongs to this other ref: push a marker we drop below.
      out.push_back({"", std::string(line.substr(0, sp)), ""});
      out.back().peeled = "-";
      continue;
    }
    out.push_back({std::string(ref.substr(want.size())), std::string(line.substr(0, sp)), ""});
  }
  out.erase(std::remove_if(out.begin(), out.end(), [](const PackedRef& r) { return r.name.empty(); }), out.end());
  return out;
}

}  // namespace mlo
