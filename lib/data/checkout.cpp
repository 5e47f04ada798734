#include "data/checkout.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/interrupt.h"
#include "core/parse.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "core/safe_path.h"
#include "data/data.h"
#include "data/helpers.h"
#include "data/scan.h"
#include "data/written_tree.h"
#include "data/stat_cache.h"
#include "data/tree.h"
#include "data/tree_walk.h"
#include "data/workspace.h"
#include "repo/repo.h"

namespace mlo {

WantedFile wanted_file(std::string_view hex, bool executable, const std::string& where) {
  WantedFile w;
  if (!sha256_from_hex(hex, w.hash))
    throw InputError(where + ": '" + printable(hex) + "' is not a SHA-256 hash",
                     "restore the pointer or manifest from git history");
  w.executable = executable;
  return w;
}

namespace {

std::string join_rel(const std::string& dir, const std::string& rel) {
  return rel.empty() ? dir : dir.empty() ? rel : dir + "/" + rel;
}

// Sorts by rel; of entries with one rel, the last one added stays (as a
// map assignment would). A manifest walk's list is sorted already: one pass.
void sort_wanted(std::vector<std::pair<std::string, WantedFile>>& want) {
  auto by_rel = [](const auto& a, const auto& b) { return a.first < b.first; };
  auto not_after = [](const auto& a, const auto& b) { return !(a.first < b.first); };
  if (std::adjacent_find(want.begin(), want.end(), not_after) == want.end()) return;  // strictly sorted
  std::stable_sort(want.begin(), want.end(), by_rel);
  std::size_t out = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (i + 1 < want.size() && want[i + 1].first == want[i].first) continue;  // a later one wins
    if (out != i) want[out] = std::move(want[i]);
    ++out;
  }
  want.resize(out);
}

EntryPlan plan_entry(CheckoutTarget& target, const WorkTree& tree,
                     const std::function<bool(const std::string&)>& saved, CheckoutPlan& plan) {
  EntryPlan e;
  e.data_rel = target.data_rel;
  e.type = target.type;
  e.replace_whole = tree.exists && tree.type != target.type;
  e.stale_temps = tree.stale_temps;
  e.make_empty_dir = target.type == EntryType::dir && target.want.empty();
  e.ignore = target.ignore;
  e.streamed_manifest = target.streamed_manifest;
  e.streamed_files = target.streamed_files;
  plan.unchanged += target.unchanged_below;
  if (e.replace_whole)
    for (const auto& f : tree.files)
      if (!saved(f.sha256())) plan.conflicts.push_back(tree.repo_rel_of(f));
  // The workspace's files (sorted by rel) and the wanted ones (sorted here)
  // are merged in one pass, and the wanted list becomes the plan's list of
  // files to write in place: a pull holds one copy of its file list.
  sort_wanted(target.want);
  const std::size_t have = e.replace_whole ? 0 : tree.files.size();
  std::size_t next = 0;  // the first workspace file not yet merged
  auto not_wanted = [&](const WorkFile& f) {
    if (!saved(f.sha256())) plan.conflicts.push_back(tree.repo_rel_of(f));
    e.remove.emplace_back(f.rel());
  };
  auto& want = target.want;
  std::size_t kept = 0;
  for (std::size_t w = 0; w < want.size(); ++w) {
    const std::string& rel = want[w].first;
    while (next < have && tree.files[next].rel() < rel) not_wanted(tree.files[next++]);
    const WorkFile* had = next < have && tree.files[next].rel() == rel ? &tree.files[next++] : nullptr;
    if (had && had->hash_known && had->hash == want[w].second.hash) {
      ++plan.unchanged;
      continue;
    }
    if (had && !saved(had->sha256())) plan.conflicts.push_back(join_rel(target.data_rel, rel));
    want[w].second.replaces = had != nullptr;
    if (kept != w) want[kept] = std::move(want[w]);
    ++kept;
  }
  want.resize(kept);
  e.write = std::move(want);
  while (next < have) not_wanted(tree.files[next++]);
  return e;
}

// ---- reading what is wanted -------------------------------------------------

// A pointer's target; a folder's files are not listed yet (list_wanted),
// only its manifest checked to be in the cache.
CheckoutTarget read_target(Repo& repo, const std::string& pointer_rel) {
  CheckoutTarget t;
  Pointer p = read_pointer(repo, pointer_rel);
  t.data_rel = checked_relative(*data_path_for(pointer_rel), pointer_rel);
  t.type = p.type;
  if (p.type == EntryType::file) {
    t.want.emplace_back("", wanted_file(p.sha256, p.executable, pointer_rel));
    return t;
  }
  require_manifest(repo, p.sha256, t.data_rel);
  t.streamed_manifest = p.sha256;
  t.streamed_files = p.files;
  t.tree_manifest = p.version == 2;
  return t;
}

// Walks a folder's manifest, each file checked (a path inside the folder, a
// hash) as it is read.
void for_each_wanted(Repo& repo, const std::string& manifest, const std::string& data_rel,
                     const std::function<void(std::string&&, WantedFile&&)>& fn,
                     const std::function<void(std::uint64_t)>& files_claimed = {}) {
  const std::string where = "manifest of " + data_rel;
  for_each_manifest_file(
      repo, manifest, data_rel,
      [&](ManifestEntry&& entry) {
        checked_relative(entry.path, where);
        fn(std::move(entry.path), wanted_file(entry.sha256, entry.executable, where));
      },
      files_claimed);
}

// Lists a folder's wanted files, to compare them with what the work tree holds.
void list_wanted(Repo& repo, CheckoutTarget& t) {
  if (t.streamed_manifest.empty()) return;
  for_each_wanted(
      repo, t.streamed_manifest, t.data_rel,
      [&](std::string&& rel, WantedFile&& want) { t.want.emplace_back(std::move(rel), want); },
      [&](std::uint64_t files) { t.want.reserve(std::min(files, kMaxClaimReserve)); });
  t.streamed_manifest.clear();
}

// What a tree target wants beside what its work tree is known to hold: the
// wanted files and the work tree's (from known folder objects) where they
// may differ, and a count of the files in folders equal on both sides.
struct BesideKnown {
  std::vector<std::pair<std::string, WantedFile>> want;
  std::vector<WorkFile> held;
  PathPool& held_paths;  // the work tree's, which takes the held files
  std::uint64_t unchanged = 0;
  const Cache& cache;
  std::string where;

