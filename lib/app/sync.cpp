#include "app/sync.h"

#include <algorithm>
#include <functional>
#include <mutex>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "core/log.h"
#include "data/data.h"
#include "data/manifest.h"
#include "data/pointer.h"
#include "data/tree.h"
#include "data/tree_walk.h"
#include "data/workspace.h"
#include "pipeline/run.h"
#include "pipeline/runs.h"
#include "registry/gc_refs.h"
#include "remote/gc_lock.h"
#include "repo/repo.h"

namespace mlo::app {

using namespace mlo::remote;

namespace {

// Pointer files under the user's paths; a path that is neither tracked data,
// a pointer nor a folder is an error (a typo must not push nothing).
std::vector<std::string> find_pointers(Repo& repo, const std::vector<std::string>& paths) {
  if (paths.empty()) return find_pointer_files(repo);
  std::vector<std::string> under;
  for (auto& p : paths) {
    std::string rel = repo.relative(p);
    std::error_code ec;
    fs::path abs = repo.root() / rel;
    if (!fs::exists(abs, ec) && !fs::exists(repo.root() / pointer_path_for(rel), ec))
      throw InputError(p + ": no such file, folder or pointer", "check the path ('mlo data ls' lists tracked data)");
    under.push_back(rel);
  }
  return find_pointer_files(repo, under);
}

Pointer load_pointer(Repo& repo, const std::string& pointer_path) { return read_pointer(repo, pointer_path); }

unsigned jobs_for(const SyncRequest& request, const RemoteConfig& rc) {
  if (request.jobs > 0) return request.jobs;
  if (auto j = rc.option("jobs"); !j.empty() && std::atoi(j.c_str()) > 0) return static_cast<unsigned>(std::atoi(j.c_str()));
  return 8;
}

TransferOptions transfer_options(const SyncRequest& request, const RemoteConfig& rc, const std::string& verb) {
  TransferOptions o;
  o.jobs = jobs_for(request, rc);
  o.progress = request.progress;
  o.verb = verb;
  o.pack_size = std::max<std::uint64_t>(4096, config_u64(rc, "pack_size", o.pack_size));
  return o;
}

// One progress line over several transfers (a push or pull in batches):
// begun here, its totals grown by each transfer as it plans.
class OneProgressLine {
 public:
  explicit OneProgressLine(TransferOptions& opts) : opts_(opts) {
    if (!opts.progress) return;
    phase_.emplace(opts.verb, 0, 0, "objects");
    opts.shared_totals = &totals_;
  }
  ~OneProgressLine() { opts_.shared_totals = nullptr; }
  OneProgressLine(const OneProgressLine&) = delete;
  OneProgressLine& operator=(const OneProgressLine&) = delete;

