// An mlo repository: a git work tree with .mlo/ in its root. Opening is cheap;
// config, cache, index and git are each opened on first use, so a command
// pays only for what it touches.
#pragma once
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "index/database.h"
#include "repo/config.h"
#include "repo/git.h"
#include "store/cache.h"

namespace mlo {

namespace fs = std::filesystem;

class Repo {
 public:
  // Finds the work tree containing `start` (like git: the nearest parent
  // with .git). Throws InputError when there is none.
  static fs::path find_work_tree(const fs::path& start);
  // Opens the mlo repository containing `start`. Throws InputError when the
  // git work tree has no .mlo/ ("run mlo init").
  static Repo open(const fs::path& start);

  Repo(Repo&&) noexcept;
  ~Repo();

  const fs::path& root() const { return root_; }
  fs::path mlo_dir() const { return root_ / ".mlo"; }
  fs::path cache_dir() const { return mlo_dir() / "cache"; }
  fs::path index_path() const { return mlo_dir() / "index.db"; }
  fs::path tmp_dir() const { return mlo_dir() / "tmp"; }

  Config& config();
  Cache& cache();
  Database& index();
  GitRepo& git();
  // Makes index() answer with `replacement` (e.g. a new database being
  // built by `mlo index rebuild`) and returns the previous handle (may be null).
  std::unique_ptr<Database> swap_index(std::unique_ptr<Database> replacement);

  // The repo-relative POSIX path of a user-supplied path (relative to the
  // process's working directory). Throws InputError when it lies outside the
  // work tree, or inside .git or .mlo.
  std::string relative(const fs::path& user_path) const;
  // Link modes from cache.link.
  std::vector<LinkMode> link_modes();
  // How long to wait for another mlo command's lock (core.lock_timeout, seconds).
  int lock_timeout_ms();

  // Makes sure every object in `hashes` is in the cache, fetching what is
  // missing from the default remote through the process's object fetcher
  // (git's promisor remotes: a clone gets a registered model's bytes when a
  // command needs them). `why` names what needs them, for messages. Throws
  // InputError when objects are missing and no fetcher is installed, and
  // whatever the fetcher throws (RemoteError) when the remote lacks them.
  void ensure_objects(const std::set<std::string>& hashes, const std::string& why);

 private:
  explicit Repo(fs::path root);
  fs::path root_;
  std::unique_ptr<Config> config_;
  std::unique_ptr<Cache> cache_;
  std::unique_ptr<Database> index_;
  std::unique_ptr<GitRepo> git_;
};

// Fetches the given objects into the repository's cache. Installed once per
// process by the layer that knows remotes (lib/app), so modules below it
// (deploy, monitor, registry) can ask for objects without including remote/.
using ObjectFetcher = std::function<void(Repo& repo, const std::set<std::string>& hashes, const std::string& why)>;
void set_object_fetcher(ObjectFetcher fetcher);

struct InitOptions {
  bool create_git = false;  // --git: run git init first when there is no repository
  bool force = false;       // --force: rewrite config.yaml with the defaults
};

struct InitResult {
  fs::path root;
  bool already_initialized = false;
  bool created_git = false;
};

// Sets up .mlo/ in the git work tree containing `start`; safe to run twice.
InitResult init_repo(const fs::path& start, const InitOptions& options);

}  // namespace mlo
