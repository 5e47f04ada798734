#include "data/data.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/interrupt.h"
#include "core/log.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "core/parse.h"
#include "core/safe_path.h"
#include "data/first_add.h"
#include "data/helpers.h"
#include "data/scan.h"
#include "data/stat_cache.h"
#include "data/tree.h"
#include "data/tree_walk.h"
#include "data/workspace.h"
#include "repo/lock.h"
#include "repo/repo.h"

namespace mlo {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string gitignore_rel(const std::string& data_rel) {
  std::string dir = parent_of(data_rel);
  return dir.empty() ? ".gitignore" : dir + "/.gitignore";
}

bool regular_file_at(const fs::path& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

unsigned jobs_or_default(unsigned jobs) { return jobs ? jobs : default_jobs(); }

namespace {

// Lists up to 10 paths for an error message.
}  // namespace

std::string list_some(const std::vector<std::string>& paths) {
  std::string out;
  for (size_t i = 0; i < paths.size() && i < 10; ++i) out += "\n  " + paths[i];
  if (paths.size() > 10) out += "\n  ... and " + std::to_string(paths.size() - 10) + " more";
  return out;
}

namespace {

// True when `link` is a symbolic link into the cache's objects.
}  // namespace

bool links_into_cache(Repo& repo, const fs::path& link) {
  std::error_code ec;
  fs::path target = fs::read_symlink(link, ec);
  if (ec) return false;
  if (target.is_relative()) target = link.parent_path() / target;
  auto rel = relative_inside(target.lexically_normal(), (repo.cache().root() / "objects").lexically_normal());
  return rel && !rel->empty();
}

namespace {

// The repo-relative data path of a user path naming tracked data or its pointer.
std::string tracked_rel(Repo& repo, const std::string& user_path) {
  std::string rel = repo.relative(user_path);
  if (ends_with(rel, kPointerSuffix) && regular_file_at(repo.root() / rel)) rel = *data_path_for(rel);
  return rel;
}

}  // namespace

RepoLock data_lock(Repo& repo) { return RepoLock(repo.tmp_dir(), "data", repo.lock_timeout_ms()); }

namespace {

// ---- adding ----------------------------------------------------------------

struct AddTarget {
  std::string rel;
  std::string shown;  // as the user typed it
  std::optional<Pointer> old;
};

// Names go into pointer files (YAML) and manifests (JSON) as UTF-8 and come
// back through checked_relative(): refuse, before anything is stored, a name
// that could not make the round trip.
void check_storable_name(const std::string& rel, const std::string& shown) {
  std::string why;
  if (!is_valid_utf8(rel))
    throw InputError(printable(shown) + ": the name is not valid UTF-8 (shown with \\xNN for the bad bytes)",
                     "rename it to UTF-8 (for example with convmv); pointer files and manifests store UTF-8 names");
  if (!is_checked_relative(rel, &why))
    throw InputError(printable(shown) + ": the name can not be tracked (" + why + ")",
                     "rename it; tracked names may not hold control characters or backslashes");
}

void check_add_path(Repo& repo, const std::string& user, AddTarget& target) {
  struct stat st;
  if (::lstat(user.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) throw InputError(user + ": no such file or directory", "check the path; it is relative to the current directory");
    throw_errno("cannot read " + user, err);
  }
  std::string rel = repo.relative(user);
  target.rel = rel;
  target.shown = user;
  if (rel.empty()) throw InputError(user + ": is the root of the repository", "add the files or folders inside it");
  check_storable_name(rel, user);
  if (ends_with(rel, kPointerSuffix))
    throw InputError(user + ": is an mlo pointer file (or named like one)",
                     "add the data it tracks; data files may not end in '.mlo'");
  fs::path abs = repo.root() / rel;
  if (S_ISLNK(st.st_mode)) {
    struct stat target_st;
    if (::stat(abs.c_str(), &target_st) != 0) {
      if (errno == ELOOP)
        throw InputError(user + ": symbolic link loop", "remove or fix the link; mlo stores file content, not links");
      throw InputError(user + ": symbolic link to a missing target", "remove or fix the link");
    }
    if (!links_into_cache(repo, abs))
      throw InputError(user + ": is a symbolic link",
                       "add the file or folder it points to instead; mlo stores content, not links");
    st = target_st;
  }
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
    throw InputError(user + ": not a regular file or folder", "mlo tracks files and folders");
  // Nested tracking: inside a tracked folder, or a folder holding tracked data.
  for (std::string p = parent_of(rel); !p.empty(); p = parent_of(p))
    if (regular_file_at(repo.root() / (p + kPointerSuffix)))
      throw InputError(user + ": is inside the tracked folder " + p,
                       "run 'mlo data commit " + p + "' to record changes in the folder, or 'mlo data rm " + p +
                           "' first to track its parts separately");
  if (S_ISDIR(st.st_mode)) {
    auto inner = find_pointer_files(repo, {rel});
    inner.erase(std::remove(inner.begin(), inner.end(), rel + kPointerSuffix), inner.end());
    if (!inner.empty())
      throw InputError(user + ": contains data tracked separately: " + *data_path_for(inner[0]),
                       "run 'mlo data rm " + *data_path_for(inner[0]) + "' for each of them first, then add the folder");
  }
  // Already tracked by git: two owners would fight over the file.
  bool in_git = S_ISDIR(st.st_mode) ? repo.git().tracks_under(rel) : repo.git().is_tracked(rel);
  if (in_git)
    throw InputError(user + ": is already tracked by git",
                     "run 'git rm -r --cached " + rel + "' to stop tracking it in git, then 'mlo data add' again");
  std::string pointer = rel + kPointerSuffix;
  if (regular_file_at(repo.root() / pointer)) target.old = read_pointer(repo, pointer);
}

void check_no_overlap(const std::vector<AddTarget>& targets) {
  std::vector<std::string> rels;
  for (const auto& t : targets) rels.push_back(t.rel);
  std::sort(rels.begin(), rels.end());
  for (size_t i = 1; i < rels.size(); ++i)
    if (rels[i].rfind(rels[i - 1] + "/", 0) == 0)
      throw InputError(rels[i] + " is inside " + rels[i - 1] + ", which is added too",
                       "add either the folder or the paths inside it");
}

std::uint64_t files_in(const std::vector<WorkTree>& trees) {
  std::uint64_t n = 0;
  for (const auto& t : trees) n += t.files.size();
  return n;
}

struct FileChanges {
  std::vector<FileChange> added, removed, modified;
  // With keep_whole (diff), a subfolder one side lacks whose objects are all
  // in the cache is put here, not expanded into added/removed.
  bool keep_whole = false;
  std::vector<OneSidedFolder> whole;
};
bool diff_trees(const Cache& cache, const std::string& from, const std::string& to, const std::string& path,
                FileChanges& out, const std::map<std::string, std::string>* fresh);

// A folder's tree built in memory: its root hash and the folder objects the
// cache lacks (only the changed folders' on a re-add).
struct BuiltTree {
  std::string root;
  std::map<std::string, std::string> fresh;  // hash -> bytes
};

BuiltTree build_in_memory(const Cache& cache, const WorkTree& t, const FolderHashSink& folders = {}) {
  BuiltTree b;
  b.root = t.build(
      [&](const std::string& hash, const std::string& bytes) {
        if (!cache.has(hash)) b.fresh.emplace(hash, bytes);
      },
      folders);
  return b;
}

FolderHashSink collect_into(FolderHashes& out) {
  return [&out](std::string_view prefix, const std::string& hash) { out.emplace_back(prefix, hash); };
}

// A folder's tree with the folder objects the cache lacks written to it:
// a one-file change writes its folder's and its parents', no more.
struct StoredTree {
  std::string root;
  std::uint64_t written = 0;
  FolderHashes folders;  // each folder's object, for the stat cache
};

StoredTree store_tree(Cache& cache, const WorkTree& t) {
  StoredTree s;
  s.root = t.build(store_missing(cache, s.written), collect_into(s.folders));
  return s;
}

// True when a re-add may trust the old pointer's tree: it was found complete
// before (status records it) and no object was removed since.
bool old_tree_complete(StatCache& sc, const AddTarget& target, const WorkTree& t, const std::string& stamp) {
  const auto& old = target.old;
  return old && old->type == EntryType::dir && old->version == 2 && t.type == EntryType::dir && !stamp.empty() &&
         sc.known_complete(old->sha256, stamp);
}

std::vector<WorkFile*> files_at(WorkTree& t, const std::vector<FileChange>& changes) {
  std::vector<WorkFile*> out;
  const std::string prefix = t.data_rel + "/";
  for (const auto& c : changes) {
    std::string rel = c.path.substr(prefix.size());
    auto it = std::lower_bound(t.files.begin(), t.files.end(), rel,
                               [](const WorkFile& f, const std::string& r) { return f.rel() < r; });
    if (it != t.files.end() && it->rel() == rel) out.push_back(&*it);
  }
  return out;
}

// The files of a re-added folder whose objects the old tree does not vouch
// for: those added or changed since, found folder by folder (unchanged
// folders are not read). nullopt when the old tree can not be compared
// (damaged, or a folder object gone): then every file is checked.
std::optional<std::vector<WorkFile*>> changed_since_old(const Cache& cache, const std::string& old_hash, WorkTree& t,
                                                        const std::string& now) {
  FileChanges changes;
  try {
    if (!diff_trees(cache, old_hash, now, t.data_rel, changes, nullptr)) return std::nullopt;
  } catch (const InputError&) {
    return std::nullopt;  // damaged since: check every object, as without the shortcut
  }
  std::vector<WorkFile*> out = files_at(t, changes.added);
  std::vector<WorkFile*> modified = files_at(t, changes.modified);
  out.insert(out.end(), modified.begin(), modified.end());
  return out;
}

// A file of add's trees by index.
struct FileRef {
  std::uint32_t tree, file;
};
using FileRefs = std::vector<FileRef>;

// add reads files a block at a time, with the stat cache written after each:
// neither its queue nor the list of files in hand holds every file.
constexpr std::size_t kStoreBlock = 16384;

// Calls `run` with the files `pick` selects, kStoreBlock at a time, in
// tree order: no list of every file of a first add is made.
template <class Pick, class Run>
void in_blocks(std::vector<WorkTree>& trees, Pick pick, Run run) {
  FileRefs block;
  for (std::size_t i = 0; i < trees.size(); ++i)
    for (std::size_t k = 0; k < trees[i].files.size(); ++k) {
      if (!pick(trees[i].files[k])) continue;
      if (block.empty()) block.reserve(kStoreBlock);
      block.push_back({static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(k)});
      if (block.size() == kStoreBlock) {
        run(block);
        block.clear();
      }
    }
  if (!block.empty()) run(block);
}

// Stores into the cache every file marked to_store, and unmarks it.
void hash_into_cache(Cache& cache, StatCache& sc, std::vector<WorkTree>& trees, const std::vector<LinkMode>& modes,
                     unsigned jobs) {
  bool link_workspace = modes.front() == LinkMode::hardlink || modes.front() == LinkMode::symlink;
  std::uint64_t count = 0, bytes = 0;
  for (const auto& t : trees)
    for (const auto& f : t.files)
      if (f.to_store) ++count, bytes += f.key.size;
  if (count == 0) return;
  ProgressPhase phase("hash", count, bytes);
  in_blocks(trees, [](const WorkFile& f) { return f.to_store; }, [&](const FileRefs& block) {
    parallel_for(block.size(), jobs, [&](std::size_t k) {
      check_interrupted();
      WorkTree* t = &trees[block[k].tree];
      WorkFile* f = &t->files[block[k].file];
      std::int64_t started = clock_now_ns();
      std::string hex = cache.add_file(t->abs_of(*f), modes, /*durable=*/false);
      f->set_sha256(hex);
      f->hashed = true;
      f->to_store = false;
      if (!link_workspace) sc.record(t->repo_rel_of(*f), f->key, hex, f->executable, started);
      phase.add(1, f->key.size);
    });
    sc.flush();
  });
}

// Marks to_store the files of `known` (hash from the stat cache) whose
// objects are gone from the cache (gc, a fresh clone): their bytes must be
// stored again. Returns how many.
std::size_t mark_without_objects(const Cache& cache, const std::vector<WorkFile*>& known, unsigned jobs) {
  std::atomic<std::size_t> gone{0};
  parallel_for(known.size(), jobs, [&](std::size_t i) {
    if (!cache.has(known[i]->sha256())) {
      known[i]->to_store = true;  // each file is one thread's alone
      ++gone;
    }
  });
  return gone;
}

// True when every known subfolder of `t` (WorkTree::subtrees) has the same
// object in the old tree at the same path: then the old tree, found
// complete, vouches for every object below them, and comparing the trees
// never needs their files. Reads only the old folder objects above them.
bool subtrees_as_in(const Cache& cache, const std::string& old_root, const WorkTree& t) {
  std::map<std::string, std::vector<TreeEntry>> levels;  // old folder path -> its entries
  auto level = [&](const std::string& path, const std::string& hash) -> const std::vector<TreeEntry>* {
    auto it = levels.find(path);
    if (it == levels.end()) {
      auto read = read_tree_level(cache, hash, "manifest of " + t.data_rel);
      if (!read) return nullptr;
      it = levels.emplace(path, std::move(*read)).first;
    }
    return &it->second;
  };
  try {
    for (const auto& s : t.subtrees) {
      std::string hash = old_root, path;
      for (std::size_t start = 0; start <= s.prefix.size();) {
        std::size_t end = std::min(s.prefix.find('/', start), s.prefix.size());
        const std::vector<TreeEntry>* entries = level(path, hash);
        if (!entries) return false;
        const std::string name = s.prefix.substr(start, end - start);
        auto e = std::find_if(entries->begin(), entries->end(),
                              [&](const TreeEntry& x) { return x.is_tree && x.name == name; });
        if (e == entries->end()) return false;
        hash = e->sha256;
        path = s.prefix.substr(0, end);
        start = end + 1;
      }
      if (hash != s.hash) return false;
    }
  } catch (const InputError&) {
    return false;  // damaged since: compare nothing, scan every file
  }
  return true;
}

// Scans one target for add, with the stat cache's hashes filled in (its
// rows of files gone deleted). A re-add of a tree found complete before
// takes status's way (data_status): unchanged folders stand in by their
// objects where the old tree holds the same ones, so only the changed
// folders' files are held. Any other folder is stored as it is scanned
// (first_add.h: `streamed` is set, and the tree returned holds no files).
// Not in link modes, which replace every workspace file.
WorkTree scan_target(Repo& repo, StatCache& sc, const AddTarget& target, const std::string& stamp,
                     const std::vector<LinkMode>& modes, unsigned jobs, std::optional<StreamedAdd>& streamed,
                     std::uint64_t& files_read) {
  const bool link_workspace = modes.front() == LinkMode::hardlink || modes.front() == LinkMode::symlink;
  const auto& old = target.old;
  const bool old_trusted = old && old->type == EntryType::dir && old->version == 2 && !stamp.empty() &&
                           sc.known_complete(old->sha256, stamp);
  if (!link_workspace && old_trusted) {
    const FolderDigests recorded = sc.folder_digests(target.rel);
    WorkTree t = scan_tree(repo.root(), target.rel, nullptr, &recorded);
    if (t.partial() && restore_outside_known_subtrees(sc, repo.cache(), t) == SubtreeRestore::restored &&
        subtrees_as_in(repo.cache(), old->sha256, t))
      return t;
    if (t.subtrees.empty() && fill_and_restore(sc, t)) return t;
  }
  if (!link_workspace && !old_trusted) {
    streamed = add_streaming(repo.cache(), sc, repo.root(), target.rel, modes, jobs,
                             [](const std::string& path) { check_storable_name(path, path); }, files_read);
    if (streamed) return std::move(streamed->tree);
  }
  // (Without status's remembered listings: they hold every file's name.)
  const FolderDigests none;  // digests taken (for status), nothing dropped
  WorkTree t = scan_tree(repo.root(), target.rel, nullptr, &none);
  fill_and_restore(sc, t);  // nothing dropped: cannot fail
  return t;
}

std::vector<WorkTree> scan_targets(Repo& repo, StatCache& sc, const std::vector<AddTarget>& targets,
                                   const std::string& stamp, const std::vector<LinkMode>& modes, unsigned jobs,
                                   std::vector<std::optional<StreamedAdd>>& streamed,
                                   std::vector<std::uint64_t>& files_read) {
  std::vector<WorkTree> trees;
  trees.reserve(targets.size());
  streamed.resize(targets.size());
  files_read.assign(targets.size(), 0);
  ProgressPhase phase("scan", 0, 0, "entries");  // scan_tree counts what it finds
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const AddTarget& t = targets[i];
    trees.push_back(scan_target(repo, sc, t, stamp, modes, jobs, streamed[i], files_read[i]));
    if (!trees.back().exists) throw InputError(t.shown + ": no such file or directory");
    for (const auto& f : trees.back().files)
      if (!f.rel().empty()) {
        const std::string path = trees.back().repo_rel_of(f);
        check_storable_name(path, path);
      }
  }
  return trees;
}

// Folders at least this large are recorded complete by add (below): the
// status that follows would otherwise check each file's object, and that is
// worth a wait of up to 25 ms for the cache's folders to settle.
constexpr std::size_t kRecordCompleteFiles = 1000;

// What status needs to answer a folder just added from its folders' stats
// alone: its fingerprint and folder digests with the new hash, and (for a
// large folder) that every object it names is in the cache, which add has
// just made so. Not in link modes, where the workspace files were replaced
// after the scan.
void record_added(Cache& cache, StatCache& sc, const WorkTree& t, const StoredTree& stored, std::uint64_t files,
                  std::int64_t scan_started) {
  if (t.type != EntryType::dir) return;
  const std::string& hash = stored.root;
  record_folder_digests(sc, t, {}, scan_started);
  sc.record_tree(t.data_rel, t.stat_fingerprint(), hash, t.newest_mtime_ns(), scan_started);
  record_subtree_hashes(sc, t, stored.folders, scan_started);
  if (files < kRecordCompleteFiles) return;
  std::string stamp = objects_stamp(cache);
  if (stamp.empty()) {  // a folder of the cache changed within the timestamp granularity
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    stamp = objects_stamp(cache);
  }
  if (!stamp.empty()) sc.record_complete(hash, stamp);
}

// Stores every file whose bytes the cache lacks, and returns the folders'
// trees stored already (where a re-add could trust the old tree). A re-add
// of a folder whose old tree was found complete checks only the files added
// or changed since (the new tree against the old, folder by folder), so its
// work follows the change; any other file known to the stat cache has its
// object checked.
std::vector<std::optional<StoredTree>> store_files(Repo& repo, StatCache& sc, std::vector<WorkTree>& trees,
                                                  const std::vector<AddTarget>& targets, const std::string& stamp,
                                                  unsigned jobs) {
  Cache& cache = repo.cache();
  std::vector<LinkMode> modes = repo.link_modes();
  std::vector<char> trust_old(trees.size());
  for (size_t i = 0; i < trees.size(); ++i) {
    trust_old[i] = old_tree_complete(sc, targets[i], trees[i], stamp);
    std::vector<WorkFile*> known;  // (only where the old tree is not trusted)
    for (auto& f : trees[i].files) {
      if (!f.hash_known) f.to_store = true;
      else if (!trust_old[i]) known.push_back(&f);
    }
    mark_without_objects(cache, known, jobs);
  }
  hash_into_cache(cache, sc, trees, modes, jobs);

  std::vector<std::optional<StoredTree>> stored(trees.size());
  std::vector<char> again(trees.size(), 0);  // a file read again: its hash may have changed
  for (size_t i = 0; i < trees.size(); ++i) {
    if (!trust_old[i]) continue;
    stored[i] = store_tree(cache, trees[i]);
    auto changed = changed_since_old(cache, targets[i].old->sha256, trees[i], stored[i]->root);
    if (!changed) {  // not comparable: every file is checked
      changed.emplace();
      for (auto& f : trees[i].files) changed->push_back(&f);
    }
    std::erase_if(*changed, [](const WorkFile* f) { return f->hashed; });
    again[i] = mark_without_objects(cache, *changed, jobs) > 0;
  }
  hash_into_cache(cache, sc, trees, modes, jobs);
  // Stored again where a file was read again.
  for (size_t i = 0; i < trees.size(); ++i)
    if (again[i] && stored[i]) {
      StoredTree s = store_tree(cache, trees[i]);
      s.written += stored[i]->written;
      stored[i] = std::move(s);
    }
  check_interrupted();
  return stored;
}

std::vector<AddedEntry> add_targets(Repo& repo, std::vector<AddTarget>& targets, const AddOptions& options) {
  Cache& cache = repo.cache();
  std::vector<LinkMode> modes = repo.link_modes();
  bool link_workspace = modes.front() == LinkMode::hardlink || modes.front() == LinkMode::symlink;
  StatCache sc(repo.index());
  unsigned jobs = jobs_or_default(options.jobs);

  const std::int64_t scan_started = clock_now_ns();
  const std::string stamp = objects_stamp(cache);  // before anything is added
  std::vector<std::optional<StreamedAdd>> streamed;
  std::vector<std::uint64_t> read_while_scanning;  // by a streamed add, also one that fell back
  std::vector<WorkTree> trees = scan_targets(repo, sc, targets, stamp, modes, jobs, streamed, read_while_scanning);
  std::vector<std::optional<StoredTree>> stored = store_files(repo, sc, trees, targets, stamp, jobs);
  for (size_t i = 0; i < trees.size(); ++i)
    if (streamed[i]) stored[i] = StoredTree{streamed[i]->root, streamed[i]->written, std::move(streamed[i]->folders)};
  // Files and bytes of each target: a streamed one holds none of its files.
  auto files_of = [&](size_t i) { return streamed[i] ? streamed[i]->files : trees[i].file_count(); };
  std::optional<ProgressPhase> phase(std::in_place, "store", link_workspace ? files_in(trees) : 0);

  // A folder becomes a tree: only folder objects the cache lacks are
  // written, so a one-file change adds its folder's and its parents'.
  std::vector<std::string> manifest_hashes(trees.size());
  std::vector<std::uint64_t> written(trees.size(), 0);
  for (size_t i = 0; i < trees.size(); ++i) {
    if (trees[i].type != EntryType::dir) continue;
    if (!stored[i]) stored[i] = store_tree(cache, trees[i]);
    manifest_hashes[i] = stored[i]->root;
    written[i] = stored[i]->written;
  }
  // Objects durable before any pointer names them: one sync for the batch.
  cache.sync();
  if (!link_workspace)
    for (size_t i = 0; i < trees.size(); ++i)
      if (stored[i]) record_added(cache, sc, trees[i], *stored[i], files_of(i), scan_started);

  if (link_workspace) {
    // The workspace file becomes a link to the object (read-only, shared).
    in_blocks(trees, [](const WorkFile&) { return true; }, [&](const FileRefs& block) {
      parallel_for(block.size(), jobs, [&](std::size_t i) {
        WorkTree* t = &trees[block[i].tree];
        WorkFile* f = &t->files[block[i].file];
        fs::path abs = t->abs_of(*f);
        const std::string hex = f->sha256();
        fs::path obj = cache.object_path(hex);
        struct stat ws, os, ls;
        bool linked = false;
        if (::lstat(abs.c_str(), &ls) == 0 && ::stat(abs.c_str(), &ws) == 0 && ::stat(obj.c_str(), &os) == 0)
          linked = ws.st_ino == os.st_ino && ws.st_dev == os.st_dev &&
                   (modes.front() == LinkMode::symlink) == S_ISLNK(ls.st_mode);
        if (!linked) cache.materialize(hex, abs, modes, f->executable);
        if (::stat(abs.c_str(), &ws) == 0)
          sc.record(t->repo_rel_of(*f), StatKey::of(ws), hex, f->executable, clock_now_ns());
        phase->add(1);
      });
      sc.flush();
    });
  }
  sc.flush();
  phase.reset();

  std::vector<AddedEntry> out;
  std::vector<std::string> to_stage;
  for (size_t i = 0; i < trees.size(); ++i) {
    check_interrupted();
    const WorkTree& t = trees[i];
    AddedEntry e;
    e.path = t.data_rel;
    e.pointer = t.data_rel + kPointerSuffix;
    Pointer& p = e.result;
    p.path = name_of(t.data_rel);
    p.type = t.type;
    p.size = streamed[i] ? streamed[i]->bytes : t.total_size();
    if (t.type == EntryType::dir) {
      p.version = 2;
      p.sha256 = manifest_hashes[i];
      p.files = files_of(i);
      e.manifests_written = written[i];
    } else {
      p.sha256 = t.files[0].sha256();
      p.executable = t.files[0].executable;
    }
    const auto& old = targets[i].old;
    p.description = !options.description.empty() ? options.description : old ? old->description : "";
    e.hashed = read_while_scanning[i];
    for (const auto& f : t.files) e.hashed += f.hashed ? 1 : 0;
    std::string text = serialize_pointer(p);
    fs::path pointer_abs = repo.root() / e.pointer;
    auto existing = read_file_if_exists(pointer_abs);
    e.changed = !old || old->sha256 != p.sha256 || old->type != p.type;
    if (!existing || *existing != text) write_file_atomic(pointer_abs, text);
    gitignore_add((repo.root() / parent_of(t.data_rel)).string(), name_of(t.data_rel));
    to_stage.push_back(e.pointer);
    to_stage.push_back(gitignore_rel(t.data_rel));
    out.push_back(std::move(e));
  }
  repo.git().stage(to_stage);
  return out;
}

// ---- comparing ---------------------------------------------------------------

// Merge-walks two sorted entry lists.
void diff_entries(const std::vector<ManifestEntry>& from, const std::vector<ManifestEntry>& to, const std::string& prefix,
                  std::vector<FileChange>& added, std::vector<FileChange>& removed,
                  std::vector<FileChange>& modified) {
  size_t i = 0, j = 0;
  auto full = [&](const std::string& p) { return prefix.empty() ? p : p.empty() ? prefix : prefix + "/" + p; };
  while (i < from.size() || j < to.size()) {
    if (j == to.size() || (i < from.size() && from[i].path < to[j].path)) {
      removed.push_back({full(from[i].path), from[i].sha256, "", from[i].size, 0});
      ++i;
    } else if (i == from.size() || to[j].path < from[i].path) {
      added.push_back({full(to[j].path), "", to[j].sha256, 0, to[j].size});
      ++j;
    } else {
      if (from[i].sha256 != to[j].sha256 || from[i].executable != to[j].executable)
        modified.push_back({full(from[i].path), from[i].sha256, to[j].sha256, from[i].size, to[j].size});
      ++i;
      ++j;
    }
  }
}

using TreeLevel = std::function<std::optional<std::vector<TreeEntry>>(const std::string& hash, const std::string& where)>;

// A tree whose folder objects are all in the cache (checked by a walk that
// keeps nothing), so a diff may list its files later, walking it in path
// order (OneSidedFolder), with no missing object to stop it part way.
bool tree_in_cache(const Cache& cache, const std::string& hash, const std::string& path) {
  if (!cache.has(hash)) return false;
  std::vector<std::string> missing;
  walk_manifest(
      cache, hash, "manifest of " + path + " (object " + hash + ")", [](ManifestEntry&&) {},
      [](const std::string&) {}, &missing);
  return missing.empty();
}

// The files of one side of a tree diff that the other side lacks entirely:
// a file, or every file below a subfolder (read level by level).
void one_sided(const TreeLevel& level, const TreeEntry& e, const std::string& dir, bool from_side, FileChanges& out) {
  auto add = [&](const std::string& path, const TreeEntry& f) {
    (from_side ? out.removed : out.added).push_back({path, from_side ? f.sha256 : "", from_side ? "" : f.sha256,
                                                     from_side ? f.size : 0, from_side ? 0 : f.size});
  };
  struct Folder {
    std::string hash, path;
    std::size_t depth;
  };
  std::vector<Folder> folders;
  if (e.is_tree) folders.push_back({e.sha256, dir + "/" + e.name, 0});
  else add(dir + "/" + e.name, e);
  while (!folders.empty()) {
    Folder at = std::move(folders.back());
    folders.pop_back();
    if (at.depth > kMaxTreeDepth)
      throw InputError(at.path + ": folders nest deeper than " + std::to_string(kMaxTreeDepth) + " levels",
                       "the tree manifest is damaged or hostile; run 'mlo fsck' to check the cache");
    auto entries = level(at.hash, "folder " + at.path + " (tree " + at.hash + ")");
    if (!entries) throw InputError("folder " + at.path + ": its tree object " + at.hash + " is not in the cache");
    for (const auto& f : *entries) {
      if (f.is_tree) folders.push_back({f.sha256, at.path + "/" + f.name, at.depth + 1});
      else add(at.path + "/" + f.name, f);
    }
  }
}

// Two tree manifests compared folder by folder: subfolders whose hashes are
// equal are skipped unread, so the work follows the change, not the dataset.
// False (`out` untouched) when either side is not a tree whose
// differing folders are all in the cache: the caller compares flat lists.
// `fresh`: folder objects built in memory (a work tree's, by status) that
// are read from there instead of the cache.
bool diff_trees(const Cache& cache, const std::string& from, const std::string& to, const std::string& path,
                FileChanges& out, const std::map<std::string, std::string>* fresh = nullptr) {
  TreeLevel level = [&](const std::string& hash, const std::string& where) -> std::optional<std::vector<TreeEntry>> {
    if (fresh)
      if (auto it = fresh->find(hash); it != fresh->end()) return parse_tree_level(it->second, where);
    return read_tree_level(cache, hash, where);
  };
  struct Pair {
    std::string from, to, dir;
    std::size_t depth;
  };
  FileChanges found;
  found.keep_whole = out.keep_whole;
  // A subfolder one side lacks: kept whole where it can be (see FileChanges).
  auto lacked = [&](const TreeEntry& e, const std::string& dir, bool from_side) {
    const std::string at = dir + "/" + e.name;
    if (found.keep_whole && e.is_tree && tree_in_cache(cache, e.sha256, at))
      found.whole.push_back({at, e.sha256, !from_side});
    else
      one_sided(level, e, dir, from_side, found);
  };
  std::vector<Pair> pending{{from, to, path, 0}};
  try {
    while (!pending.empty()) {
      Pair p = std::move(pending.back());
      pending.pop_back();
      auto a = level(p.from, "folder " + p.dir + " (tree " + p.from + ")");
      auto b = level(p.to, "folder " + p.dir + " (tree " + p.to + ")");
      if (!a || !b) return false;
      if (p.depth > kMaxTreeDepth)
        throw InputError(p.dir + ": folders nest deeper than " + std::to_string(kMaxTreeDepth) + " levels",
                         "the tree manifest is damaged or hostile; run 'mlo fsck' to check the cache");
      std::size_t i = 0, j = 0;
      while (i < a->size() || j < b->size()) {
        if (j == b->size() || (i < a->size() && tree_order((*a)[i], (*b)[j]))) {
          lacked((*a)[i++], p.dir, true);
        } else if (i == a->size() || tree_order((*b)[j], (*a)[i])) {
          lacked((*b)[j++], p.dir, false);
        } else {
          const TreeEntry &x = (*a)[i++], &y = (*b)[j++];
          if (x.sha256 == y.sha256 && x.executable == y.executable) continue;
          if (x.is_tree) pending.push_back({x.sha256, y.sha256, p.dir + "/" + x.name, p.depth + 1});
          else found.modified.push_back({p.dir + "/" + x.name, x.sha256, y.sha256, x.size, y.size});
        }
      }
    }
  } catch (const InputError&) {
    // A subfolder missing from the cache: the flat comparison reports it.
    std::vector<std::string> missing;
    read_manifest(cache, from, "manifest of " + path + " (object " + from + ")", &missing);
    read_manifest(cache, to, "manifest of " + path + " (object " + to + ")", &missing);
    if (!missing.empty()) return false;
    throw;
  }
  out = std::move(found);
  return true;
}

// Puts a diff's lists, sorted by path, into a status entry.
void take_changes(FileChanges&& changes, EntryStatus& e) {
  auto by_path = [](const FileChange& x, const FileChange& y) { return x.path < y.path; };
  for (auto* list : {&changes.added, &changes.removed, &changes.modified}) std::sort(list->begin(), list->end(), by_path);
  e.added = std::move(changes.added);
  e.removed = std::move(changes.removed);
  e.modified = std::move(changes.modified);
}

// A changed folder against its recorded tree, folder by folder: the work
// tree's folder objects are built in memory, and only folders whose hashes
// differ are read and compared. False when that is not possible (the
// caller compares the flat lists): a name that is not UTF-8 has no tree.
bool diff_work_tree(const Cache& cache, const std::string& recorded, const WorkTree& t, EntryStatus& e) {
  BuiltTree now;
  try {
    now = build_in_memory(cache, t);
  } catch (const InputError&) {
    return false;
  }
  FileChanges changes;
  if (!diff_trees(cache, recorded, now.root, t.data_rel, changes, &now.fresh)) return false;
  take_changes(std::move(changes), e);
  return true;
}

// Status of a tree found complete before, with a change: only the changed
// folders' files (and those of the folders above them) are brought back,
// hashed and built; every other subfolder stands in by its recorded object
// (restore_outside_known_subtrees), and the recorded tree is read only
// where it differs. Sets t.known_hash. nullopt when that cannot be done:
// no subfolder known (t untouched), or rows or objects gone (t.subtrees is
// left set: t lacks files, scan again).
std::optional<FileChanges> diff_changed_folders(StatCache& sc, const Cache& cache, WorkTree& t,
                                                const std::string& recorded, const std::string& fingerprint,
                                                std::int64_t scan_started) {
  if (restore_outside_known_subtrees(sc, cache, t) != SubtreeRestore::restored) return std::nullopt;
  hash_missing(sc, {&t}, 0);
  FolderHashes built;
  BuiltTree now;
  try {
    now = build_in_memory(cache, t, collect_into(built));
  } catch (const InputError&) {
    return std::nullopt;  // a name that is not UTF-8: the full scan reports it as a change
  }
  FileChanges changes;
  if (!diff_trees(cache, recorded, now.root, t.data_rel, changes, &now.fresh)) return std::nullopt;
  record_subtree_hashes(sc, t, built, scan_started);
  sc.record_tree(t.data_rel, fingerprint, now.root, t.newest_mtime_ns(), scan_started);
  t.known_hash = now.root;
  return changes;
}

// WorkTree::content_hash(), recording each subfolder's object on the way
// (record_subtree_hashes) for a tree manifest built from a status scan.
std::string hash_recording_subtrees(StatCache& sc, const WorkTree& t, std::int64_t scan_started) {
  if (t.type != EntryType::dir || t.manifest_version != 2 || !t.known_hash.empty()) return t.content_hash();
  FolderHashes built;
  std::string root;
  try {
    root = t.build({}, collect_into(built));
  } catch (const InputError&) {
    return {};  // as content_hash(): a name that is not UTF-8 matches no pointer
  }
  record_subtree_hashes(sc, t, built, scan_started);
  return root;
}

void note_not_cached(EntryStatus& e, std::string path) {
  if (e.missing.size() < kMaxListedNotCached) e.missing.push_back(std::move(path));
  ++e.missing_count;
}

// Checks which of a (hash, path) list the cache holds, in parallel, and
// notes the rest.
void note_not_cached_of(const Cache& cache, const std::vector<std::pair<std::string, std::string>>& needed,
                        EntryStatus& e) {
  std::vector<char> has(needed.size(), 1);
  parallel_for(needed.size(), default_jobs(), [&](std::size_t k) { has[k] = cache.has(needed[k].first) ? 1 : 0; });
  for (size_t k = 0; k < needed.size(); ++k)
    if (!has[k]) note_not_cached(e, needed[k].second);
}

// The objects of a tree (pointer version 2) the cache lacks, walked folder
// by folder and checked in batches, not read into one manifest: a fresh
// clone of ten million files, before its pull, holds one batch. A folder
// object missing too: the manifest is reported missing, as a flat one is.
void check_tree_cached(const Cache& cache, const std::string& root, const std::string& data_rel, EntryStatus& e) {
  constexpr std::size_t kBatch = 4096;
  std::vector<std::pair<std::string, std::string>> batch;  // hash, path
  auto add = [&](std::string hash, std::string path) {
    batch.emplace_back(std::move(hash), std::move(path));
    if (batch.size() < kBatch) return;
    note_not_cached_of(cache, batch, e);
    batch.clear();
  };
  std::vector<std::string> missing_folders;
  walk_manifest(
      cache, root, "manifest of " + data_rel + " (object " + root + ")",
      [&](ManifestEntry&& f) { add(std::move(f.sha256), data_rel + "/" + f.path); },
      [&](const std::string& h) { add(h, data_rel + " (folder manifest)"); }, &missing_folders);
  note_not_cached_of(cache, batch, e);
  if (missing_folders.empty()) return;
  e.missing.clear();
  e.missing_count = 0;
  e.manifest_missing = true;
  note_not_cached(e, data_rel + " (manifest)");
}

// nullopt when the manifest, or a folder object of a tree, is not in the cache.
std::optional<Manifest> try_load_manifest(Repo& repo, const std::string& hash, const std::string& for_path) {
  std::vector<std::string> missing;
  Manifest m = read_manifest(repo.cache(), hash, "manifest of " + for_path + " (object " + hash + ")", &missing);
  if (!missing.empty()) return std::nullopt;
  return m;
}

// A user path (repo-relative) selects an output at, under or above it.
bool selects(const std::string& rel, const std::string& out) {
  auto under = [](const std::string& a, const std::string& b) {
    return a.size() > b.size() && a.compare(0, b.size() + 1, b + "/") == 0;
  };
  return rel.empty() || rel == out || under(out, rel) || under(rel, out);
}

}  // namespace

Selection select_tracked(Repo& repo, const std::vector<std::string>& paths, const std::vector<TrackedOutput>& outputs) {
  Selection sel;
  if (paths.empty()) sel.pointers = find_pointer_files(repo);
  std::vector<std::string> rels;
  for (const auto& p : paths) {
    std::string rel = tracked_rel(repo, p);
    auto found = find_pointer_files(repo, {rel});
    bool output = std::any_of(outputs.begin(), outputs.end(), [&](const TrackedOutput& o) { return selects(rel, o.path); });
    if (found.empty() && !output)
      throw InputError(p + ": not tracked by mlo (no " + (rel.empty() ? std::string("*") : rel) + kPointerSuffix +
                           " and no tracked data inside" + (outputs.empty() ? "" : ", and no stage output in mlo.lock") +
                           ")",
                       "track it with 'mlo data add " + p + "'");
    sel.pointers.insert(sel.pointers.end(), found.begin(), found.end());
    rels.push_back(rel);
  }
  std::sort(sel.pointers.begin(), sel.pointers.end());
  sel.pointers.erase(std::unique(sel.pointers.begin(), sel.pointers.end()), sel.pointers.end());
  for (const auto& o : outputs) {
    if (regular_file_at(repo.root() / (o.path + kPointerSuffix))) continue;  // tracked by its pointer
    if (paths.empty() || std::any_of(rels.begin(), rels.end(), [&](const std::string& r) { return selects(r, o.path); }))
      sel.outputs.push_back(o);
  }
  return sel;
}


// ---- public ------------------------------------------------------------------

std::string gitignore_line(const std::string& name) {
  std::string out = "/";
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '*' || c == '?' || c == '[' || c == '\\' || (i == 0 && (c == '!' || c == '#'))) out += '\\';
    out += c;
  }
  // Trailing spaces are dropped by git unless escaped.
  size_t end = out.size();
  while (end > 1 && out[end - 1] == ' ') --end;
  if (end < out.size()) {
    std::string tail;
    for (size_t k = end; k < out.size(); ++k) tail += "\\ ";
    out = out.substr(0, end) + tail;
  }
  return out;
}