 private:
  TransferOptions& opts_;
  TransferOptions::Totals totals_;
  std::optional<ProgressPhase> phase_;
};

void merge_stats(TransferStats& into, const TransferStats& s) {
  into.objects += s.objects;
  into.bytes += s.bytes;
  into.wire_bytes += s.wire_bytes;
  into.chunks += s.chunks;
  into.reused_chunks += s.reused_chunks;
  into.packs += s.packs;
  into.up_to_date += s.up_to_date;
  into.requests = s.requests;
  into.seconds += s.seconds;
  into.missing.insert(into.missing.end(), s.missing.begin(), s.missing.end());
}

std::string lock_text(Repo& repo) { return read_file_if_exists(repo.root() / "mlo.lock").value_or(""); }

// Every registered version's artifact; a folder's files too when its
// manifest is cached (the registry's gc roots, at no particular revision).
std::set<std::string> registered_artifact_objects(Repo& repo) {
  References refs;
  registry::add_registry_references(repo, "", refs);
  std::set<std::string> out;
  refs.objects.for_each([&](const std::string& hash) { out.insert(hash); });
  return out;
}

std::set<std::string> only_cached(Repo& repo, const std::set<std::string>& hashes) {
  std::set<std::string> out;
  for (const auto& h : hashes)
    if (repo.cache().has(h)) out.insert(h);
  return out;
}

}  // namespace

namespace {

// Calls `folder` with a pointer's own object (a file's, or a folder's root
// object) and each folder object below it, and `file` with each file the
// cache's folder objects list (a fetch asks for the folder objects it lacks
// and comes back for what they list). Walked, not listed: no entry for
// every file is built. `descend`, when given, is asked about each folder
// object (the root too) with the files it holds: false leaves it and all
// below it out. Returns false when a folder object is not in the cache (its
// files unnamed).
using NameFn = std::function<void(const std::string&)>;
using Descend = std::function<bool(const std::string&, std::uint64_t, const std::string&)>;
bool walk_pointer(Repo& repo, const std::string& pointer, const NameFn& folder, const NameFn& file,
                  const Descend& descend = {}) {
  Pointer p = load_pointer(repo, pointer);
  if (p.type == EntryType::dir && descend && !descend(p.sha256, p.files, "")) return true;
  folder(p.sha256);
  if (p.type != EntryType::dir) return true;
  if (!repo.cache().has(p.sha256)) return false;
  std::vector<std::string> missing;
  walk_manifest(
      repo.cache(), p.sha256, "manifest " + p.sha256 + " of " + pointer, [&](ManifestEntry&& e) { file(e.sha256); },
      folder, &missing, {}, descend);
  return missing.empty();
}

// Every object a pointer names, files and folders alike.
bool for_each_named(Repo& repo, const std::string& pointer, const NameFn& need, const Descend& descend = {}) {
  return walk_pointer(repo, pointer, need, need, descend);
}

}  // namespace

NeededObjects needed_objects(Repo& repo, const std::vector<std::string>& paths, bool per_pointer) {
  NeededObjects n;
  n.pointers = find_pointers(repo, paths);
  // One allocation for the hashes: growing by doubling would hold up to
  // twice the room, and 1.5x more while copying.
  std::size_t expected = 0;
  for (auto& pp : n.pointers) expected += 1 + load_pointer(repo, pp).files;
  // Capped: a pointer's count is input, and reserving only maps address
  // space (pages count once written), so past the cap it simply grows.
  n.objects.reserve(std::min<std::size_t>(expected + expected / 8, std::size_t{1} << 24));
  for (auto& pp : n.pointers) {
    std::set<std::string> none;
    auto& mine = per_pointer ? n.by_pointer[pp] : none;
    bool whole = for_each_named(repo, pp, [&](const std::string& h) {
      n.objects.insert(h);
      if (per_pointer) mine.insert(h);
    });
    n.whole = n.whole && whole;
  }
  return n;
}

namespace {

// Files pushed per batch unless the remote's `push_batch` option says
// otherwise: ~80 bytes each while their batch is pushed (hash, the list to
// send, its size, the remote's entry), so ~40 MiB at most.
constexpr std::uint64_t kPushBatch = std::uint64_t{1} << 19;

// What a push walks, less the files: those go out in batches as they are met.
struct PushWalk {
  HashSet folders;  // folder objects and pointers' own objects: sent after every file
  HashSet trees;    // with `on_remote`: the folder objects walked (roots included)
  std::uint64_t known_files = 0;  // with `on_remote`: files in the folders it left out
  bool whole = true;  // false: a folder object was missing from the cache, so some files are not named
};

// Walks what the pointers name: each file hash into `batch`, and `send` is
// called whenever it holds `batch_size` (and once at the end), so no more
// than one batch of file hashes is held. With `on_remote`, a folder it
// holds is left out with all below it.
PushWalk walk_for_push(Repo& repo, const std::vector<std::string>& pointers, const PushedTrees* on_remote,
                       std::uint64_t batch_size, const std::function<void(HashSet&)>& send) {
  PushWalk w;
  HashSet batch;
  std::uint64_t claimed = 0;
  for (auto& pp : pointers) claimed += load_pointer(repo, pp).files;
  batch.reserve(std::min({claimed, batch_size, kPushBatch}));  // a claim: no more than a default batch
  std::uint64_t named = 0;
  auto flush = [&] {
    if (named == 0) return;
    send(batch);
    batch.clear();
    named = 0;
  };
  auto descend = [&](const std::string& tree, std::uint64_t files, const std::string&) {
    if (on_remote->holds(tree)) {
      w.known_files += files;
      return false;
    }
    w.trees.insert(tree);
    return true;
  };
  for (const auto& pp : pointers) {
    bool whole = walk_pointer(
        repo, pp, [&](const std::string& h) { w.folders.insert(h); },
        [&](const std::string& h) {
          batch.insert(h);
          if (++named >= batch_size) flush();
        },
        on_remote ? Descend(descend) : nullptr);
    w.whole = w.whole && whole;
  }
  flush();
  return w;
}

// Tells a concurrent or later gc what this push counts on (remote/gc_lock.h):
// written before the upload, so it covers objects found already there. A
// folder is named by its manifest; `extra` are objects no pointer names
// (runs, registered artifacts).
void record_push(Repo& repo, Backend& backend, const std::vector<std::string>& pointers,
                 const std::set<std::string>& extra) {
  // A listing first: a remote that is not there (an unmounted volume) fails
  // here, before the record's put would create folders for it.
  running_gc(backend, unix_now());
  std::set<std::string> objects = extra, manifests;
  for (const auto& pp : pointers) {
    Pointer p = load_pointer(repo, pp);
    (p.type == EntryType::dir ? manifests : objects).insert(p.sha256);
  }
  write_push_record(backend, objects, manifests, unix_now());
}

// Sends a batch and counts it in `into`.
void push_batch(Backend& backend, Repo& repo, const fs::path& idx, const HashSet& hashes, const TransferOptions& opts,
                TransferStats& into) {
  merge_stats(into, push_objects(backend, repo.cache(), idx, hashes, opts));
}

// Every object of the pointers and `extra`, files in batches and folders
// last: on the remote, a folder object then means its files went first.
PushWalk push_named(Repo& repo, Backend& backend, const fs::path& idx, const std::vector<std::string>& pointers,
                    const PushedTrees* on_remote, const std::set<std::string>& extra, const TransferOptions& opts,
                    std::uint64_t batch, TransferStats& stats) {
  PushWalk w = walk_for_push(repo, pointers, on_remote, batch,
                             [&](HashSet& files) { push_batch(backend, repo, idx, files, opts, stats); });
  for (const auto& h : extra) w.folders.insert(h);
  push_batch(backend, repo, idx, w.folders, opts, stats);
  auto& missing = stats.missing;
  std::sort(missing.begin(), missing.end());
  missing.erase(std::unique(missing.begin(), missing.end()), missing.end());
  return w;
}

// After a gc ran beside the push: every object named, batch by batch,
// looked up again; whatever vanished from the remote is sent again.
void resend_vanished(Repo& repo, Backend& backend, const fs::path& idx, const std::vector<std::string>& pointers,
                     const std::set<std::string>& extra, const TransferOptions& opts, std::uint64_t batch,
                     SyncResult& r) {
  TransferStats again;
  auto resend = [&](const HashSet& named) {
    RemoteIndex after = RemoteIndex::load(backend, idx, opts.jobs, &named);
    HashSet vanished;
    named.for_each([&](const std::string& h) {
      if (!after.has_object(h) && repo.cache().has(h)) vanished.insert(h);
    });
    if (!vanished.empty()) push_batch(backend, repo, idx, vanished, opts, again);
  };
  PushWalk w = walk_for_push(repo, pointers, nullptr, batch, resend);
  for (const auto& h : extra) w.folders.insert(h);
  resend(w.folders);
  r.stats.objects += again.objects;
  r.stats.bytes += again.bytes;
  r.stats.wire_bytes += again.wire_bytes;
  r.stats.packs += again.packs;
  r.stats.up_to_date -= std::min<std::uint64_t>(r.stats.up_to_date, again.objects);
  if (again.requests) r.stats.requests = again.requests;
}

}  // namespace

SyncResult push(Repo& repo, const SyncRequest& request) {
  SyncResult r;
  auto backend = open_remote(repo, request.remote, &r.remote);
  fs::path idx = index_cache_dir(repo.cache_dir(), r.remote.url);
  // Folders an earlier push put on this remote in full are not walked again:
  // after a small change only the changed folders' files are named.
  PushedTrees pushed = PushedTrees::load(idx, committed_packs(*backend));
  r.pointers = find_pointers(repo, request.paths);
  auto opts = transfer_options(request, r.remote, "push");
  std::uint64_t batch = std::max<std::uint64_t>(1, config_u64(r.remote, "push_batch", kPushBatch));
  // Runs the remote does not list yet: their records, logs and outputs.
  std::map<std::string, std::string> new_runs;
  std::set<std::string> extra;  // objects no pointer names
  if (request.paths.empty() && request.runs) {
    auto known = remote_runs(*backend, idx, opts.jobs);
    std::set<std::string> run_objs = lock_objects(repo, lock_text(repo));
    for (const auto& [id, hash] : run_refs(repo)) {
      if (known.count(id) || !repo.cache().has(hash)) continue;
      new_runs.emplace(id, hash);
      run_objs.insert(hash);
      auto record = nlohmann::json::parse(repo.cache().read(hash), nullptr, false);
      auto more = run_objects(repo, record);
      run_objs.insert(more.begin(), more.end());
    }
    // An output gc removed is not the push's problem: the run cache re-runs.
    extra = only_cached(repo, run_objs);
  }
  // Registered artifacts: a teammate's clone fetches a version's bytes from
  // the remote (mlo models get, deploy) even when no pointer or run names them.
  if (request.paths.empty())
    for (const auto& h : only_cached(repo, registered_artifact_objects(repo))) extra.insert(h);
  record_push(repo, *backend, r.pointers, extra);
  PushWalk walked;
  {
    OneProgressLine line(opts);  // over the batches and the folders after them
    walked = push_named(repo, *backend, idx, r.pointers, &pushed, extra, opts, batch, r.stats);
  }
  r.known_files = walked.known_files;
  // A `mlo gc --remote` may be removing old packs this push counted on: wait
  // until none runs, then look again and send whatever vanished.
  wait_for_gc(*backend, std::max<std::int64_t>(300, repo.lock_timeout_ms() / 1000));
  // (Also this push's own new packs: a gc with --grace 0 may have taken them.)
  // The folders the record let this push skip count on its packs too.
  PackListing listing = committed_packs(*backend);
  if (!RemoteIndex::cache_intact(listing, idx) || !pushed.still_listed(listing)) {
    // What the record let this push skip may have gone too: name it all.
    PushedTrees::forget(idx);
    r.known_files = 0;
    resend_vanished(repo, *backend, idx, r.pointers, extra, opts, batch, r);
  } else if (walked.whole && r.stats.missing.empty()) {
    pushed.save(idx, listing, walked.trees);
  }
  // The list goes last: a teammate who sees a run can fetch all it names.
  if (!new_runs.empty()) {
    write_run_list(*backend, idx, new_runs);
    r.runs = new_runs.size();
  }
  return r;
}

namespace {
// Records of runs not known here (and their logs), plus what mlo.lock names
// (so 'mlo run' restores its stages from the run cache); then indexed.
// What the remote lacks is reported, not fatal: those runs stay unknown and
// those stages re-run.
void fetch_runs(Repo& repo, Backend& backend, const fs::path& idx, const TransferOptions& opts, SyncResult& r) {
  auto known_here = run_refs(repo);
  std::set<std::string> records;
  for (const auto& [id, hash] : remote_runs(backend, idx, opts.jobs))
    if (!known_here.count(id)) records.insert(hash);
  std::string lock = lock_text(repo);
  std::set<std::string> first = records;
  auto from_lock = lock_objects(repo, lock);
  first.insert(from_lock.begin(), from_lock.end());
  std::set<std::string> missing;
  auto pull = [&](const std::set<std::string>& hashes) {
    if (hashes.empty()) return;
    TransferStats s = fetch_objects(backend, repo.cache(), idx, hashes, opts);
    missing.insert(s.missing.begin(), s.missing.end());
    s.missing.clear();
    merge_stats(r.stats, s);
  };
  pull(first);
  // Round 2: logs of the records; from there on, what the folder outputs'
  // manifests list: a tree's folder objects one level deeper each round.
  std::set<std::string> next, asked = first;
  for (const auto& h : records) {
    if (!repo.cache().has(h)) continue;
    std::string log = run_log_hash(nlohmann::json::parse(repo.cache().read(h), nullptr, false));
    if (!log.empty()) next.insert(log);
  }
  for (std::size_t round = 0; round <= kMaxTreeDepth + 1; ++round) {
    for (const auto& h : lock_objects(repo, lock))
      if (!asked.count(h) && !missing.count(h)) next.insert(h);
    if (next.empty()) break;
    asked.insert(next.begin(), next.end());
    pull(next);
    next.clear();
  }
  std::set<std::string> imported = records;
  try {  // the lock's own records (runs restored from a cache may be older than the lists)
    auto doc = parse_lock(lock, "mlo.lock");
    for (auto it = doc["stages"].begin(); it != doc["stages"].end(); ++it)
      if (it.value().is_object() && is_sha256_hex(it.value().value("record", ""))) imported.insert(it.value()["record"].get<std::string>());
  } catch (const Error&) {
  }
  r.runs = static_cast<std::size_t>(import_run_records(repo, {imported.begin(), imported.end()}));
  r.runs_missing.assign(missing.begin(), missing.end());
}
}  // namespace

namespace {
// `pull --models`: artifacts first, then (with folder manifests now cached)
// the files they list. What the remote lacks is reported like run objects.
void fetch_models(Repo& repo, Backend& backend, const fs::path& idx, const TransferOptions& opts, SyncResult& r) {
  std::set<std::string> fetched;
  // Artifacts, then what their manifests list (a tree: one level a round).
  for (std::size_t round = 0; round <= kMaxTreeDepth + 2; ++round) {
    std::set<std::string> pending;
    for (const auto& h : registered_artifact_objects(repo))
      if (!fetched.count(h) && !repo.cache().has(h)) pending.insert(h);
    if (pending.empty()) break;
    TransferStats s = fetch_objects(backend, repo.cache(), idx, pending, opts);
    fetched.insert(pending.begin(), pending.end());
    r.model_objects += s.objects;
    r.models_missing.insert(r.models_missing.end(), s.missing.begin(), s.missing.end());
    s.missing.clear();
    merge_stats(r.stats, s);
  }
}
}  // namespace

namespace {

// Files fetched per batch unless the remote's `fetch_batch` option says
// otherwise: ~64 bytes each while their batch is fetched (hash, place on
// the remote, entry in the list to fetch), so ~32 MiB at most.
constexpr std::uint64_t kFetchBatch = std::uint64_t{1} << 19;

// The pointers' own objects, then round by round the folder objects those
// list, one level deeper each time: at most the tree's depth + 1 rounds,
// holding one hash a folder, none a file.
void fetch_folders(Repo& repo, Backend& backend, const fs::path& idx, const TransferOptions& opts, SyncResult& r) {
  HashSet asked;
  for (auto& pp : r.pointers) asked.insert(load_pointer(repo, pp).sha256);
  merge_stats(r.stats, fetch_objects(backend, repo.cache(), idx, asked, opts));
  auto no_file = [](const std::string&) {};
  for (std::size_t round = 0; round <= kMaxTreeDepth + 1; ++round) {
    HashSet more;
    for (const auto& pp : r.pointers)
      walk_pointer(
          repo, pp,
          [&](const std::string& h) {
            if (!asked.contains(h)) more.insert(h);
          },
          no_file);
    if (more.empty()) break;
    merge_stats(r.stats, fetch_objects(backend, repo.cache(), idx, more, opts));
    asked.merge(std::move(more));
  }
}

// Then the files, in batches of `batch` in the order the walk meets them,
// so a pull of ten million files holds what a pull of one batch holds. Each
// batch reads the pack indexes cached by the first (one listing of packs/,
// nothing downloaded again). A file met again in a later batch is found in
// the cache (counted up to date); one the remote lacks is reported once.
void fetch_files(Repo& repo, Backend& backend, const fs::path& idx, const TransferOptions& opts, std::uint64_t batch,
                 SyncResult& r) {
  std::uint64_t claimed = 0;
  for (auto& pp : r.pointers) claimed += load_pointer(repo, pp).files;
  repo.cache().expect_verified(claimed);  // once for the pull (capped), not again each batch
  HashSet files;
  files.reserve(std::min({claimed, batch, kFetchBatch}));  // a claim: no more than a default batch
  std::uint64_t named = 0;
  auto fetch_batch = [&] {
    if (named == 0) return;
    merge_stats(r.stats, fetch_objects(backend, repo.cache(), idx, files, opts));
    files.clear();
    named = 0;
  };
  auto no_folder = [](const std::string&) {};
  for (const auto& pp : r.pointers)
    walk_pointer(repo, pp, no_folder, [&](const std::string& h) {
      files.insert(h);
      if (++named >= batch) fetch_batch();
    });
  fetch_batch();
  auto& missing = r.stats.missing;
  std::sort(missing.begin(), missing.end());
  missing.erase(std::unique(missing.begin(), missing.end()), missing.end());
}

}  // namespace

SyncResult fetch(Repo& repo, const SyncRequest& request) {
  SyncResult r;
  auto backend = open_remote(repo, request.remote, &r.remote);
  auto opts = transfer_options(request, r.remote, "fetch");
  fs::path idx = index_cache_dir(repo.cache_dir(), r.remote.url);
  r.pointers = find_pointers(repo, request.paths);
  fetch_folders(repo, *backend, idx, opts, r);
  {
    OneProgressLine line(opts);  // over the files' batches
    fetch_files(repo, *backend, idx, opts, std::max<std::uint64_t>(1, config_u64(r.remote, "fetch_batch", kFetchBatch)),
                r);
  }
  if (request.paths.empty() && request.runs) fetch_runs(repo, *backend, idx, opts, r);
  if (request.models) fetch_models(repo, *backend, idx, opts, r);
  return r;
}

namespace {

// Downloads the folder manifests the cache lacks, level by level (a tree's
// folder objects name the next level's); one the remote lacks too is
// reported later as unknown. Returns how many were fetched.
std::size_t fetch_missing_manifests(Repo& repo, Backend& backend, const fs::path& idx, const std::vector<Pointer>& loaded,
                                    const TransferOptions& opts) {
  std::size_t fetched = 0;
  std::set<std::string> asked;
  for (std::size_t round = 0; round <= kMaxTreeDepth + 1; ++round) {
    std::set<std::string> manifests;
    for (const Pointer& p : loaded) {
      if (p.type != EntryType::dir) continue;
      std::vector<std::string> missing;
      walk_manifest(repo.cache(), p.sha256, "manifest " + p.sha256 + " of " + p.path, [](ManifestEntry&&) {},
                    [](const std::string&) {}, &missing);
      for (auto& h : missing)
        if (asked.insert(h).second) manifests.insert(h);
    }
    if (manifests.empty()) break;
    fetched += fetch_objects(backend, repo.cache(), idx, manifests, opts).objects;
  }
  return fetched;
}

// One object a status needs: its hash, the data path when it is a file
// (nullptr for a folder object), and whether the remote is known to hold
// it (below a folder this clone pushed in full).
using VisitObject = std::function<void(const std::string& hash, const std::string* file, bool remote_known)>;

// Visits every object a pointer needs, in the same order on every call;
// returns false when a folder manifest is on neither side. Below a folder
// this clone pushed in full the remote is known to hold every object.
bool visit_pointer_objects(Repo& repo, const Pointer& p, const std::string& path, const PushedTrees& pushed,
                           const VisitObject& visit) {
  if (p.type != EntryType::dir) {
    visit(p.sha256, &path, false);
    return true;
  }
  const bool on_remote = pushed.holds(p.sha256);
  std::vector<std::string> missing;
  // A folder pushed in full, walked on its own (no further skipping, so
  // this nests one level only).
  auto walk_pushed = [&](const std::string& tree, const std::string& prefix) {
    walk_manifest(
        repo.cache(), tree, "manifest of " + prefix + " (object " + tree + ")",
        [&](ManifestEntry&& f) {
          std::string file = prefix + "/" + f.path;
          visit(f.sha256, &file, true);
        },
        [&](const std::string& t) { visit(t, nullptr, true); }, &missing);
  };
  visit(p.sha256, nullptr, on_remote);
  if (on_remote) {
    walk_pushed(p.sha256, path);
  } else {
    walk_manifest(
        repo.cache(), p.sha256, "manifest of " + path + " (object " + p.sha256 + ")",
        [&](ManifestEntry&& f) {
          std::string file = path + "/" + f.path;
          visit(f.sha256, &file, false);
        },
        [&](const std::string& t) { visit(t, nullptr, false); }, &missing, {},
        [&](const std::string& t, std::uint64_t, const std::string& sub) {
          if (!pushed.holds(t)) return true;
          visit(t, nullptr, true);
          walk_pushed(t, path + "/" + sub);
          return false;
        });
  }
  return missing.empty();
}

// Presence on the remote, looked up in batches of the walk: each batch's
// hashes load the remote's index for those alone (RemoteIndex::load with
// only_objects; the pack indexes are cached after the first), so a status
// of ten million files holds one batch (~150 bytes a hash measured at 1M
// files: the asked list, the set, the places found), not a slot for every
// object on the remote. The files an entry's remote lacks are kept by their place among
// the entry's looked-up files (the first kMaxListedLacks) and named by a
// second walk once all are known (name_remote_lacks).
class RemoteLookups {
 public:
  static constexpr std::uint32_t kNotAFile = ~std::uint32_t{0};
  RemoteLookups(Backend& backend, const fs::path& idx, unsigned jobs, std::uint64_t batch)
      : backend_(backend), idx_(idx), jobs_(jobs), batch_(batch) {}

