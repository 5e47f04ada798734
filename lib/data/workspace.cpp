#include "data/workspace.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <unordered_set>

#include "core/error.h"
#include "core/fs.h"
#include "data/tree.h"
#include "data/tree_walk.h"
#include "repo/repo.h"

namespace mlo {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string join_rel(const std::string& dir, const std::string& name) { return dir.empty() ? name : dir + "/" + name; }

// Walks `dir_rel` (repo-relative, "" = root) collecting pointer files; does
// not descend into .git, .mlo, or folders tracked by a sibling pointer.
void walk_pointers(const fs::path& root, const std::string& dir_rel, std::vector<std::string>& out) {
  fs::path abs = dir_rel.empty() ? root : root / dir_rel;
  DIR* d = ::opendir(abs.c_str());
  if (!d) return;
  std::vector<std::string> names;
  std::vector<unsigned char> types;
  while (dirent* e = ::readdir(d)) {
    const char* n = e->d_name;
    if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
    names.emplace_back(n);
    types.push_back(e->d_type);
  }
  int dfd = ::dirfd(d);
  std::unordered_set<std::string> name_set(names.begin(), names.end());
  std::vector<std::string> subdirs;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    unsigned char type = types[i];
    if (type == DT_UNKNOWN) {
      struct stat st;
      if (::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
    }
    if (type == DT_DIR) {
      if (name == ".git" || (dir_rel.empty() && name == ".mlo")) continue;
      if (name_set.count(name + kPointerSuffix)) continue;  // a tracked folder: its insides are data
      subdirs.push_back(name);
    } else if (type == DT_REG && ends_with(name, kPointerSuffix) && name.size() > 4) {
      out.push_back(join_rel(dir_rel, name));
    }
  }
  ::closedir(d);
  for (const auto& s : subdirs) walk_pointers(root, join_rel(dir_rel, s), out);
}

bool is_regular(const fs::path& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_dir(const fs::path& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

std::vector<std::string> find_pointer_files(Repo& repo, const std::vector<std::string>& under) {
  std::vector<std::string> out;
  const fs::path& root = repo.root();
  if (under.empty()) {
    walk_pointers(root, "", out);
  } else {
    for (const auto& u : under) {
      if (u.empty()) {
        walk_pointers(root, "", out);
      } else if (ends_with(u, kPointerSuffix) && is_regular(root / u)) {
        out.push_back(u);
      } else if (is_regular(root / (u + kPointerSuffix))) {
        out.push_back(u + kPointerSuffix);
      } else if (is_dir(root / u)) {
        walk_pointers(root, u, out);
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Pointer parse_pointer_for(const std::string& text, const std::string& pointer_path, const std::string& where) {
  Pointer p = parse_pointer(text, where);
  auto data = data_path_for(pointer_path);
  std::string expected = data ? fs::path(*data).filename().string() : "";
  if (p.path != expected)
    throw InputError(where + ": path '" + p.path + "' does not match the pointer's name (expected '" + expected + "')",
                     "a pointer always tracks the file or folder it is named after; restore it with "
                     "'git checkout -- " + pointer_path + "' or re-add the data with 'mlo data add'");
  return p;
}

Pointer read_pointer(Repo& repo, const std::string& pointer_path) {
  auto text = read_file_if_exists(repo.root() / pointer_path);
  if (!text) throw InputError(pointer_path + ": no such pointer file");
  return parse_pointer_for(*text, pointer_path, pointer_path);
}

void require_manifest(Repo& repo, const std::string& hash, const std::string& for_path) {
  if (!repo.cache().has(hash))
    throw InputError("the manifest of " + for_path + " (object " + hash + ") is missing from the cache",
                     "run 'mlo pull' to fetch it from a remote, or re-add the folder with 'mlo data add'");
}

Manifest load_manifest(Repo& repo, const std::string& hash, const std::string& for_path) {
  require_manifest(repo, hash, for_path);
  return read_manifest(repo.cache(), hash, "manifest of " + for_path + " (object " + hash + ")");
}

void for_each_manifest_file(Repo& repo, const std::string& hash, const std::string& for_path,
                            const std::function<void(ManifestEntry&&)>& file,
                            const std::function<void(std::uint64_t)>& files_claimed) {
  require_manifest(repo, hash, for_path);
  walk_manifest(repo.cache(), hash, "manifest of " + for_path + " (object " + hash + ")", file,
                [](const std::string&) {}, nullptr, files_claimed);
}

Manifest load_manifest_fetching(Repo& repo, const std::string& hash, const std::string& for_path,
                                std::size_t* fetched) {
  const std::string where = "manifest of " + for_path + " (object " + hash + ")";
  for (std::size_t level = 0; level <= kMaxTreeDepth + 1; ++level) {
    std::vector<std::string> missing;
    Manifest m = read_manifest(repo.cache(), hash, where, &missing);
    if (missing.empty()) return m;
    if (fetched) *fetched += missing.size();
    repo.ensure_objects({missing.begin(), missing.end()}, "the " + where);
  }
  return read_manifest(repo.cache(), hash, where);
}

std::set<std::string> objects_of(Repo& repo, const Pointer& pointer) {
  std::set<std::string> out{pointer.sha256};
  if (pointer.type == EntryType::dir) {
    Manifest m = load_manifest(repo, pointer.sha256, pointer.path);
    for (const auto& e : m.entries) out.insert(e.sha256);
    out.insert(m.trees.begin(), m.trees.end());
  }
  return out;
}

}  // namespace mlo