  void add_wanted(std::string path, const std::string& sha256, bool executable) {
    checked_relative(path, where);
    want.emplace_back(std::move(path), wanted_file(sha256, executable, where));
  }
  void add_held(const std::string& path, const std::string& sha256, bool executable) {
    WorkFile f;
    f.set_rel(held_paths.keep(path));
    f.set_sha256(sha256);
    f.executable = executable;
    held.push_back(f);
  }
  // Every file of the folder object `tree` at `path`, to one side.
  void add_all(const std::string& tree, const std::string& path, bool wanted) {
    walk_manifest(cache, tree, where + ", folder " + path + " (tree " + tree + ")", [&](ManifestEntry&& e) {
      if (wanted) add_wanted(path + "/" + e.path, e.sha256, e.executable);
      else add_held(path + "/" + e.path, e.sha256, e.executable);
    }, [](const std::string&) {});
  }
  // The folder at `path` holds the object `have` and should hold `wanted`:
  // both are walked together, and subfolders equal on both sides skipped.
  // Iterative; the depth is bounded as a manifest walk bounds it.
  void add_difference(const std::string& have, const std::string& wanted, const std::string& path) {
    struct Pair {
      std::string have, wanted, path;
      std::size_t depth;
    };
    std::vector<Pair> pending{{have, wanted, path, 1}};  // folder pairs still to compare
    while (!pending.empty()) {
      Pair p = std::move(pending.back());
      pending.pop_back();
      const std::string at = where + ", folder " + p.path;
      if (p.depth > kMaxTreeDepth)
        throw InputError(at + ": folders nest deeper than " + std::to_string(kMaxTreeDepth) + " levels");
      auto mine = read_tree_level(cache, p.have, at + " (tree " + p.have + ")");
      auto theirs = read_tree_level(cache, p.wanted, at + " (tree " + p.wanted + ")");
      if (!mine || !theirs) throw InputError(at + ": a folder object is missing from the cache");
      std::unordered_map<std::string_view, const TreeEntry*> left;  // the work tree's entries not yet met
      for (const auto& e : *mine) left.emplace(e.name, &e);
      for (const auto& e : *theirs) {
        const std::string sub = p.path + "/" + e.name;
        auto m = left.find(e.name);
        const TreeEntry* had = m != left.end() && m->second->is_tree == e.is_tree ? m->second : nullptr;
        if (had) left.erase(m);
        if (!e.is_tree) {
          add_wanted(sub, e.sha256, e.executable);
          if (had) add_held(sub, had->sha256, had->executable);
        } else if (had && had->sha256 == e.sha256) {
          unchanged += e.files;
        } else if (had) {
          pending.push_back({had->sha256, e.sha256, sub, p.depth + 1});
        } else {
          add_all(e.sha256, sub, true);
        }
      }
      for (const auto& [name, e] : left) {
        const std::string sub = p.path + "/" + e->name;
        if (e->is_tree) add_all(e->sha256, sub, false);
        else add_held(sub, e->sha256, e->executable);
      }
    }
  }
};

// list_wanted for a work tree scanned with known subfolders (scan_target):
// a wanted subfolder the work tree holds as it is wanted is neither opened
// nor listed, and counted unchanged; where a known subfolder differs from
// the wanted one, the two objects are compared and only the folders that
// differ are listed, the work tree's side from its known objects into the
// scan. False, with `t` and `tree` as they were, when an object the
// comparison needs is missing or damaged.
bool list_wanted_beside_known(Repo& repo, CheckoutTarget& t, WorkTree& tree) {
  std::unordered_map<std::string_view, const KnownSubtree*> known;
  for (const auto& k : tree.subtrees) known.emplace(k.prefix, &k);
  BesideKnown out{{}, {}, *tree.paths, 0, repo.cache(), "manifest of " + t.data_rel};
  std::vector<std::pair<const KnownSubtree*, std::string>> differing;  // known, wanted object
  try {
    walk_manifest(
        repo.cache(), t.streamed_manifest, out.where + " (object " + t.streamed_manifest + ")",
        [&](ManifestEntry&& e) { out.add_wanted(std::move(e.path), e.sha256, e.executable); },
        [](const std::string&) {}, nullptr, {},
        [&](const std::string& hash, std::uint64_t, const std::string& path) {
          auto k = known.find(path);
          if (k == known.end()) return true;
          if (k->second->hash == hash) out.unchanged += k->second->files;
          else differing.emplace_back(k->second, hash);
          known.erase(k);
          return false;
        });
    for (const auto& [k, wanted] : differing) out.add_difference(k->hash, wanted, k->prefix);
    for (const auto& [prefix, k] : known) out.add_all(k->hash, k->prefix, false);  // not wanted at all
  } catch (const InputError&) {
    // Scan every file instead; a fault in the wanted manifest is met again,
    // and reported, by list_wanted.
    return false;
  }
  tree.files.insert(tree.files.end(), std::make_move_iterator(out.held.begin()),
                    std::make_move_iterator(out.held.end()));
  std::sort(tree.files.begin(), tree.files.end(),
            [](const WorkFile& a, const WorkFile& b) { return a.rel() < b.rel(); });
  tree.subtrees.clear();
  t.want = std::move(out.want);
  t.unchanged_below = out.unchanged;
  t.streamed_manifest.clear();
  return true;
}

// A streamed folder's files in batches of kStreamBatch, in manifest order.
constexpr std::size_t kStreamBatch = 8192;
using WantedBatch = std::vector<std::pair<std::string, WantedFile>>;
void for_each_streamed_batch(Repo& repo, const EntryPlan& e, const std::function<void(WantedBatch&)>& fn) {
  WantedBatch batch;
  batch.reserve(kStreamBatch);
  for_each_wanted(repo, e.streamed_manifest, e.data_rel, [&](std::string&& rel, WantedFile&& want) {
    batch.emplace_back(std::move(rel), want);
    if (batch.size() < kStreamBatch) return;
    fn(batch);
    batch.clear();
  });
  if (!batch.empty()) fn(batch);
}

// A stage output as mlo.lock records it; nullopt when the cache lacks its
// content (its manifest or a file), so it can not be restored here.
std::optional<CheckoutTarget> output_target(Repo& repo, const TrackedOutput& o) {
  Cache& cache = repo.cache();
  if (!cache.has(o.sha256)) return std::nullopt;
  CheckoutTarget t;
  t.data_rel = checked_relative(o.path, o.recorded_in + " (stage " + o.stage + ")");
  t.type = o.type;
  t.ignore = false;
  if (o.type == EntryType::file) {
    t.want.emplace_back("", wanted_file(o.sha256, false, o.recorded_in));
    return t;
  }
  std::string where = "manifest of " + t.data_rel;
  std::vector<std::string> missing;  // a folder object of a tree: not restorable here either
  Manifest m = read_manifest(cache, o.sha256, where + " (object " + o.sha256 + ")", &missing);
  if (!missing.empty()) return std::nullopt;
  for (auto& entry : m.entries) {
    if (!cache.has(entry.sha256)) return std::nullopt;
    t.want.emplace_back(checked_relative(entry.path, where), wanted_file(entry.sha256, entry.executable, where));
  }
  return t;
}

// ---- refusing symbolic links ---------------------------------------------

[[noreturn]] void refuse_link(const TreeWriter& writer, const std::string& rel) {
  std::error_code ec;
  fs::path target = fs::read_symlink(writer.root() / rel, ec);
  throw InputError("'" + rel + "' is a symbolic link" + (ec ? std::string() : " (to " + target.string() + ")") +
                       "; checkout never writes or deletes through a link, nothing was changed",
                   "a tracked path (or a folder inside tracked data) must be a real file or folder; remove the "
                   "link ('rm " + rel + "', or 'git rm --cached " + rel + "' if it was committed) and run again");
}

bool is_symlink(const TreeWriter& writer, const std::string& rel) {
  struct stat st;
  return ::lstat((writer.root() / rel).c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

// Refuses, before anything changes, when the plan would write or delete
// through a symbolic link: at the tracked path (unless it is a file linked
// into the cache by the symlink link mode) or at a folder inside it.
void check_no_links(Repo& repo, const TreeWriter& writer, const CheckoutPlan& plan) {
  std::set<std::string> checked;
  for (const auto& e : plan.entries) {
    writer.check_parents(e.data_rel);
    if (is_symlink(writer, e.data_rel) &&
        !(e.type == EntryType::file && !e.replace_whole && links_into_cache(repo, writer.root() / e.data_rel)))
      refuse_link(writer, e.data_rel);
    std::vector<std::string> touched = e.remove;
    for (const auto& w : e.write) touched.push_back(w.first);
    touched.insert(touched.end(), e.stale_temps.begin(), e.stale_temps.end());
    for (const auto& rel : touched)
      for (std::string dir = parent_of(rel); !dir.empty(); dir = parent_of(dir)) {
        std::string full = join_rel(e.data_rel, dir);
        if (!checked.insert(full).second) break;
        if (is_symlink(writer, full)) refuse_link(writer, full);
      }
  }
}

// ---- checking the objects ---------------------------------------------------

// Every object must be present and intact before the first file changes.
// Each object the plan writes, once, with one path that needs it (pointers
// into the plan: a pull of N files holds N of these, not N copies of them).
struct NeededObject {
  const Sha256Bytes* hash;
  const EntryPlan* entry;
  const std::string* rel;
  std::string shown() const { return join_rel(entry->data_rel, *rel); }
};

// Up to 10 paths for an error message, and how many there were (a streamed
// folder may lack a million objects: it names 10 of them).
struct SomePaths {
  std::vector<std::string> shown;
  std::uint64_t total = 0;
  void add(std::string path) {
    if (shown.size() < 10) shown.push_back(std::move(path));
    ++total;
  }
  std::string text() const {
    std::string out = list_some(shown);
    if (total > shown.size()) out += "\n  ... and " + std::to_string(total - shown.size()) + " more";
    return out;
  }
};

// Each object once, sorted by hash.
void sort_unique(std::vector<NeededObject>& objs) {
  std::sort(objs.begin(), objs.end(), [](const NeededObject& a, const NeededObject& b) { return *a.hash < *b.hash; });
  objs.erase(std::unique(objs.begin(), objs.end(),
                         [](const NeededObject& a, const NeededObject& b) { return *a.hash == *b.hash; }),
             objs.end());
}

// Checks that each object is in the cache and intact (the stat cache answers
// for one hashed before), adding the paths of those that are not.
void check_some_objects(Cache& cache, StatCache& sc, const std::vector<NeededObject>& objs, unsigned jobs,
                        ProgressPhase& phase, SomePaths& missing, SomePaths& corrupt) {
  std::vector<char> state(objs.size(), 0);  // 0 ok, 1 missing, 2 corrupt
  parallel_for(objs.size(), jobs, [&](std::size_t k) {
    check_interrupted();
    phase.add(1);
    const std::string hash = sha256_to_hex(*objs[k].hash);
    if (cache.verified_this_command(hash)) return;  // just fetched and checked (pull)
    const std::string op = cache.object_file(hash);
    struct stat st;
    if (::stat(op.c_str(), &st) != 0) {
      state[k] = 1;
      return;
    }
    StatKey key = StatKey::of(st);
    if (auto hit = sc.lookup(op, key); hit && hit->sha256 == hash) return;
    std::int64_t started = clock_now_ns();
    std::string h;
    try {
      h = sha256_file(op);
    } catch (const InputError&) {
      state[k] = 2;
      return;
    }
    if (h != hash) {
      state[k] = 2;
      return;
    }
    sc.record(op, key, h, false, started);
  });
  for (size_t k = 0; k < objs.size(); ++k)
    if (state[k]) (state[k] == 1 ? missing : corrupt).add(objs[k].shown() + " (object " + sha256_to_hex(*objs[k].hash) + ")");
}

void check_objects(Repo& repo, StatCache& sc, const CheckoutPlan& plan, unsigned jobs) {
  Cache& cache = repo.cache();
  std::vector<NeededObject> objs;
  std::uint64_t streamed = 0;
  for (const auto& e : plan.entries) {
    for (const auto& [rel, want] : e.write) objs.push_back({&want.hash, &e, &rel});
    streamed += e.streamed_files;
  }
  sort_unique(objs);
  ProgressPhase phase("verify", objs.size() + streamed, 0, "objects");
  SomePaths missing, corrupt;
  check_some_objects(cache, sc, objs, jobs, phase, missing, corrupt);
  // A streamed folder's objects a batch at a time (one found in two batches
  // is checked twice: the stat cache answers the second time).
  for (const auto& e : plan.entries) {
    if (e.streamed_manifest.empty()) continue;
    for_each_streamed_batch(repo, e, [&](WantedBatch& batch) {
      objs.clear();
      for (const auto& [rel, want] : batch) objs.push_back({&want.hash, &e, &rel});
      sort_unique(objs);
      check_some_objects(cache, sc, objs, jobs, phase, missing, corrupt);
    });
  }
  if (missing.total)
    throw InputError("content missing from the cache, nothing was changed:" + missing.text(),
                     "run 'mlo pull' to fetch it from a remote");
  if (corrupt.total)
    throw InputError("cache objects are corrupt (their bytes no longer match their hash), nothing was changed:" +
                         corrupt.text(),
                     "run 'mlo fsck' to find damaged objects, remove them, and 'mlo pull' them again");
}

// ---- applying -------------------------------------------------------------

// Open folders of the work tree (opened without following links), and where
// to stage files for each: .mlo/tmp when it is on the same file system.
class DestDirs {
 public:
  struct Dir {
    UniqueFd fd;
    fs::path stage;
  };
  DestDirs(const TreeWriter& writer, const Cache& cache) : writer_(writer), cache_(cache) {}

  std::shared_ptr<const Dir> get(const std::string& rel) {
    std::lock_guard<std::mutex> g(m_);
    auto it = dirs_.find(rel);
    if (it != dirs_.end()) return it->second;
    if (dirs_.size() >= 256) dirs_.clear();  // bounded: at most 256 open folders
    auto dir = std::make_shared<Dir>();
    dir->fd = writer_.open_dir(rel, true);
    dir->stage = cache_.stage_dir_for(writer_.root() / rel);
    dirs_.emplace(rel, dir);
    return dir;
  }

 private:
  const TreeWriter& writer_;
  const Cache& cache_;
  std::mutex m_;
  std::unordered_map<std::string, std::shared_ptr<Dir>> dirs_;
};

void note_updated(CheckoutResult& result, std::string path) {
  if (result.updated.size() < kMaxListedUpdates) result.updated.push_back(std::move(path));
  ++result.updated_count;
}

// Writes one file; returns its stat when it is a regular file (a link
// into the cache is not recorded in the stat cache).
std::optional<struct stat> write_one(DestDirs& dirs, const Cache& cache, const std::vector<LinkMode>& modes,
                                     const std::string& rel, const WantedFile& want) {
  auto dir = dirs.get(parent_of(rel));
  std::string name = name_of(rel);
  // A new name is linked in from an unnamed file; a file that stands there is
  // replaced by a rename (linkat never replaces), so it goes the staged way.
  if (want.replaces || !cache.write_file_at(want.sha256(), dir->fd.get(), name, modes, want.executable)) {
    fs::path temp = cache.stage(want.sha256(), dir->stage, modes, want.executable);
    if (::renameat(AT_FDCWD, temp.c_str(), dir->fd.get(), name.c_str()) != 0) {
      int err = errno;
      ::unlink(temp.c_str());
      throw_errno("cannot write " + rel, err);
    }
  }
  struct stat st;
  if (::fstatat(dir->fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return st;
}

// Stat cache rows for the files a checkout wrote, so the next status or add
// does not read them again (a first status after a pull of 1,000,000 files
// hashed every one: 14.5 s, 131 MB). git's checkout records its index the
// same way. A row is only trusted for a file whose mtime is older than the
// racy window before the row is made (stat_cache.h), so rows wait here, a
// bounded batch, until their files are old enough; the last ones wait out
// the window (20 ms) at the end.
class WrittenRows {
 public:
  explicit WrittenRows(StatCache& sc) : sc_(sc) {}
  void add(std::string path, const struct stat& st, const WantedFile& want) {
    std::lock_guard<std::mutex> g(m_);
    rows_.push_back({std::move(path), StatKey::of(st), want.hash, (st.st_mode & S_IXUSR) != 0});
    if (rows_.size() < next_try_) return;
    record_old_enough();
    // Those kept were written within the window: on a machine that writes
    // more than a batch in 20 ms, try again only once they have doubled.
    next_try_ = std::max(kBatch, 2 * rows_.size());
  }
  // True when every row is recorded (false only for files whose mtime is
  // ahead of the clock).
  bool finish() {
    std::lock_guard<std::mutex> g(m_);
    record_old_enough();
    if (rows_.empty()) return true;
    std::int64_t newest = 0;
    for (const auto& r : rows_) newest = std::max(newest, r.key.mtime_ns);
    const std::int64_t wait_ns = newest + StatCache::kRacyWindowNs + 1'000'000 - clock_now_ns();
    if (wait_ns > 0 && wait_ns <= 2 * StatCache::kRacyWindowNs) std::this_thread::sleep_for(std::chrono::nanoseconds(wait_ns));
    record_old_enough();
    return rows_.empty();
  }

 private:
  static constexpr std::size_t kBatch = 4096;
  struct Row {
    std::string path;
    StatKey key;
    Sha256Bytes hash;
    bool executable;
  };
  // Records the rows whose files are old enough now; keeps the rest.
  void record_old_enough() {
    const std::int64_t now = clock_now_ns();
    std::size_t kept = 0;
    for (auto& r : rows_)
      if (!sc_.record(r.path, r.key, sha256_to_hex(r.hash), r.executable, now)) rows_[kept++] = std::move(r);
    rows_.resize(kept);
  }
  StatCache& sc_;
  std::mutex m_;
  std::vector<Row> rows_;
  std::size_t next_try_ = kBatch;
};

// Removes `rel` and the folders it leaves empty, up to the tracked folder.
void remove_one(const TreeWriter& writer, const std::string& data_rel, const std::string& rel) {
  std::string full = join_rel(data_rel, rel);
  writer.remove_all(full);
  for (std::string dir = parent_of(rel); !dir.empty(); dir = parent_of(dir))
    if (::rmdir(writer.resolve(join_rel(data_rel, dir)).c_str()) != 0) break;
}

// `written` gathers the folder digests of a streamed folder (written from nothing).
void apply_entry(Repo& repo, const TreeWriter& writer, const EntryPlan& e, unsigned jobs, WrittenRows& rows,
                 WrittenTree& written, CheckoutResult& result) {
  Cache& cache = repo.cache();
  const std::vector<LinkMode> modes = repo.link_modes();
  for (const auto& rel : e.stale_temps) writer.remove_all(join_rel(e.data_rel, rel));
  if (e.replace_whole) writer.remove_all(e.data_rel);
  // Removals first: a file may stand where a wanted folder goes.
  for (const auto& rel : e.remove) {
    check_interrupted();
    remove_one(writer, e.data_rel, rel);
    result.removed.push_back(join_rel(e.data_rel, rel));
  }
  DestDirs dirs(writer, cache);
  std::mutex m;
  std::vector<std::optional<struct stat>> stats;  // a streamed batch's, in walk order
  auto write_all = [&](const WantedBatch& files, bool streamed) {
    stats.assign(streamed ? files.size() : 0, std::nullopt);
    parallel_for(files.size(), jobs, [&](std::size_t k) {
      check_interrupted();
      const auto& [rel, want] = files[k];
      std::string full = join_rel(e.data_rel, rel);
      auto st = write_one(dirs, cache, modes, full, want);
      if (st) rows.add(full, *st, want);
      if (streamed) stats[k] = st;
      progress().add(1);
      std::lock_guard<std::mutex> g(m);
      note_updated(result, std::move(full));
    });
    for (std::size_t k = 0; k < stats.size(); ++k) written.add(files[k].first, stats[k]);
  };
  write_all(e.write, false);
  if (!e.streamed_manifest.empty())
    for_each_streamed_batch(repo, e, [&](WantedBatch& batch) { write_all(batch, true); });
  if (e.make_empty_dir) writer.open_dir(e.data_rel, true);
  if (e.ignore) gitignore_add_in(writer, parent_of(e.data_rel), name_of(e.data_rel));
}

}  // namespace

CheckoutPlan plan_checkout(std::vector<CheckoutTarget> targets, const std::vector<const WorkTree*>& trees,
                           const std::function<bool(const std::string&)>& saved) {
  CheckoutPlan plan;
  for (size_t i = 0; i < targets.size(); ++i) plan.entries.push_back(plan_entry(targets[i], *trees[i], saved, plan));
  return plan;
}

namespace {

// A target's work tree. A tree is scanned as status scans it (data_status):
// unchanged subfolders stand in by their recorded objects (WorkTree::subtrees)
// where the stat cache knows them, so only the changed folders' files are held.
WorkTree scan_target(Repo& repo, StatCache& sc, const CheckoutTarget& target) {
  if (target.tree_manifest) {
    const FolderDigests recorded = sc.folder_digests(target.data_rel);
    WorkTree t = scan_tree(repo.root(), target.data_rel, nullptr, &recorded);
    if (!t.exists || t.type != EntryType::dir) return t;
    if (t.partial() && restore_outside_known_subtrees(sc, repo.cache(), t) == SubtreeRestore::restored) return t;
    if (t.subtrees.empty() && fill_and_restore(sc, t)) return t;
  }
  WorkTree t = scan_tree(repo.root(), target.data_rel);
  fill_from_stat_cache(sc, t);
  return t;
}

// Reads the targets' work trees with the hashes the stat cache lacks.
std::vector<WorkTree> scan_targets(Repo& repo, StatCache& sc, const std::vector<CheckoutTarget>& targets, unsigned jobs) {
  std::vector<WorkTree> trees(targets.size());
  std::vector<WorkTree*> to_hash;
  {
    ProgressPhase phase("scan", 0, 0, "entries");  // scan_tree counts what it finds
    for (size_t i = 0; i < targets.size(); ++i) {
      trees[i] = scan_target(repo, sc, targets[i]);
      to_hash.push_back(&trees[i]);
    }
  }
  hash_missing(sc, to_hash, jobs);
  return trees;
}

// Lists what a target wants to compare with its scanned work tree: beside
// known subfolders where the scan has them, else every file (a scan with
// known subfolders whose objects fail is redone in full).
void list_target(Repo& repo, StatCache& sc, CheckoutTarget& t, WorkTree& tree, unsigned jobs) {
  if (!tree.subtrees.empty()) {
    if (list_wanted_beside_known(repo, t, tree)) return;
    tree = scan_tree(repo.root(), t.data_rel);
    fill_from_stat_cache(sc, tree);
    hash_missing(sc, {&tree}, jobs);
  }
  list_wanted(repo, t);
}

// True when a target's work tree holds no file to keep or remove: nothing
// there, a file where a folder goes (replaced whole), or an empty folder.
bool nothing_to_compare(const WorkTree& t) {
  return !t.exists || t.type != EntryType::dir || (t.files.empty() && t.subtrees.empty() && t.stale_temps.empty());
}

// Adds each stage output's plan to `plan`, unless it would lose changes the
// cache lacks: a hand-edited output is kept (mlo run records or replaces it).
void plan_outputs(std::vector<CheckoutTarget>& targets, const std::vector<WorkTree>& trees, size_t first,
                  const std::function<bool(const std::string&)>& saved, CheckoutPlan& plan, CheckoutResult& result) {
  for (size_t i = first; i < targets.size(); ++i) {
    std::string data_rel = targets[i].data_rel;
    std::vector<CheckoutTarget> one_target;
    one_target.push_back(std::move(targets[i]));
    CheckoutPlan one = plan_checkout(std::move(one_target), {&trees[i]}, saved);
    if (!one.conflicts.empty()) {
      result.kept.push_back(data_rel);
      continue;
    }
    plan.entries.push_back(std::move(one.entries[0]));
    plan.unchanged += one.unchanged;
  }
}

// A folder written from nothing is recorded as a status would record it:
// its folder digests, its fingerprint, and (every object was checked before
// the first write, and the data lock keeps gc out) its objects complete.
void record_written_trees(const Cache& cache, StatCache& sc, const CheckoutPlan& plan,
                          std::vector<WrittenTree>& written) {
  const std::int64_t now = clock_now_ns();
  const std::string stamp = objects_stamp(cache);
  for (size_t i = 0; i < plan.entries.size(); ++i) {
    const EntryPlan& e = plan.entries[i];
    if (e.streamed_manifest.empty() || !written[i].record(sc, e.data_rel, e.streamed_manifest, now)) continue;
    if (!stamp.empty()) sc.record_complete(e.streamed_manifest, stamp);
  }
}

}  // namespace

CheckoutResult data_checkout(Repo& repo, const std::vector<std::string>& paths, const CheckoutOptions& options) {
  RepoLock lock = data_lock(repo);
  remove_stale_temps(repo.tmp_dir());
  Selection sel = select_tracked(repo, paths, options.outputs);
  Cache& cache = repo.cache();
  StatCache sc(repo.index());
  const unsigned jobs = jobs_or_default(options.jobs);
  CheckoutResult result;
  // 1. Read every pointer, manifest and output, and scan, before touching anything.
  std::vector<CheckoutTarget> targets;
  for (const auto& ptr : sel.pointers) targets.push_back(read_target(repo, ptr));
  const size_t first_output = targets.size();
  for (const auto& o : sel.outputs) {
    if (auto t = output_target(repo, o)) targets.push_back(std::move(*t));
    else result.missing.push_back(o.path);
  }
  std::vector<WorkTree> trees = scan_targets(repo, sc, targets, jobs);
  // A folder the work tree holds nothing of is streamed; the others' wanted
  // files are listed to be compared.
  for (size_t i = 0; i < first_output; ++i)
    if (!nothing_to_compare(trees[i])) list_target(repo, sc, targets[i], trees[i], jobs);
  // 2. Decide; refuse to lose changes that are not in the cache, to follow a
  // link, or to start without every object.
  auto saved = [&](const std::string& h) { return options.force || cache.has(h); };
  std::vector<const WorkTree*> scanned;
  for (size_t i = 0; i < first_output; ++i) scanned.push_back(&trees[i]);
  CheckoutPlan plan = plan_checkout(std::vector<CheckoutTarget>(std::make_move_iterator(targets.begin()),
                                                                std::make_move_iterator(targets.begin() + first_output)),
                                    scanned, saved);
  plan_outputs(targets, trees, first_output, saved, plan, result);
  // The plan holds what is wanted now; the scans are not needed again.
  std::vector<CheckoutTarget>().swap(targets);
  std::vector<WorkTree>().swap(trees);
  TreeWriter writer(repo.root(), "checkout");
  check_no_links(repo, writer, plan);
  if (!plan.conflicts.empty())
    throw InputError("checkout would overwrite changes that are not saved in the cache:" + list_some(plan.conflicts),
                     "run 'mlo data commit PATH' (or 'mlo data add') to keep them, or 'mlo data checkout --force' "
                     "to discard them");
  check_objects(repo, sc, plan, jobs);
  // 3. Apply: each file is replaced atomically (staged in .mlo/tmp, then
  // renamed), so an interruption leaves every file old or new and no temp
  // file inside tracked data; a re-run finishes the job.
  result.unchanged = plan.unchanged;
  std::uint64_t to_write = 0;
  for (const auto& e : plan.entries) to_write += e.write.size() + e.streamed_files;
  {
    ProgressPhase phase("write", to_write);
    WrittenRows rows(sc);
    std::vector<WrittenTree> written(plan.entries.size());
    for (size_t i = 0; i < plan.entries.size(); ++i) apply_entry(repo, writer, plan.entries[i], jobs, rows, written[i], result);
    if (rows.finish()) record_written_trees(cache, sc, plan, written);
  }
  sc.flush();
  std::sort(result.updated.begin(), result.updated.end());
  return result;
}

}  // namespace mlo
