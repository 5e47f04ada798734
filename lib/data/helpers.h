// Small helpers shared by the files of lib/data (internal).
#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "data/data.h"
#include "repo/lock.h"

namespace mlo {

class Repo;

// "a/b/c" -> "a/b" ("" for a top-level name) and "c".
inline std::string_view parent_view(std::string_view rel) {
  auto slash = rel.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : rel.substr(0, slash);
}
inline std::string parent_of(const std::string& rel) { return std::string(parent_view(rel)); }
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
// The pointers and stage outputs selected by user paths (all when none); an
// explicit path that is neither is an error. An output that also has a
// pointer file is left to the pointer.
struct Selection {
  std::vector<std::string> pointers;
  std::vector<TrackedOutput> outputs;
};
Selection select_tracked(Repo& repo, const std::vector<std::string>& paths,
                         const std::vector<TrackedOutput>& outputs);
// Adds /NAME to DIR_REL/.gitignore through `writer` (never through a link).
class TreeWriter;
bool gitignore_add_in(const TreeWriter& writer, const std::string& dir_rel, const std::string& name);

}  // namespace mlo