namespace {

// The .gitignore text with `line` added; nullopt when it is there already.
std::optional<std::string> with_ignore_line(std::string text, const std::string& line) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string l = text.substr(start, end - start);
    if (!l.empty() && l.back() == '\r') l.pop_back();
    if (l == line) return std::nullopt;
    start = end + 1;
  }
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text + line + "\n";
}

}  // namespace

bool gitignore_add(const std::string& dir_abs, const std::string& name) {
  fs::path file = fs::path(dir_abs) / ".gitignore";
  auto text = with_ignore_line(read_file_if_exists(file).value_or(""), gitignore_line(name));
  if (!text) return false;
  write_file_atomic(file, *text);
  return true;
}

bool gitignore_add_in(const TreeWriter& writer, const std::string& dir_rel, const std::string& name) {
  std::string rel = dir_rel.empty() ? ".gitignore" : dir_rel + "/.gitignore";
  writer.check_parents(rel);
  struct stat st;
  fs::path file = writer.resolve(rel);
  if (::lstat(file.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    throw InputError(rel + " is not a regular file (a link or a folder)",
                     "mlo never writes through a symbolic link; remove or rename it and run again");
  auto text = with_ignore_line(read_file_if_exists(file).value_or(""), gitignore_line(name));
  if (!text) return false;
  writer.write_file(rel, *text);
  return true;
}

bool gitignore_remove(const std::string& dir_abs, const std::string& name) {
  fs::path file = fs::path(dir_abs) / ".gitignore";
  auto text = read_file_if_exists(file);
  if (!text) return false;
  std::string line = gitignore_line(name);
  std::string out;
  bool changed = false, meaningful = false;
  size_t start = 0;
  while (start < text->size()) {
    size_t end = text->find('\n', start);
    bool has_nl = end != std::string::npos;
    if (!has_nl) end = text->size();
    std::string l = text->substr(start, end - start);
    std::string bare = !l.empty() && l.back() == '\r' ? l.substr(0, l.size() - 1) : l;
    if (bare == line) {
      changed = true;
    } else {
      out += l + (has_nl ? "\n" : "");
      if (!bare.empty()) meaningful = true;
    }
    start = end + 1;
  }
  if (!changed) return false;
  if (!meaningful) {
    ::unlink(file.c_str());
    return true;
  }
  write_file_atomic(file, out);
  return true;
}

std::vector<AddedEntry> data_add(Repo& repo, const std::vector<std::string>& paths, const AddOptions& options) {
  if (paths.empty()) throw UsageError("mlo data add needs at least one path");
  RepoLock lock = data_lock(repo);
  std::vector<AddTarget> targets(paths.size());
  for (size_t i = 0; i < paths.size(); ++i) check_add_path(repo, paths[i], targets[i]);
  check_no_overlap(targets);
  return add_targets(repo, targets, options);
}

std::vector<AddedEntry> data_commit(Repo& repo, const std::vector<std::string>& paths, const AddOptions& options) {
  RepoLock lock = data_lock(repo);
  std::vector<std::string> pointers;
  if (paths.empty()) {
    for (const auto& e : data_status(repo).entries)
      if (e.state == DataState::modified) pointers.push_back(e.pointer);
  } else {
    for (const auto& p : paths) {
      std::string rel = tracked_rel(repo, p);
      if (!regular_file_at(repo.root() / (rel + kPointerSuffix)))
        throw InputError(p + ": not tracked by mlo", "track it first with 'mlo data add " + p + "'");
      pointers.push_back(rel + kPointerSuffix);
    }
  }
  std::vector<AddTarget> targets;
  for (const auto& ptr : pointers) {
    AddTarget t;
    t.rel = *data_path_for(ptr);
    t.shown = t.rel;
    t.old = read_pointer(repo, ptr);
    struct stat st;
    if (::lstat((repo.root() / t.rel).c_str(), &st) != 0)
      throw InputError(t.rel + ": the tracked data is missing from the workspace, nothing to commit",
                       "run 'mlo data checkout " + t.rel + "' to restore it, or 'mlo data rm " + t.rel +
                           "' to stop tracking it");
    targets.push_back(std::move(t));
  }
  if (targets.empty()) return {};
  return add_targets(repo, targets, options);
}

std::string to_string(DataState s) {
  switch (s) {
    case DataState::clean: return "clean";
    case DataState::modified: return "modified";
    case DataState::deleted: return "deleted";
  }
  return "clean";
}

bool StatusResult::clean() const {
  return std::all_of(entries.begin(), entries.end(), [](const EntryStatus& e) { return e.clean(); });
}

namespace {

// What status compares: a pointer file's content, or a stage output's as
// mlo.lock records it (read like a pointer).
struct StatusItem {
  std::string label;  // the pointer file, or where the output is recorded
  std::string stage;
  std::string data_rel;
  Pointer p;
};

std::vector<StatusItem> status_items(Repo& repo, const Selection& sel) {
  std::vector<StatusItem> items;
  for (const auto& ptr : sel.pointers) items.push_back({ptr, "", *data_path_for(ptr), read_pointer(repo, ptr)});
  for (const auto& o : sel.outputs) {
    Pointer p;
    p.path = name_of(o.path);
    p.type = o.type;
    p.sha256 = o.sha256;
    p.version = o.manifest_version;
    items.push_back({o.recorded_in, o.stage, o.path, p});
  }
  return items;
}

}  // namespace

std::set<std::string> cache_known_to_hold(Repo& repo, const std::vector<std::string>& manifests) {
  std::set<std::string> held;
  if (manifests.empty()) return held;
  const std::string stamp = objects_stamp(repo.cache());
  if (stamp.empty()) return held;
  StatCache sc(repo.index());
  for (const auto& m : manifests)
    if (sc.known_complete(m, stamp)) held.insert(m);
  return held;
}

StatusResult data_status(Repo& repo, const std::vector<std::string>& paths, const std::vector<TrackedOutput>& outputs) {
  const std::vector<StatusItem> items = status_items(repo, select_tracked(repo, paths, outputs));
  StatusResult result;
  // Nothing tracked: nothing to compare, so the index and the cache are not
  // opened (a third of this case's start-up). The config is still read, so a
  // broken one is reported here as by every command.
  if (items.empty()) {
    repo.config();
    return result;
  }
  StatCache sc(repo.index());
  Cache& cache = repo.cache();
  std::vector<WorkTree> trees;
  trees.reserve(items.size());
  const std::string stamp = objects_stamp(cache);
  std::vector<std::string> fingerprints(items.size());
  std::vector<std::optional<FileChanges>> changes(items.size());  // found from the changed folders alone
  const std::int64_t scan_started = clock_now_ns();
  std::optional<ProgressPhase> phase(std::in_place, "scan", 0, 0, "entries");  // scan_tree counts what it finds
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string& data_rel = items[i].data_rel;
    DirListings listings = sc.load_listings(data_rel);
    // Folders whose own files are as recorded keep no files in the scan.
    const FolderDigests recorded = sc.folder_digests(data_rel);
    trees.push_back(scan_tree(repo.root(), data_rel, &listings, &recorded));
    sc.record_listings(data_rel, listings);
    WorkTree& t = trees.back();
    t.manifest_version = items[i].p.version;
    if (t.exists && t.type == EntryType::dir) {
      // An unchanged folder whose objects were all present last time: its
      // hash is known from the fingerprint alone (no per-file work below).
      fingerprints[i] = t.stat_fingerprint();
      auto known = sc.tree_hash(t.data_rel, fingerprints[i]);
      if (known && *known == items[i].p.sha256 && !stamp.empty() && sc.known_complete(*known, stamp)) {
        t.known_hash = *known;
        continue;
      }
    }
    // A change below a tree found complete before: only the changed folders'
    // files are needed (and those of the folders above them).
    if (t.exists && t.type == EntryType::dir && t.partial() && items[i].p.version == 2 && !stamp.empty() &&
        sc.known_complete(items[i].p.sha256, stamp)) {
      changes[i] = diff_changed_folders(sc, cache, t, items[i].p.sha256, fingerprints[i], scan_started);
      if (changes[i]) {
        record_folder_digests(sc, t, recorded, scan_started);
        continue;
      }
    }
    // Everything below needs every file.
    if (!t.subtrees.empty() || !fill_and_restore(sc, t)) {
      const FolderDigests none;
      t = scan_tree(repo.root(), data_rel, nullptr, &none);
      t.manifest_version = items[i].p.version;
      fill_and_restore(sc, t);  // nothing dropped: cannot fail
    }
    record_folder_digests(sc, t, recorded, scan_started);
  }
  std::vector<WorkTree*> all;
  for (auto& t : trees)
    if (t.known_hash.empty()) all.push_back(&t);
  phase.reset();
  hash_missing(sc, all, 0);

  phase.emplace("check", items.size(), 0, "paths");
  for (size_t i = 0; i < items.size(); ++i) {
    phase->add(1);
    const Pointer& p = items[i].p;
    WorkTree& t = trees[i];
    EntryStatus e;
    e.pointer = items[i].label;
    e.stage = items[i].stage;
    e.path = t.data_rel;
    e.type = p.type;
    std::optional<Manifest> manifest;
    bool same = false, check_complete = false;
    if (!t.exists) {
      e.state = DataState::deleted;
    } else {
      std::string hash = t.type == p.type ? hash_recording_subtrees(sc, t, scan_started) : std::string();
      same = hash == p.sha256;
      e.state = same ? DataState::clean : DataState::modified;
      if (!fingerprints[i].empty() && t.known_hash.empty() && !hash.empty())
        sc.record_tree(t.data_rel, fingerprints[i], hash, t.newest_mtime_ns(), scan_started);
    }
    // Which objects the pointer needs, and whether the cache has them.
    std::vector<std::pair<std::string, std::string>> needed;  // hash, path
    if (p.type == EntryType::file) {
      needed.push_back({p.sha256, t.data_rel});
    } else if (same) {
      // The workspace is the manifest: its hashes are the entries' (no parse
      // needed), and a folder found complete before with the cache unchanged
      // since needs no check per file. Otherwise the files are checked in
      // place: a list of every hash and path beside the scan doubled the
      // peak (541 MB at 1M files).
      if (!cache.has(p.sha256)) note_not_cached(e, t.data_rel + " (manifest)");
      if (stamp.empty() || !sc.known_complete(p.sha256, stamp)) {
        std::vector<char> has(t.files.size(), 1);
        parallel_for(t.files.size(), default_jobs(),
                     [&](std::size_t k) { has[k] = cache.has(t.files[k].sha256()) ? 1 : 0; });
        for (size_t k = 0; k < t.files.size(); ++k)
          if (!has[k]) note_not_cached(e, t.repo_rel_of(t.files[k]));
        if (p.version == 2)
          t.build([&](const std::string& hash, const std::string&) {
            if (hash != p.sha256) needed.push_back({hash, t.data_rel + " (folder manifest)"});
          });
        check_complete = true;
      }
    } else if (changes[i]) {
      take_changes(std::move(*changes[i]), e);
    } else if (p.version == 2 && t.exists && t.type == EntryType::dir && !stamp.empty() &&
               sc.known_complete(p.sha256, stamp) && diff_work_tree(cache, p.sha256, t, e)) {
      // Found complete before, with no object removed since: nothing to
      // check, and the recorded tree was read only where it differs.
    } else if (!t.exists && p.version == 2 && cache.has(p.sha256)) {
      // Deleted from the workspace, as in a fresh clone before its pull: the
      // tree is walked, not read into one manifest (nothing to diff).
      if (stamp.empty() || !sc.known_complete(p.sha256, stamp)) {
        check_tree_cached(cache, p.sha256, t.data_rel, e);
        check_complete = true;
      }
    } else if ((manifest = try_load_manifest(repo, p.sha256, t.data_rel))) {
      // Found complete before, with no object removed since: nothing to check.
      if (stamp.empty() || !sc.known_complete(p.sha256, stamp)) {
        for (const auto& m : manifest->entries) needed.push_back({m.sha256, t.data_rel + "/" + m.path});
        for (const auto& h : manifest->trees) needed.push_back({h, t.data_rel + " (folder manifest)"});
        check_complete = true;
      }
      if (t.exists && t.type == EntryType::dir) {
        Manifest now = t.manifest();
        diff_entries(manifest->entries, now.entries, t.data_rel, e.added, e.removed, e.modified);
      }
    } else {
      e.manifest_missing = true;
      note_not_cached(e, t.data_rel + " (manifest)");
    }
    note_not_cached_of(cache, needed, e);
    e.in_cache = e.missing_count == 0;
    if (check_complete && e.in_cache && !stamp.empty()) sc.record_complete(p.sha256, stamp);
    result.entries.push_back(std::move(e));
  }
  sc.flush();
  return result;
}

namespace {

// One side of a diff: a tracked path as a revision or the workspace has it.
struct Side {
  EntryType type;
  std::string sha256;
  std::uint64_t size = 0;
  std::optional<Manifest> manifest;  // filled lazily for folders
  bool workspace = false;
  int version = 2;  // of a folder's manifest at a revision (2: a tree)
  bool built = false;  // a workspace folder built as a tree: its new objects are in `fresh`
  std::map<std::string, std::string> fresh;
};
using Tree = std::map<std::string, Side>;  // data path -> side

// Every tracked path as the pointer files at `rev` record it.
Tree sides_at_rev(GitRepo& git, const std::string& rev) {
  Tree tree;
  if (rev == "HEAD" && !git.has_commits()) return tree;
  git.for_each_file_at(rev, kPointerSuffix, [&](const std::string& path, const std::string& content) {
    if (path.rfind(".mlo/", 0) == 0) return;
    auto data = data_path_for(path);
    if (!data) return;
    Pointer p = parse_pointer_for(content, path, rev + ":" + path);
    tree[*data] = Side{p.type, p.sha256, p.size, std::nullopt, false, p.version};
  });
  return tree;
}

// Trees a diff lists without holding them, checked listable (tree_in_cache)
// once: the check is recorded with the cache's stamp (an object added or
// removed changes it), so the next diff walks such a tree once, to print, not
// twice (the check made a fresh clone's diff of 1,000,000 files take 5.1 s
// instead of 4.3).
class ListableTrees {
 public:
  explicit ListableTrees(Repo& repo) : repo_(repo), sc_(repo.index()), stamp_(objects_stamp(repo.cache())) {}
  bool check(const std::string& hash, const std::string& path) {
    if (!stamp_.empty() && sc_.known_folders_complete(hash, stamp_)) return true;
    if (!tree_in_cache(repo_.cache(), hash, path)) return false;
    if (!stamp_.empty()) sc_.record_folders_complete(hash, stamp_);
    return true;
  }
  void save() {
    try {
      sc_.flush();
    } catch (const InputError&) {
      // Only a hint (a read-only index, say): the next diff checks again.
    }
  }

 private:
  Repo& repo_;
  StatCache sc_;
  std::string stamp_;
};

}  // namespace

DiffResult data_diff(Repo& repo, const std::string& from_rev, const std::string& to_rev) {
  DiffResult r;
  GitRepo& git = repo.git();
  r.from = from_rev.empty() ? "HEAD" : from_rev;
  r.to = to_rev.empty() ? "workspace" : to_rev;
  auto at_rev = [&](const std::string& rev) { return sides_at_rev(git, rev); };
  // A workspace folder as a flat list of every file (the comparison of last resort).
  auto workspace_manifest = [&](const std::string& rel) {
    StatCache sc(repo.index());
    WorkTree t = scan_tree(repo.root(), rel);
    fill_from_stat_cache(sc, t);
    hash_missing(sc, {&t}, 0);
    sc.flush();
    return t.manifest();
  };
  auto at_workspace = [&] {
    Tree tree;
    StatCache sc(repo.index());
    std::vector<WorkTree> work_trees;
    for (const auto& ptr : find_pointer_files(repo)) {
      Pointer p = read_pointer(repo, ptr);  // validates
      const std::string rel = *data_path_for(ptr);
      // A tree is scanned as status scans it: unchanged subfolders stand
      // in by their recorded objects, so only changed folders are held.
      if (p.type == EntryType::dir && p.version == 2) {
        const FolderDigests recorded = sc.folder_digests(rel);
        WorkTree t = scan_tree(repo.root(), rel, nullptr, &recorded);
        bool filled = false;
        if (t.exists && t.type == EntryType::dir) {
          if (!t.partial()) filled = fill_and_restore(sc, t);
          else if (restore_outside_known_subtrees(sc, repo.cache(), t) == SubtreeRestore::restored) filled = true;
          else filled = t.subtrees.empty() && fill_and_restore(sc, t);
        }
        if (filled) {
          hash_missing(sc, {&t}, 0);
          try {
            BuiltTree b = build_in_memory(repo.cache(), t);
            Side s{t.type, b.root, t.total_size(), std::nullopt, true};
            s.built = true;
            s.fresh = std::move(b.fresh);
            tree[rel] = std::move(s);
            continue;
          } catch (const InputError&) {
            // a name that is not UTF-8 has no tree: compared as a flat list below
          }
        }
      }
      work_trees.push_back(scan_tree(repo.root(), rel));
      work_trees.back().manifest_version = p.version;
      fill_from_stat_cache(sc, work_trees.back());
    }
    std::vector<WorkTree*> all;
    for (auto& t : work_trees) all.push_back(&t);
    hash_missing(sc, all, 0);
    sc.flush();
    for (auto& t : work_trees) {
      if (!t.exists) continue;
      Side s{t.type, t.content_hash(), t.total_size(), std::nullopt, true};
      if (t.type == EntryType::dir) s.manifest = t.manifest();
      tree[t.data_rel] = std::move(s);
    }
    return tree;
  };

  Tree a = at_rev(r.from);
  Tree b = r.to == "workspace" ? at_workspace() : at_rev(r.to);

  ListableTrees listable(repo);

  auto entries_of = [&](const std::string& path, Side& s) -> const std::vector<ManifestEntry>* {
    if (s.type == EntryType::file) {
      s.manifest = Manifest{{ManifestEntry{"", s.sha256, s.size, false}}};
      return &s.manifest->entries;
    }
    if (!s.manifest) s.manifest = s.built ? workspace_manifest(path) : try_load_manifest(repo, s.sha256, path);
    return s.manifest ? &s.manifest->entries : nullptr;
  };
  std::set<std::string> paths;
  for (auto& [k, v] : a) paths.insert(k);
  for (auto& [k, v] : b) paths.insert(k);
  static const std::vector<ManifestEntry> none;
  for (const auto& path : paths) {
    auto ia = a.find(path), ib = b.find(path);
    Side* sa = ia == a.end() ? nullptr : &ia->second;
    Side* sb = ib == b.end() ? nullptr : &ib->second;
    if (sa && sb && sa->type == sb->type && sa->sha256 == sb->sha256) continue;
    if (!sa || !sb) {
      const Side& s = sa ? *sa : *sb;
      // A tree read from a revision (walked in path order): kept whole. A
      // flat manifest, or a tree not all in the cache, is compared as before.
      if (s.type == EntryType::dir && s.version == 2 && !s.workspace && listable.check(s.sha256, path)) {
        r.whole.push_back({path, s.sha256, sb != nullptr});
        continue;
      }
    }
    // Trees on both sides: only the folders whose hashes differ are read.
    if (sa && sb && sa->type == EntryType::dir && sb->type == EntryType::dir && (!sa->workspace || sa->built) &&
        (!sb->workspace || sb->built)) {
      FileChanges changes;
      changes.keep_whole = true;
      const auto* fresh = sa->built ? &sa->fresh : sb->built ? &sb->fresh : nullptr;
      if (diff_trees(repo.cache(), sa->sha256, sb->sha256, path, changes, fresh)) {
        r.whole.insert(r.whole.end(), changes.whole.begin(), changes.whole.end());
        r.added.insert(r.added.end(), changes.added.begin(), changes.added.end());
        r.deleted.insert(r.deleted.end(), changes.removed.begin(), changes.removed.end());
        r.modified.insert(r.modified.end(), changes.modified.begin(), changes.modified.end());
        continue;
      }
    }
    const std::vector<ManifestEntry>* ea = sa ? entries_of(path, *sa) : &none;
    const std::vector<ManifestEntry>* eb = sb ? entries_of(path, *sb) : &none;
    if (!ea || !eb) {
      // A folder whose manifest is not here: compare it as a whole.
      r.unknown.push_back(path);
      if (!sa) r.added.push_back({path, "", sb->sha256, 0, sb->size});
      else if (!sb) r.deleted.push_back({path, sa->sha256, "", sa->size, 0});
      else r.modified.push_back({path, sa->sha256, sb->sha256, sa->size, sb->size});
      continue;
    }
    if (sa && sb && sa->type != sb->type) {
      // A file became a folder or back: everything old went, everything new came.
      diff_entries(*ea, none, path, r.added, r.deleted, r.modified);
      diff_entries(none, *eb, path, r.added, r.deleted, r.modified);
    } else {
      diff_entries(*ea, *eb, path, r.added, r.deleted, r.modified);
    }
  }
  auto by_path = [](const FileChange& x, const FileChange& y) { return x.path < y.path; };
  std::sort(r.added.begin(), r.added.end(), by_path);
  std::sort(r.deleted.begin(), r.deleted.end(), by_path);
  std::sort(r.modified.begin(), r.modified.end(), by_path);
  // In the order of their files' paths ("a.csv" < "a/x").
  std::sort(r.whole.begin(), r.whole.end(),
            [](const OneSidedFolder& x, const OneSidedFolder& y) { return x.path + "/" < y.path + "/"; });
  listable.save();
  return r;
}

void for_each_change(Repo& repo, const DiffResult& d, ChangeKind kind, const std::function<void(const FileChange&)>& fn) {
  const std::vector<FileChange>& held = kind == ChangeKind::added ? d.added
                                        : kind == ChangeKind::deleted ? d.deleted
                                                                      : d.modified;
  std::size_t i = 0;
  for (const auto& w : d.whole) {
    if (kind == ChangeKind::modified || w.added != (kind == ChangeKind::added)) continue;
    const std::string below = w.path + "/";
    for (; i < held.size() && held[i].path < below; ++i) fn(held[i]);
    FileChange c;
    for_each_manifest_file(repo, w.tree, w.path, [&](ManifestEntry&& e) {
      c.path = below + e.path;
      (w.added ? c.new_sha256 : c.old_sha256) = std::move(e.sha256);
      (w.added ? c.new_size : c.old_size) = e.size;
      fn(c);
    });
  }
  for (; i < held.size(); ++i) fn(held[i]);
}

void data_ls(Repo& repo, const std::string& path, const std::function<void(const ListedEntry&)>& each) {
  std::string rel = path.empty() ? "" : tracked_rel(repo, path);
  if (!rel.empty() && regular_file_at(repo.root() / (rel + kPointerSuffix))) {
    Pointer p = read_pointer(repo, rel + kPointerSuffix);
    if (p.type == EntryType::dir) {
      ListedEntry listed{"", EntryType::file, "", 0, 0, ""};
      for_each_manifest_file(repo, p.sha256, rel, [&](ManifestEntry&& e) {
        listed.path = rel + "/" + e.path;
        listed.sha256 = std::move(e.sha256);
        listed.size = e.size;
        each(listed);
      });
      return;
    }
  }
  auto pointers = find_pointer_files(repo, {rel});
  if (!rel.empty() && pointers.empty())
    throw InputError(path + ": not tracked by mlo, and no tracked data inside", "see 'mlo data ls' for what is tracked");
  for (const auto& ptr : pointers) {
    Pointer p = read_pointer(repo, ptr);
    each({*data_path_for(ptr), p.type, p.sha256, p.size, p.files, ptr});
  }
}

std::vector<RmResult> data_rm(Repo& repo, const std::vector<std::string>& paths, const RmOptions& options) {
  if (paths.empty()) throw UsageError("mlo data rm needs at least one path");
  RepoLock lock = data_lock(repo);
  Cache& cache = repo.cache();
  StatCache sc(repo.index());
  std::vector<RmResult> out;
  std::vector<std::string> rels;
  std::vector<WorkTree> trees;
  // Validate everything first.
  for (const auto& p : paths) {
    std::string rel = tracked_rel(repo, p);
    if (!regular_file_at(repo.root() / (rel + kPointerSuffix)))
      throw InputError(p + ": not tracked by mlo (no " + rel + kPointerSuffix + ")", "see 'mlo data ls'");
    rels.push_back(rel);
    trees.push_back(scan_tree(repo.root(), rel));
    fill_from_stat_cache(sc, trees.back());
  }
  if (options.remove_data && !options.force) {
    std::vector<WorkTree*> all;
    for (auto& t : trees) all.push_back(&t);
    hash_missing(sc, all, 0);
    std::vector<std::string> unsaved;
    for (auto& t : trees)
      for (auto& f : t.files)
        if (!cache.has(f.sha256())) unsaved.push_back(t.repo_rel_of(f));
    if (!unsaved.empty())
      throw InputError("these files hold changes that are not in the cache; removing them would lose data:" +
                           list_some(unsaved),
                       "run 'mlo data commit' first, drop --remove-data to keep the files, or add --force");
  }
  std::vector<std::string> to_stage;
  for (size_t i = 0; i < rels.size(); ++i) {
    const std::string& rel = rels[i];
    WorkTree& t = trees[i];
    RmResult r{rel, rel + kPointerSuffix, false};
    if (options.remove_data) {
      std::error_code ec;
      fs::remove_all(t.abs, ec);
      if (ec) throw_errno("cannot remove " + rel, ec.value());
      r.data_removed = t.exists;
    } else if (t.exists) {
      // Kept data must not stay a link into the cache, which gc may empty.
      for (auto& f : t.files) {
        fs::path abs = t.abs_of(f);
        struct stat ls, ws;
        if (::lstat(abs.c_str(), &ls) != 0 || ::stat(abs.c_str(), &ws) != 0) continue;
        bool link = S_ISLNK(ls.st_mode) ? links_into_cache(repo, abs) : (ws.st_nlink > 1 && !(ws.st_mode & 0200));
        if (!link) continue;
        std::string h = f.hash_known ? f.sha256() : sha256_file(abs);
        if (cache.has(h)) cache.materialize(h, abs, {LinkMode::copy}, f.executable);
      }
    }
    ::unlink((repo.root() / r.pointer).c_str());
    gitignore_remove((repo.root() / parent_of(rel)).string(), name_of(rel));
    sc.forget(rel);
    to_stage.push_back(r.pointer);
    to_stage.push_back(gitignore_rel(rel));
    out.push_back(r);
  }
  sc.flush();
  repo.git().stage(to_stage);
  return out;
}

}  // namespace mlo
