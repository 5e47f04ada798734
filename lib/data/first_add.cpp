#include "data/first_add.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <unordered_map>

#include "core/error.h"
#include "core/hash.h"
#include "core/interrupt.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "data/helpers.h"
#include "data/tree.h"

namespace mlo {

namespace {

std::string repo_rel(const std::string& data_rel, std::string_view rel) {
  std::string out;
  out.reserve(data_rel.size() + 1 + rel.size());
  return out.append(data_rel).append("/").append(rel);
}

// Files read whose stat cache row was not written (modified within the
// timestamp granularity of their read: racily clean, stat_cache.h): no row
// stands for them, so they are kept, with their hashes, until the tree is
// built. Few: only files written just before the add.
struct Unrecorded {
  std::vector<WorkFile> files;
  PathPool paths;  // the scan's pool forgets each group's paths
};

// Stores one stat group of the scan: hashes the stat cache knows are
// trusted where the object is in the cache; every other file is read into
// it and recorded (so is a file whose row has another executable bit: the
// tree is built from the rows, which must match the scan's digests).
class GroupStore {
 public:
  GroupStore(Cache& cache, StatCache& sc, const std::string& data_rel, const std::filesystem::path& abs,
             const std::vector<LinkMode>& modes, unsigned jobs, const NameCheck& check_name)
      : cache_(cache), sc_(sc), data_rel_(data_rel), abs_(abs), modes_(modes), jobs_(jobs), check_name_(check_name) {}

  void operator()(std::span<WorkFile> files) {
    std::sort(files.begin(), files.end(), by_rel);  // their digests are taken: the order is free
    for (const auto& f : files) check_name_(repo_rel(data_rel_, f.rel()));
    sc_.lookup_sorted(
        data_rel_, files.size(), [&](std::size_t i) { return files[i].rel(); },
        [&](std::size_t i) { return files[i].key; },
        [&](std::size_t i, StatCacheHit&& hit) {
          // A changed executable bit leaves the hash unknown: the file is
          // read again below and its row written with the bit it has now.
          if (hit.executable == files[i].executable) files[i].set_sha256(hit.sha256);
        });
    std::vector<char> recorded(files.size(), 1);
    parallel_for(files.size(), jobs_, [&](std::size_t i) {
      check_interrupted();
      WorkFile& f = files[i];
      progress().add(1, f.key.size);
      if (f.hash_known && cache_.has(f.sha256())) return;
      const std::int64_t started = clock_now_ns();
      const std::string rel = repo_rel(data_rel_, f.rel());
      const std::string hex = cache_.add_file(abs_ / f.rel(), modes_, /*durable=*/false);
      f.set_sha256(hex);
      recorded[i] = sc_.record(rel, f.key, hex, f.executable, started);
      ++hashed;
    });
    sc_.flush();
    for (std::size_t i = 0; i < files.size(); ++i)
      if (!recorded[i]) {
        WorkFile kept = files[i];
        kept.set_rel(unrecorded.paths.keep(files[i].rel()));
        unrecorded.files.push_back(kept);
      }
  }

  Unrecorded unrecorded;
  std::atomic<std::uint64_t> hashed{0};

 private:
  Cache& cache_;
  StatCache& sc_;
  const std::string& data_rel_;
  const std::filesystem::path& abs_;
  const std::vector<LinkMode>& modes_;
  unsigned jobs_;
  const NameCheck& check_name_;
};

// Builds the tree of a scan whose every folder was dropped from the stat
// cache's rows merged with the unrecorded files, checking each folder's
// files against its digest. False when they differ.
bool build_from_rows(Cache& cache, StatCache& sc, Unrecorded& unrecorded, StreamedAdd& out) {
  const WorkTree& t = out.tree;
  std::unordered_map<std::string_view, std::unique_ptr<Sha256>> digests;
  for (const auto& d : t.folders) digests.emplace(d.prefix, std::make_unique<Sha256>());
  TreeBuilder builder(store_missing(cache, out.written),
                      [&](std::string_view prefix, const std::string& hash) { out.folders.emplace_back(prefix, hash); });
  std::string chunk;
  // Counts the file in its folder's digest and adds it to the tree; false
  // when no scanned folder holds it (a row of a folder gone).
  auto take = [&](std::string_view rel, const StatKey& key, bool executable, std::string_view hex) {
    auto d = rel.empty() ? digests.end() : digests.find(parent_view(rel));
    if (d == digests.end()) return false;
    WorkFile f;
    f.set_rel(rel);
    f.key = key;
    f.executable = executable;
    chunk.clear();
    append_file_stat(chunk, f);
    d->second->update(chunk);
    builder.add(TreeFileRef{rel, hex, key.size, executable});
    return true;
  };
  auto& kept = unrecorded.files;
  std::sort(kept.begin(), kept.end(), by_rel);
  std::size_t k = 0;
  auto take_kept = [&] {
    const WorkFile& f = kept[k++];
    take(f.rel(), f.key, f.executable, f.sha256());
  };
  std::vector<std::string> stale;  // rows of files in folders no longer there
  bool damaged = false;
  sc.for_each_row(t.data_rel, [&](std::string_view rest, const StatKey& key, std::string_view sha, bool exec) {
    while (k < kept.size() && kept[k].rel() < rest) take_kept();
    if (k < kept.size() && kept[k].rel() == rest) return;  // an older row of a file read just now
    if (!is_sha256_hex(sha)) damaged = true;
    else if (!take(rest, key, exec, sha)) stale.push_back(rest.empty() ? t.data_rel : repo_rel(t.data_rel, rest));
  });
  while (k < kept.size()) take_kept();
  if (damaged) return false;
  out.root = builder.finish();
  out.files = builder.files();
  out.bytes = builder.size();
  for (const auto& d : t.folders) {
    Sha256Bytes now;
    digests[d.prefix]->digest(now.data());
    if (now != d.digest) return false;
  }
  for (const auto& path : stale) sc.drop_row(path);
  return true;
}

}  // namespace

std::optional<StreamedAdd> add_streaming(Cache& cache, StatCache& sc, const std::filesystem::path& root,
                                         const std::string& data_rel, const std::vector<LinkMode>& modes,
                                         unsigned jobs, const NameCheck& check_name, std::uint64_t& files_read) {
  const std::filesystem::path abs = root / data_rel;
  GroupStore store(cache, sc, data_rel, abs, modes, jobs, check_name);
  const ScanGroupSink consume = [&store](std::span<WorkFile> files) { store(files); };
  const FolderDigests none;  // digests taken, none recorded: the sink drops every group
  StreamedAdd out;
  {
    // Files stored or found in the cache as the scan meets them: how many
    // there are is known only at its end, so the line counts without a total.
    ProgressPhase phase("hash", 0, 0, "files");
    out.tree = scan_tree(root, data_rel, nullptr, &none, &consume);
  }
  files_read += store.hashed;
  if (!out.tree.exists || out.tree.type != EntryType::dir) return std::nullopt;
  sc.flush();
  if (!build_from_rows(cache, sc, store.unrecorded, out)) return std::nullopt;
  return out;
}

}  // namespace mlo