  void ask(const std::string& hash, std::size_t entry, std::uint32_t file_at, std::vector<RemoteStatusEntry>& entries) {
    Pending p{{}, static_cast<std::uint32_t>(entry), file_at};
    if (!sha256_from_hex(hash, p.hash)) return lacks(p, entries);  // not a hash: no remote holds it
    pending_.push_back(p);
    wanted_.insert(hash);
    if (pending_.size() >= batch_) resolve(entries);
  }

  void resolve(std::vector<RemoteStatusEntry>& entries) {
    if (pending_.empty()) return;
    const RemoteIndex index = RemoteIndex::load(backend_, idx_, jobs_, &wanted_);
    for (const auto& p : pending_)
      if (!index.has_object(sha256_to_hex(p.hash))) lacks(p, entries);
    pending_.clear();
    wanted_.clear();
  }

  // The places of the files each entry's remote lacks, in walk order.
  std::map<std::size_t, std::vector<std::uint32_t>>& lacking_files() { return lacking_files_; }

 private:
  struct Pending {
    Sha256Bytes hash;
    std::uint32_t entry;
    std::uint32_t file_at;  // the file's place among its entry's looked-up files, or kNotAFile
  };
  void lacks(const Pending& p, std::vector<RemoteStatusEntry>& entries) {
    ++entries[p.entry].missing_remote;
    auto& at = lacking_files_[p.entry];
    if (p.file_at != kNotAFile && at.size() < kMaxListedLacks) at.push_back(p.file_at);
  }
  Backend& backend_;
  const fs::path& idx_;
  unsigned jobs_;
  std::uint64_t batch_;
  std::vector<Pending> pending_;
  HashSet wanted_;  // the pending hashes, as the index load takes them
  std::map<std::size_t, std::vector<std::uint32_t>> lacking_files_;
};

// One pointer's entry: cache presence now, remote presence asked of
// `lookups` (counted when the batch is resolved). When the cache is known
// to hold a folder pushed in full, its objects are only counted.
void pointer_remote_status(Repo& repo, const std::string& pointer, const Pointer& p, const PushedTrees& pushed,
                           const std::set<std::string>& cache_holds, RemoteLookups& lookups,
                           std::vector<RemoteStatusEntry>& entries) {
  const std::size_t at = entries.size();
  entries.emplace_back();
  entries[at].pointer = pointer;
  entries[at].path = *data_path_for(pointer);
  const bool known_both = p.type == EntryType::dir && pushed.holds(p.sha256) && cache_holds.count(p.sha256);
  std::uint32_t files_asked = 0;  // kNotAFile from there on: counted, never named
  const bool known = visit_pointer_objects(
      repo, p, entries[at].path, pushed, [&](const std::string& hash, const std::string* file, bool remote_known) {
        RemoteStatusEntry& e = entries[at];
        ++e.objects;
        if (known_both) return;
        if (!repo.cache().has(hash)) {
          ++e.missing_cache;
          if (file && e.cache_lacks.size() < kMaxListedLacks) e.cache_lacks.push_back(*file);
        }
        if (remote_known) return;
        const std::uint32_t file_at = file ? files_asked : RemoteLookups::kNotAFile;
        if (file && files_asked != RemoteLookups::kNotAFile) ++files_asked;
        lookups.ask(hash, at, file_at, entries);
      });
  entries[at].manifest_known = known;
}

// Names the files whose places lookups kept: the same walk again, counting
// the looked-up files as the first walk did.
void name_remote_lacks(Repo& repo, const std::vector<Pointer>& loaded, const PushedTrees& pushed,
                       RemoteLookups& lookups, std::vector<RemoteStatusEntry>& entries) {
  for (auto& [at, places] : lookups.lacking_files()) {
    if (at >= loaded.size() || places.empty()) continue;  // stage outputs name no files
    std::sort(places.begin(), places.end());  // batches resolve in order; a non-hash was counted at once
    RemoteStatusEntry& e = entries[at];
    std::uint32_t file_at = 0;
    std::size_t next = 0;
    visit_pointer_objects(repo, loaded[at], e.path, pushed,
                          [&](const std::string&, const std::string* file, bool remote_known) {
                            if (!file || remote_known || next >= places.size()) return;
                            if (file_at++ == places[next]) {
                              e.remote_lacks.push_back(*file);
                              ++next;
                            }
                          });
  }
}

}  // namespace

RemoteStatus remote_status(Repo& repo, const SyncRequest& request) {
  RemoteStatus st;
  auto backend = open_remote(repo, request.remote, &st.remote);
  fs::path idx = index_cache_dir(repo.cache_dir(), st.remote.url);
  std::vector<std::string> pointers = find_pointers(repo, request.paths);
  std::vector<Pointer> loaded;
  for (auto& pp : pointers) loaded.push_back(load_pointer(repo, pp));
  TransferOptions opts = transfer_options(request, st.remote, "fetch");
  opts.progress = false;
  st.manifests_fetched = fetch_missing_manifests(repo, *backend, idx, loaded, opts);
  // Stage outputs are pushed and pulled like tracked data, so a clone that
  // lacks one cannot check it out: they count here too (whole-repo status).
  std::vector<LockOutputObjects> outputs;
  if (request.paths.empty()) outputs = lock_output_objects(repo, lock_text(repo));
  // With a record of folders pushed in full, only the objects outside them
  // are looked up in the remote's index.
  PushedTrees pushed = PushedTrees::load(idx, committed_packs(*backend));
  RemoteLookups lookups(*backend, idx, jobs_for(request, st.remote),
                        std::max<std::uint64_t>(1, config_u64(st.remote, "fetch_batch", kFetchBatch)));
  std::vector<std::string> pushed_roots;
  for (const Pointer& p : loaded)
    if (p.type == EntryType::dir && pushed.holds(p.sha256)) pushed_roots.push_back(p.sha256);
  const std::set<std::string> cache_holds = cache_known_to_hold(repo, pushed_roots);
  for (std::size_t i = 0; i < pointers.size(); ++i)
    pointer_remote_status(repo, pointers[i], loaded[i], pushed, cache_holds, lookups, st.entries);
  for (const auto& output : outputs) {
    const std::size_t at = st.entries.size();
    RemoteStatusEntry& e = st.entries.emplace_back();  // asking resolves into entries, never adds one
    e.pointer = "mlo.lock";
    e.path = output.path;
    e.stage = output.stage;
    for (const auto& h : output.objects) {
      ++e.objects;
      e.missing_cache += !repo.cache().has(h);
      lookups.ask(h, at, RemoteLookups::kNotAFile, st.entries);
    }
  }
  lookups.resolve(st.entries);
  name_remote_lacks(repo, loaded, pushed, lookups, st.entries);
  return st;
}

}  // namespace mlo::app
