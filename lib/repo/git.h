// What mlo needs from git, through libgit2: staging, ignore rules, and
// reading pointer files and other tracked files at any revision.
#pragma once
#include <filesystem>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

struct git_repository;
struct git_tree;
struct git_odb;

namespace mlo {

struct GitIdentity {
  std::string name;
  std::string email;
};

// An annotated tag as git stores it (lightweight tags have annotated=false and
// only name/commit set).
struct GitTag {
  std::string name;     // without refs/tags/
  std::string oid;      // the tag object (or the commit, for a lightweight tag)
  std::string commit;   // the commit it peels to ("" when it is not a commit)
  bool annotated = false;
  std::string tagger_name, tagger_email;
  std::int64_t time = 0;  // tagger time, unix seconds
  std::string message;
};

class GitRepo {
 public:
  // Opens the repository whose work tree is `workdir`. Throws InputError.
  explicit GitRepo(const std::filesystem::path& workdir);
  ~GitRepo();
  GitRepo(const GitRepo&) = delete;
  GitRepo& operator=(const GitRepo&) = delete;

  // Creates a repository (git init) in dir.
  static void init(const std::filesystem::path& dir);

  // git add of repo-relative paths; a path gone from the work tree is removed
  // from the index (like `git add -A PATH`).
  void stage(const std::vector<std::string>& paths);
  void unstage_remove(const std::vector<std::string>& paths);
  bool is_tracked(const std::string& path) const;
  // True when any entry of the index lies at or below `dir`.
  bool tracks_under(const std::string& dir) const;
  bool is_ignored(const std::string& path) const;

  bool has_commits() const;
  std::optional<std::string> head_commit() const;
  // True when tracked files differ from HEAD (staged or not).
  bool is_dirty() const;
  // Resolves any revision git understands (HEAD~1, a tag, a branch) to a commit id.
  std::string resolve_commit(const std::string& rev) const;
  // A file's content at a revision, or nullopt when the path is not in that tree.
  std::optional<std::string> read_file_at(const std::string& rev, const std::string& path) const;
  // Visits every file in a revision's tree whose path ends with `suffix`.
  void for_each_file_at(const std::string& rev, const std::string& suffix,
                        const std::function<void(const std::string& path, const std::string& content)>& visit) const;
  // Every commit reachable from any branch and tag (for gc --all-commits).
  std::vector<std::string> all_commits() const;
  std::vector<std::string> branch_heads() const;
  std::vector<std::string> tag_targets() const;
  GitIdentity identity() const;
  // Who a new tag is by: GIT_COMMITTER_NAME/EMAIL when set (as git does), else identity().
  GitIdentity tagger_identity() const;
  // The author of a commit (nullopt when the commit is unknown here).
  std::optional<GitIdentity> commit_author(const std::string& commit) const;

  // The folder shared by all work trees (.git for a plain clone): refs live here.
  std::filesystem::path common_dir() const;
  // Every tag ref: name (without refs/tags/) -> the object id it names directly.
  std::vector<std::pair<std::string, std::string>> list_tag_refs() const;
  // Reads the tag `name` (nullopt when there is none).
  std::optional<GitTag> read_tag(const std::string& name) const;
  // Reads tag `name` from the object `oid` its ref names (from list_tag_refs), skipping the ref lookup.
  GitTag read_tag_object(const std::string& name, const std::string& oid) const;
  // Creates an annotated tag on `commit` with `tagger` as its tagger, never
  // replacing one: returns false when the tag exists already.
  bool create_annotated_tag(const std::string& name, const std::string& commit, const std::string& message,
                            const GitIdentity& tagger);
  // Deletes a tag; false when there was none.
  bool delete_tag(const std::string& name);

  git_repository* raw() const { return repo_; }
  const std::filesystem::path& workdir() const { return workdir_; }

 private:
  // Resolves rev and sets *out to its commit's root tree; returns the commit id.
  std::string tree_at(const std::string& rev, git_tree** out) const;

  std::filesystem::path workdir_;
  git_repository* repo_ = nullptr;
  mutable git_odb* odb_ = nullptr;  // opened by read_tag_object
};

// Throws InputError with libgit2's last error message when rc < 0.
void git_check(int rc, const std::string& what);

}  // namespace mlo
