// Small helpers shared by the files of lib/data (internal).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "repo/lock.h"

namespace mlo {

class Repo;

// "a/b/c" -> "a/b" ("" for a top-level name) and "c".
inline std::string parent_of(const std::string& rel) {
  auto slash = rel.rfind('/');
  return slash == std::string::npos ? std::string() : rel.substr(0, slash);
}
inline std::string name_of(const std::string& rel) {
  auto slash = rel.rfind('/');
  return slash == std::string::npos ? rel : rel.substr(slash + 1);
}

unsigned jobs_or_default(unsigned jobs);
// Lists up to 10 paths for an error message.
std::string list_some(const std::vector<std::string>& paths);
// True when `link` is a symbolic link into the cache's objects.
bool links_into_cache(Repo& repo, const std::filesystem::path& link);
// The lock every command that changes tracked data holds.
RepoLock data_lock(Repo& repo);
// The pointers selected by user paths; an explicit path that is not tracked is an error.
std::vector<std::string> select_pointers(Repo& repo, const std::vector<std::string>& paths);
// Adds /NAME to DIR_REL/.gitignore through `writer` (never through a link).
class TreeWriter;
bool gitignore_add_in(const TreeWriter& writer, const std::string& dir_rel, const std::string& name);

}  // namespace mlo
