#include "data/checkout.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <unordered_map>

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
    e.remove.push_back(f.rel);
  };
  auto& want = target.want;
  std::size_t kept = 0;
  for (std::size_t w = 0; w < want.size(); ++w) {
    const std::string& rel = want[w].first;
    while (next < have && tree.files[next].rel < rel) not_wanted(tree.files[next++]);
    const WorkFile* had = next < have && tree.files[next].rel == rel ? &tree.files[next++] : nullptr;
    if (had && had->hash_known && had->hash == want[w].second.hash) {
      ++plan.unchanged;
      continue;
    }
    if (had && !saved(had->sha256())) plan.conflicts.push_back(join_rel(target.data_rel, rel));
    if (kept != w) want[kept] = std::move(want[w]);
    ++kept;
  }
  want.resize(kept);
  e.write = std::move(want);
  while (next < have) not_wanted(tree.files[next++]);
  return e;
}

// ---- reading what is wanted -------------------------------------------------

CheckoutTarget read_target(Repo& repo, const std::string& pointer_rel) {
  CheckoutTarget t;
  Pointer p = read_pointer(repo, pointer_rel);
  t.data_rel = checked_relative(*data_path_for(pointer_rel), pointer_rel);
  t.type = p.type;
  if (p.type == EntryType::file) {
    t.want.emplace_back("", wanted_file(p.sha256, p.executable, pointer_rel));
    return t;
  }
  std::string where = "manifest of " + t.data_rel;
  for_each_manifest_file(
      repo, p.sha256, t.data_rel,
      [&](ManifestEntry&& entry) {
        t.want.emplace_back(checked_relative(entry.path, where), wanted_file(entry.sha256, entry.executable, where));
      },
      [&](std::uint64_t files) { t.want.reserve(std::min(files, kMaxClaimReserve)); });
  return t;
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

std::vector<NeededObject> objects_of(const CheckoutPlan& plan) {
  std::vector<NeededObject> out;
  for (const auto& e : plan.entries)
    for (const auto& [rel, want] : e.write) out.push_back({&want.hash, &e, &rel});
  std::sort(out.begin(), out.end(), [](const NeededObject& a, const NeededObject& b) { return *a.hash < *b.hash; });
  out.erase(std::unique(out.begin(), out.end(), [](const NeededObject& a, const NeededObject& b) { return *a.hash == *b.hash; }),
            out.end());
  return out;
}

void check_objects(Repo& repo, StatCache& sc, const CheckoutPlan& plan, unsigned jobs) {
  Cache& cache = repo.cache();
  std::vector<NeededObject> objs = objects_of(plan);
  std::vector<char> state(objs.size(), 0);  // 0 ok, 1 missing, 2 corrupt
  ProgressPhase phase("verify", objs.size(), 0, "objects");
  parallel_for(objs.size(), jobs, [&](std::size_t k) {
    check_interrupted();
    phase.add(1);
    const std::string hash = sha256_to_hex(*objs[k].hash);
    if (cache.verified_this_command(hash)) return;  // just fetched and checked (pull)
    fs::path op = cache.object_path(hash);
    struct stat st;
    if (::stat(op.c_str(), &st) != 0) {
      state[k] = 1;
      return;
    }
    StatKey key = StatKey::of(st);
    if (auto hit = sc.lookup(op.string(), key); hit && hit->sha256 == hash) return;
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
    sc.record(op.string(), key, h, false, started);
  });
  std::vector<std::string> missing, corrupt;
  for (size_t k = 0; k < objs.size(); ++k)
    if (state[k]) (state[k] == 1 ? missing : corrupt).push_back(objs[k].shown() + " (object " + sha256_to_hex(*objs[k].hash) + ")");
  if (!missing.empty())
    throw InputError("content missing from the cache, nothing was changed:" + list_some(missing),
                     "run 'mlo pull' to fetch it from a remote");
  if (!corrupt.empty())
    throw InputError("cache objects are corrupt (their bytes no longer match their hash), nothing was changed:" +
                         list_some(corrupt),
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

void write_one(DestDirs& dirs, const Cache& cache, const std::vector<LinkMode>& modes, const std::string& rel,
               const WantedFile& want) {
  auto dir = dirs.get(parent_of(rel));
  fs::path temp = cache.stage(want.sha256(), dir->stage, modes, want.executable);
  std::string name = name_of(rel);
  if (::renameat(AT_FDCWD, temp.c_str(), dir->fd.get(), name.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    throw_errno("cannot write " + rel, err);
  }
}

// Removes `rel` and the folders it leaves empty, up to the tracked folder.
void remove_one(const TreeWriter& writer, const std::string& data_rel, const std::string& rel) {
  std::string full = join_rel(data_rel, rel);
  writer.remove_all(full);
  for (std::string dir = parent_of(rel); !dir.empty(); dir = parent_of(dir))
    if (::rmdir(writer.resolve(join_rel(data_rel, dir)).c_str()) != 0) break;
}

void apply_entry(Repo& repo, const TreeWriter& writer, const EntryPlan& e, unsigned jobs, CheckoutResult& result) {
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
  parallel_for(e.write.size(), jobs, [&](std::size_t k) {
    check_interrupted();
    const auto& [rel, want] = e.write[k];
    std::string full = join_rel(e.data_rel, rel);
    write_one(dirs, cache, modes, full, want);
    progress().add(1);
    std::lock_guard<std::mutex> g(m);
    result.updated.push_back(full);
  });
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

// Reads the targets' work trees with the hashes the stat cache lacks.
std::vector<WorkTree> scan_targets(Repo& repo, StatCache& sc, const std::vector<CheckoutTarget>& targets, unsigned jobs) {
  std::vector<WorkTree> trees(targets.size());
  std::vector<WorkTree*> to_hash;
  {
    ProgressPhase phase("scan", 0, 0, "entries");  // scan_tree counts what it finds
    for (size_t i = 0; i < targets.size(); ++i) {
      trees[i] = scan_tree(repo.root(), targets[i].data_rel);
      fill_from_stat_cache(sc, trees[i]);
      to_hash.push_back(&trees[i]);
    }
  }
  hash_missing(sc, to_hash, jobs);
  return trees;
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
  for (const auto& e : plan.entries) to_write += e.write.size();
  {
    ProgressPhase phase("write", to_write);
    for (const auto& e : plan.entries) apply_entry(repo, writer, e, jobs, result);
  }
  sc.flush();
  std::sort(result.updated.begin(), result.updated.end());
  return result;
}

}  // namespace mlo
