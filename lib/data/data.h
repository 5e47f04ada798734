// The logic of `mlo data add|status|checkout|diff|ls|rm|commit`. Paths given
// by callers are user paths (relative to the process's working directory);
// paths in results are repo-relative. See man mlo-data(1).
#pragma once
#include <cstdint>
#include <optional>
#include <set>
#include <functional>
#include <string>
#include <vector>

#include "data/manifest.h"
#include "data/pointer.h"

namespace mlo {

class Repo;

// ---- add / commit ----------------------------------------------------------

struct AddOptions {
  std::string description;  // kept in the pointer; empty keeps an existing one
  unsigned jobs = 0;        // 0: default_jobs()
};

struct AddedEntry {
  std::string path;     // repo-relative data path
  std::string pointer;  // repo-relative pointer path
  Pointer result;
  bool changed = false;       // the pointer is new or names different content
  std::uint64_t hashed = 0;   // files read (not answered by the stat cache)
  std::uint64_t manifests_written = 0;  // folder objects new to the cache (data/tree.h)
};

// Tracks files and folders: content into the cache, PATH.mlo written,
// /NAME added to the folder's .gitignore, both staged. Validates every path
// before changing anything.
std::vector<AddedEntry> data_add(Repo& repo, const std::vector<std::string>& paths, const AddOptions& options = {});
// Records the current content of tracked paths (all tracked paths that
// changed when `paths` is empty).
std::vector<AddedEntry> data_commit(Repo& repo, const std::vector<std::string>& paths, const AddOptions& options = {});

// ---- pipeline outputs --------------------------------------------------------

// Data tracked by mlo.lock instead of a pointer file: a pipeline stage's
// output. lib/pipeline lists them (lock_outputs in pipeline/lock_file.h);
// status and checkout treat each like a pointer whose label is `recorded_in`.
struct TrackedOutput {
  std::string path;  // repo-relative, checked
  EntryType type = EntryType::file;
  std::string sha256;  // the file's, or the folder's manifest's
  std::string stage;
  std::string recorded_in = "mlo.lock";
  int manifest_version = 1;  // folders: 2 for a tree manifest (mlo.lock 'manifest_version')
};

// ---- status ----------------------------------------------------------------

enum class DataState { clean, modified, deleted };
std::string to_string(DataState s);

struct FileChange {
  std::string path;  // repo-relative
  std::string old_sha256, new_sha256;
  std::uint64_t old_size = 0, new_size = 0;
};

struct EntryStatus {
  std::string path;     // repo-relative data path
  std::string pointer;  // repo-relative pointer path ("mlo.lock" for a stage output)
  std::string stage;    // the stage whose output this is; empty for pointer data
  EntryType type = EntryType::file;
  DataState state = DataState::clean;
  bool in_cache = true;                    // every object the pointer names is in the cache
  // Objects missing from the cache: the repo-relative paths they belong
  // to, the first kMaxListedNotCached in walk order (a fresh clone before
  // its pull lacks every file); missing_count counts all.
  std::vector<std::string> missing;
  std::uint64_t missing_count = 0;
  bool manifest_missing = false;           // the folder's manifest is not in the cache: changes can not be listed
  std::vector<FileChange> added, removed, modified;  // inside folders
  bool clean() const { return state == DataState::clean && in_cache; }
};

struct StatusResult {
  std::vector<EntryStatus> entries;
  bool clean() const;
};

// Pointer data and the given stage outputs under `paths` (all when empty).
StatusResult data_status(Repo& repo, const std::vector<std::string>& paths = {},
                         const std::vector<TrackedOutput>& outputs = {});

// ---- checkout --------------------------------------------------------------

struct CheckoutOptions {
  bool force = false;  // overwrite workspace changes that are not in the cache
  unsigned jobs = 0;
  // Stage outputs to restore as well (those under the paths). One holding
  // changes the cache lacks is kept as it is (not an error) unless force;
  // one whose content the cache lacks is left as it is.
  std::vector<TrackedOutput> outputs;
};

// A checkout of millions of files lists this many of the files it wrote and
// counts the rest (a list of every path would be ~80 bytes a file).
inline constexpr std::size_t kMaxListedUpdates = 10000;

// A status lists this many of the paths whose content the cache lacks.
inline constexpr std::size_t kMaxListedNotCached = 10000;

struct CheckoutResult {
  std::vector<std::string> updated;  // files written (repo-relative); the first kMaxListedUpdates of them
  std::uint64_t updated_count = 0;   // files written
  std::vector<std::string> removed;  // files removed from tracked folders
  std::uint64_t unchanged = 0;       // files already right
  std::vector<std::string> kept;     // stage outputs with unsaved changes, left as they are
  std::vector<std::string> missing;  // stage outputs whose content is not in the cache, left as they are
};

CheckoutResult data_checkout(Repo& repo, const std::vector<std::string>& paths, const CheckoutOptions& options = {});

// ---- diff ------------------------------------------------------------------

// A folder that one side of a diff lacks entirely (a tracked tree read from
// a revision, or a subfolder of a tree both sides have), every folder object
// below it in the cache: every file below it is added or deleted. Its files
// are walked when listed (for_each_change), not held: a fresh clone before
// its pull lacks every file of its data.
struct OneSidedFolder {
  std::string path;  // repo-relative
  std::string tree;  // its tree object (all its folder objects are in the cache)
  bool added = false;  // else deleted
};

enum class ChangeKind { added, modified, deleted };

struct DiffResult {
  std::string from, to;  // revisions as given ("workspace" for the work tree)
  // Sorted by path; the files of `whole` folders are not in them.
  std::vector<FileChange> added, modified, deleted;
  std::vector<OneSidedFolder> whole;  // sorted by path
  std::vector<std::string> unknown;   // folders whose manifest is not in the cache (compared as a whole)
};

// Between two revisions, or a revision and the workspace (to empty). An
// empty `from` means HEAD (or nothing when there are no commits).
DiffResult data_diff(Repo& repo, const std::string& from, const std::string& to);

// Every change of one kind in path order: the result's list merged with the
// files of its `whole` folders as their trees are walked (one folder's
// entries at a time). Throws InputError when a folder object is damaged.
void for_each_change(Repo& repo, const DiffResult& d, ChangeKind kind, const std::function<void(const FileChange&)>& fn);

// Of `manifests`, those for which a status found every object they name in
// the cache, with no object removed from the cache since (nothing is checked
// now): what `data status --remote` trusts instead of a stat per file. The
// cache's stamp is taken once for them all.
std::set<std::string> cache_known_to_hold(Repo& repo, const std::vector<std::string>& manifests);

// ---- ls --------------------------------------------------------------------

struct ListedEntry {
  std::string path;  // repo-relative
  EntryType type = EntryType::file;
  std::string sha256;
  std::uint64_t size = 0;
  std::uint64_t files = 0;
  std::string pointer;  // empty for files inside a folder
};

// Tracked paths at or below `path` ("" = everything), each handed to `each`
// as it is found; a tracked folder lists the files in its manifest, walked
// folder by folder (a folder of ten million files is never held whole).
void data_ls(Repo& repo, const std::string& path, const std::function<void(const ListedEntry&)>& each);

// ---- rm --------------------------------------------------------------------

struct RmOptions {
  bool remove_data = false;  // also delete the workspace data
  bool force = false;        // with remove_data: even when it holds changes not in the cache
};

struct RmResult {
  std::string path, pointer;
  bool data_removed = false;
};

// Stops tracking: removes the pointer and the .gitignore line (both staged).
// The data stays (as a plain copy, never a link into the cache) unless
// remove_data.
std::vector<RmResult> data_rm(Repo& repo, const std::vector<std::string>& paths, const RmOptions& options = {});

// ---- .gitignore ------------------------------------------------------------

// The .gitignore line for a name in the same folder: "/name", with glob
// characters escaped.
std::string gitignore_line(const std::string& name);
// Adds/removes the line in dir/.gitignore; true when the file changed.
bool gitignore_add(const std::string& dir_abs, const std::string& name);
bool gitignore_remove(const std::string& dir_abs, const std::string& name);

}  // namespace mlo
