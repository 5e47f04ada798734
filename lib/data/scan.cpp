#include "data/scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <utility>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/interrupt.h"
#include "core/parallel.h"

namespace mlo {

namespace {

using DevIno = std::pair<dev_t, ino_t>;

[[noreturn]] void bad_entry(const std::string& path, int err) {
  if (err == ELOOP)
    throw InputError(path + ": symbolic link loop", "remove or fix the link; mlo stores file content, not links");
  if (err == ENOENT)
    throw InputError(path + ": symbolic link to a missing target", "remove or fix the link");
  throw_errno("cannot read " + path, err);
}

void walk(const std::filesystem::path& dir_abs, const std::string& prefix, const std::string& shown,
          std::vector<DevIno>& ancestors, std::vector<WorkFile>& out) {
  check_interrupted();
  DIR* d = ::opendir(dir_abs.c_str());
  if (!d) throw_errno("cannot read folder " + shown, errno);
  int dfd = ::dirfd(d);
  std::vector<std::pair<std::string, std::string>> subdirs;  // name, shown
  std::vector<DevIno> subdir_ids;
  try {
    while (dirent* e = ::readdir(d)) {
      const char* n = e->d_name;
      if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
      std::string rel = prefix.empty() ? std::string(n) : prefix + "/" + n;
      std::string entry_shown = shown + "/" + n;
      struct stat st;
      if (::fstatat(dfd, n, &st, 0) != 0) bad_entry(entry_shown, errno);
      if (S_ISREG(st.st_mode)) {
        WorkFile f;
        f.rel = std::move(rel);
        f.key = StatKey::of(st);
        f.executable = (st.st_mode & S_IXUSR) != 0;
        out.push_back(std::move(f));
      } else if (S_ISDIR(st.st_mode)) {
        DevIno id{st.st_dev, st.st_ino};
        if (std::find(ancestors.begin(), ancestors.end(), id) != ancestors.end())
          throw InputError(entry_shown + ": symbolic link loop (leads back to a folder that contains it)",
                           "remove or fix the link; mlo stores file content, not links");
        subdirs.push_back({n, entry_shown});
        subdir_ids.push_back(id);
      } else {
        throw InputError(entry_shown + ": not a regular file or folder (a device, socket or pipe)",
                         "move it out of the tracked folder");
      }
    }
  } catch (...) {
    ::closedir(d);
    throw;
  }
  ::closedir(d);
  for (size_t i = 0; i < subdirs.size(); ++i) {
    ancestors.push_back(subdir_ids[i]);
    const std::string& name = subdirs[i].first;
    walk(dir_abs / name, prefix.empty() ? name : prefix + "/" + name, subdirs[i].second, ancestors, out);
    ancestors.pop_back();
  }
}

}  // namespace

std::int64_t clock_now_ns() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::uint64_t WorkTree::total_size() const {
  std::uint64_t n = 0;
  for (const auto& f : files) n += f.key.size;
  return n;
}

Manifest WorkTree::manifest() const {
  Manifest m;
  m.entries.reserve(files.size());
  for (const auto& f : files) m.entries.push_back({f.rel, f.sha256, f.key.size, f.executable});
  return m;
}

std::string WorkTree::content_hash() const {
  if (type == EntryType::file) return files.empty() ? std::string() : files[0].sha256;
  return sha256_hex(serialize_manifest(manifest()));
}

WorkTree scan_tree(const std::filesystem::path& root, const std::string& data_rel) {
  WorkTree t;
  t.data_rel = data_rel;
  t.abs = root / data_rel;
  struct stat st;
  if (::lstat(t.abs.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return t;
    throw_errno("cannot read " + data_rel, errno);
  }
  if (S_ISLNK(st.st_mode) && ::stat(t.abs.c_str(), &st) != 0) bad_entry(data_rel, errno);
  t.exists = true;
  if (S_ISREG(st.st_mode)) {
    t.type = EntryType::file;
    WorkFile f;
    f.key = StatKey::of(st);
    f.executable = (st.st_mode & S_IXUSR) != 0;
    t.files.push_back(std::move(f));
  } else if (S_ISDIR(st.st_mode)) {
    t.type = EntryType::dir;
    std::vector<DevIno> ancestors{{st.st_dev, st.st_ino}};
    walk(t.abs, "", data_rel, ancestors, t.files);
    std::sort(t.files.begin(), t.files.end(), [](const WorkFile& a, const WorkFile& b) { return a.rel < b.rel; });
  } else {
    throw InputError(data_rel + ": not a regular file or folder", "mlo tracks files and folders");
  }
  return t;
}

void fill_from_stat_cache(StatCache& sc, WorkTree& tree) {
  for (auto& f : tree.files) {
    if (!f.sha256.empty()) continue;
    if (auto hit = sc.lookup(tree.repo_rel_of(f), f.key)) {
      f.sha256 = hit->sha256;
      f.executable = hit->executable || f.executable;
    }
  }
}

void hash_missing(StatCache& sc, std::vector<WorkTree*> trees, unsigned jobs) {
  std::vector<std::pair<WorkTree*, WorkFile*>> work;
  for (auto* t : trees)
    for (auto& f : t->files)
      if (f.sha256.empty()) work.push_back({t, &f});
  parallel_for(work.size(), jobs ? jobs : default_jobs(), [&](std::size_t i) {
    check_interrupted();
    auto [t, f] = work[i];
    std::int64_t started = clock_now_ns();
    f->sha256 = sha256_file(t->abs_of(*f));
    f->hashed = true;
    sc.record(t->repo_rel_of(*f), f->key, f->sha256, f->executable, started);
  });
}

}  // namespace mlo
