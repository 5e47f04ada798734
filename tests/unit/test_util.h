// Helpers shared by the unit tests: temporary folders and real git repos.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/fs.h"

namespace mlo::test {

// A fresh directory under $TMPDIR, removed at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mlo-unit-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ec);
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& rel) const { return path_ / rel; }

 private:
  std::filesystem::path path_;
};

inline void write(const std::filesystem::path& p, const std::string& data) {
  std::filesystem::create_directories(p.parent_path());
  write_file_atomic(p, data, false);
}

// Runs a shell command in dir; returns its exit status.
inline int sh(const std::filesystem::path& dir, const std::string& command) {
  std::string full = "cd '" + dir.string() + "' && (" + command + ") >/dev/null 2>&1";
  return std::system(full.c_str());
}

// A git repository with an identity, ready for commits.
inline void git_init(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  sh(dir, "git init -q . && git config user.name Tester && git config user.email tester@example.com");
}

}  // namespace mlo::test
