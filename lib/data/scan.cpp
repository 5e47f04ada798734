#include "data/scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <set>
#include <utility>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/interrupt.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "data/helpers.h"
#include "data/tree.h"
#include "store/cache.h"

namespace mlo {

namespace {

using DevIno = std::pair<dev_t, ino_t>;

[[noreturn]] void bad_entry(const std::string& path, int err) {
  if (err == ELOOP)
    throw InputError(path + ": symbolic link loop", "remove or fix the link; mlo stores file content, not links");
  if (err == ENOENT)
    throw InputError(path + ": symbolic link to a missing target", "remove or fix the link");
  throw_errno("cannot read " + path, err);
}

struct DirJob {
  std::string prefix;  // relative to the tracked folder
  std::filesystem::path abs;
  std::string shown;
  std::vector<DevIno> ancestors;  // this folder and the folders above it
  StatKey key;                    // its own stat (for remembered listings)
};

// Folders modified this close to the scan may change again unseen within the
// same timestamp tick: their listings are not remembered.
constexpr std::int64_t kRacyDirWindowNs = 20'000'000;

// The digest of one folder's own files, sorted by name: streamed through a
// small buffer, no copy of the listing.
template <class It>
Sha256Bytes folder_digest(It first, It last) {
  Sha256 digest;
  std::string chunk;
  for (It f = first; f != last; ++f) {
    append_file_stat(chunk, *f);
    if (chunk.size() > 60 * 1024) {
      digest.update(chunk);
      chunk.clear();
    }
  }
  digest.update(chunk);
  Sha256Bytes out;
  digest.digest(out.data());
  return out;
}


// Sums up a folder whose files were just listed (the tail of `out` from
// `start`, their paths the tail of `paths` from `paths_start`). With
// `unchanged` (status), sorts them, takes their digest, and drops them (and
// their paths) when the digest is as recorded: so a scan holds at most one
// folder's files beyond those it keeps. Without, no digest is taken
// (checkout and diff need none, and are spared the sort).
void summarize_folder(const DirJob& dir, std::size_t start, PathPool::Mark paths_start, const FolderDigests* unchanged,
                      PathPool& paths, std::vector<WorkFile>& out, std::vector<FolderDigest>& folders) {
  auto b = out.begin() + static_cast<std::ptrdiff_t>(start);
  FolderDigest d;
  d.prefix = dir.prefix;
  d.files = out.size() - start;
  for (auto f = b; f != out.end(); ++f) {
    d.newest_mtime_ns = std::max(d.newest_mtime_ns, f->key.mtime_ns);
    d.bytes += f->key.size;
  }
  if (unchanged) {
    std::sort(b, out.end(), by_rel);
    d.digest = folder_digest(b, out.end());
    auto known = unchanged->find(d.prefix);
    d.dropped = known != unchanged->end() && known->second == d.digest;
    if (d.dropped) {
      out.erase(b, out.end());
      paths.rewind(paths_start);  // the paths of those files, kept last
    }
  }
  folders.push_back(std::move(d));
}

// Only what the walk needs of each stat (a full struct stat per file is
// 144 bytes: 14 MB of page faults for 10^5 files).
struct EntryStat {
  mode_t mode;
  int err;
  dev_t dev;
  StatKey key;
};

// Puts one stat'ed name of a folder into files (`out`) or subfolders (`next`).
void list_entry(const DirJob& dir, const char* n, const EntryStat& st, PathPool& paths, std::vector<WorkFile>& out,
                std::vector<DirJob>& next) {
  auto entry_shown = [&] { return dir.shown + "/" + n; };
  if (st.err) bad_entry(entry_shown(), st.err);
  if (S_ISREG(st.mode)) {
    WorkFile f;
    f.set_rel(paths.keep_joined(dir.prefix, n));
    f.key = st.key;
    f.executable = (st.mode & S_IXUSR) != 0;
    out.push_back(f);
  } else if (S_ISDIR(st.mode)) {
    std::string rel = dir.prefix.empty() ? std::string(n) : dir.prefix + "/" + n;
    DevIno id{st.dev, static_cast<ino_t>(st.key.ino)};
    if (std::find(dir.ancestors.begin(), dir.ancestors.end(), id) != dir.ancestors.end())
      throw InputError(entry_shown() + ": symbolic link loop (leads back to a folder that contains it)",
                       "remove or fix the link; mlo stores file content, not links");
    DirJob sub{std::move(rel), dir.abs / n, entry_shown(), dir.ancestors, st.key};
    sub.ancestors.push_back(id);
    next.push_back(std::move(sub));
  } else {
    throw InputError(entry_shown() + ": not a regular file or folder (a device, socket or pipe)",
                     "move it out of the tracked folder");
  }
}

// Stats the names of folders [first, last) of a level in parallel and sorts
// them into files (`out`), subfolders (`next`) and stale temps.
// Each folder is summed up (summarize_folder) once its files are listed.
void stat_group(const std::vector<DirJob>& level, const std::vector<std::string>& names,
                const std::vector<UniqueFd>& fds, std::size_t first, std::size_t last, const FolderDigests* unchanged,
                const ScanGroupSink* consume, PathPool& paths, std::vector<WorkFile>& out,
                std::vector<FolderDigest>& folders, std::vector<std::string>& stale, std::vector<DirJob>& next) {
  std::vector<std::pair<std::size_t, std::size_t>> entries;  // (folder, offset of the name in names[folder])
  for (std::size_t i = first; i < last; ++i)
    for (std::size_t k = 0; k < names[i].size(); k += std::strlen(names[i].data() + k) + 1) {
      const char* n = names[i].data() + k;
      // A temp file a killed mlo left behind is not data.
      if (n[0] == '.' && is_stale_temp_name(n)) {
        stale.push_back(level[i].prefix.empty() ? std::string(n) : level[i].prefix + "/" + n);
        continue;
      }
      entries.push_back({i, k});
    }
  std::vector<EntryStat> stats(entries.size());
  const std::size_t chunk = 512;
  const std::size_t chunks = (entries.size() + chunk - 1) / chunk;
  parallel_for(chunks, entries.size() > 2000 ? default_jobs() : 1, [&](std::size_t c) {
    struct stat st;
    for (std::size_t j = c * chunk; j < std::min(entries.size(), (c + 1) * chunk); ++j) {
      auto [i, k] = entries[j];
      const char* n = names[i].data() + k;
      int rc = fds[i] ? ::fstatat(fds[i].get(), n, &st, 0) : ::stat((level[i].abs / n).c_str(), &st);
      stats[j] = rc == 0 ? EntryStat{st.st_mode, 0, st.st_dev, StatKey::of(st)} : EntryStat{0, errno, 0, {}};
    }
  });
  const std::size_t group_start = out.size(), group_folders = folders.size();
  const PathPool::Mark group_paths = paths.mark();
  std::size_t j = 0;
  for (std::size_t i = first; i < last; ++i) {
    const std::size_t start = out.size();
    const PathPool::Mark paths_start = paths.mark();
    for (; j < entries.size() && entries[j].first == i; ++j)
      list_entry(level[i], names[i].data() + entries[j].second, stats[j], paths, out, next);
    summarize_folder(level[i], start, paths_start, unchanged, paths, out, folders);
  }
  if (!consume) return;
  if (out.size() > group_start) (*consume)(std::span<WorkFile>(out.data() + group_start, out.size() - group_start));
  out.erase(out.begin() + static_cast<std::ptrdiff_t>(group_start), out.end());
  paths.rewind(group_paths);
  for (std::size_t k = group_folders; k < folders.size(); ++k) folders[k].dropped = true;
}

// Walks level by level: the folders of a level are read in parallel, then
// all their entries are stat'ed in parallel (like git's preloaded index), so
// both a deep tree and one huge flat folder use every core.
void walk(const DirJob& top, PathPool& paths, std::vector<WorkFile>& out, std::vector<std::string>& stale,
          DirListings* listings, const FolderDigests* unchanged, const ScanGroupSink* consume,
          std::vector<FolderDigest>& folders) {
  std::vector<DirJob> level{top};
  const unsigned jobs = default_jobs();
  const std::int64_t started = clock_now_ns();
  while (!level.empty()) {
    check_interrupted();
    // Each folder's names in one buffer, each ended by '\0' (as remembered
    // listings keep them): a third of the memory of a string a name.
    std::vector<std::string> names(level.size());
    std::vector<std::size_t> counts(level.size(), 0);
    std::vector<UniqueFd> fds(level.size());
    std::vector<char> listed(level.size(), 0);  // read with readdir in this scan
    std::vector<DirJob> next;
    // A level's names are read (or taken from the remembered listings) a
    // chunk of folders at a time, stat'ed in groups of about kScanGroupNames
    // names, and released (or handed to listings) once their files are
    // listed. A scan that drops unchanged folders reads at most
    // kScanGroupFolders folders, or about kScanGroupNames remembered names,
    // at a time, so what it holds stays bounded however many files a level
    // has. One that keeps every file reads the whole level at once:
    // its names (~13 bytes each) cost less than growing `out` in steps
    // (~1.5x its 96 bytes a file while it moves).
    const bool may_drop = (unchanged && !unchanged->empty()) || consume;
    const std::size_t chunk_folders = may_drop ? kScanGroupFolders : level.size();
    for (std::size_t chunk = 0, chunk_end = 0; chunk < level.size(); chunk = chunk_end) {
      chunk_end = std::min(level.size(), chunk + chunk_folders);
      std::vector<char> known(chunk_end - chunk, 0);
      std::size_t known_names = 0;
      if (listings && listings->find)
        for (std::size_t i = chunk; i < chunk_end; ++i) {  // one query a folder, in this thread
          auto remembered = listings->find(level[i].prefix);
          if (remembered && remembered->key == level[i].key) {
            names[i] = std::move(remembered->names);
            counts[i] = static_cast<std::size_t>(std::count(names[i].begin(), names[i].end(), '\0'));
            known[i - chunk] = 1;
            known_names += counts[i];
          }
          // Remembered names fill a chunk as a stat group would (most of an
          // unchanged dataset's folders come from there).
          if (may_drop && known_names >= kScanGroupNames) chunk_end = i + 1;
        }
      parallel_for(chunk_end - chunk, jobs, [&](std::size_t c) {
        if (known[c]) return;
        const std::size_t i = chunk + c;
        const DirJob& dir = level[i];
        DIR* d = ::opendir(dir.abs.c_str());
        if (!d) throw_errno("cannot read folder " + dir.shown, errno);
        while (dirent* e = ::readdir(d)) {
          const char* n = e->d_name;
          if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
          names[i].append(n, std::strlen(n) + 1);
          ++counts[i];
        }
        ::closedir(d);
        listed[i] = 1;
      });
      std::size_t chunk_names = 0;
      for (std::size_t i = chunk; i < chunk_end; ++i) chunk_names += counts[i];
      if (!consume) progress().add(chunk_names);  // files and folders seen (a consumer counts its own)
      if (!may_drop) out.reserve(out.size() + chunk_names);  // else most are dropped
      for (std::size_t first = chunk; first < chunk_end;) {
        std::size_t last = first, group_names = 0;
        while (last < chunk_end && (last == first || (group_names + counts[last] <= kScanGroupNames &&
                                                      last - first < kScanGroupFolders)))
          group_names += counts[last++];
        // Open folders let each file be stat'ed by its name alone (no walk
        // of the whole path); a group holds at most kScanGroupFolders open.
        for (std::size_t i = first; i < last; ++i)
          fds[i].reset(::open(level[i].abs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        stat_group(level, names, fds, first, last, unchanged, consume, paths, out, folders, stale, next);
        for (std::size_t i = first; i < last; ++i) {
          if (listings && listed[i] && level[i].key.mtime_ns + kRacyDirWindowNs < started)
            listings->read.push_back({level[i].prefix, DirListing{level[i].key, std::move(names[i])}});
          std::string().swap(names[i]);
          fds[i].reset();
        }
        first = last;
      }
    }
    level = std::move(next);
  }
}

}  // namespace

bool by_rel(const WorkFile& a, const WorkFile& b) { return a.rel() < b.rel(); }

void append_file_stat(std::string& chunk, const WorkFile& f) {
  chunk += f.rel();
  chunk += '\0';
  std::uint64_t fields[4] = {f.key.ino, static_cast<std::uint64_t>(f.key.mtime_ns), f.key.size,
                             f.executable ? 1u : 0u};
  chunk.append(reinterpret_cast<const char*>(fields), sizeof fields);
}

std::int64_t clock_now_ns() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string_view PathPool::keep_joined(std::string_view prefix, std::string_view name) {
  const std::size_t size = prefix.empty() ? name.size() : prefix.size() + 1 + name.size();
  if (size == 0) return {};
  if (blocks_.empty() || blocks_.back().capacity - used_ < size) {
    constexpr std::size_t kBlock = 64 * 1024;  // a path is at most PATH_MAX (4 KiB), a name 255 bytes
    const std::size_t capacity = std::max(kBlock, size);
    blocks_.push_back({std::make_unique_for_overwrite<char[]>(capacity), capacity});
    used_ = 0;
  }
  char* at = blocks_.back().bytes.get() + used_;
  char* end = at;
  if (!prefix.empty()) {
    end = std::copy(prefix.begin(), prefix.end(), end);
    *end++ = '/';
  }
  std::copy(name.begin(), name.end(), end);
  used_ += size;
  return {at, size};
}

void PathPool::rewind(Mark m) {
  if (m.blocks < blocks_.size()) blocks_.resize(m.blocks);
  used_ = m.used;
}

std::string WorkTree::repo_rel_of(const WorkFile& f) const {
  if (f.rel().empty()) return data_rel;
  std::string out;
  out.reserve(data_rel.size() + 1 + f.rel().size());
  out.append(data_rel).append("/").append(f.rel());
  return out;
}

std::uint64_t WorkTree::total_size() const {
  std::uint64_t n = 0;
  for (const auto& f : files) n += f.key.size;
  for (const auto& s : subtrees) n += s.bytes;
  return n;
}

std::uint64_t WorkTree::file_count() const {
  std::uint64_t n = files.size();
  for (const auto& s : subtrees) n += s.files;
  return n;
}

Manifest WorkTree::manifest() const {
  if (!subtrees.empty()) throw std::logic_error("WorkTree::manifest() of a scan built from known subfolders");
  Manifest m;
  m.entries.reserve(files.size());
  for (const auto& f : files) m.entries.push_back({std::string(f.rel()), f.sha256(), f.key.size, f.executable});
  return m;
}

std::string WorkTree::build(const TreeSink& sink, const FolderHashSink& folders) const {
  // Files and known subfolders merged in path order (a subfolder sorts as
  // "prefix/"); build_tree asks for them in order.
  std::size_t next_file = 0, next_subtree = 0;
  std::string hex;  // the current file's hash, read before the next call
  auto before_subtree = [&](std::string_view rel) {
    if (next_subtree == subtrees.size()) return true;
    const std::string& p = subtrees[next_subtree].prefix;
    int c = rel.compare(0, p.size(), p);
    if (c != 0) return c < 0;
    return rel.size() == p.size() || static_cast<unsigned char>(rel[p.size()]) < '/';
  };
  return build_tree(
      files.size() + subtrees.size(),
      [&](std::size_t) {
        if (next_file < files.size() && before_subtree(files[next_file].rel())) {
          const WorkFile& f = files[next_file++];
          hex = f.sha256();
          return TreeFileRef{f.rel(), hex, f.key.size, f.executable};
        }
        const KnownSubtree& s = subtrees[next_subtree++];
        return TreeFileRef{s.prefix, s.hash, s.bytes, false, true, s.files};
      },
      sink, folders);
}

std::string WorkTree::content_hash() const {
  if (type == EntryType::file) return files.empty() ? std::string() : files[0].sha256();
  if (!known_hash.empty()) return known_hash;
  try {
    return manifest_version == 2 ? build() : sha256_hex(serialize_manifest(manifest()));
  } catch (const InputError&) {
    return {};  // a name that is not UTF-8 has no manifest: the folder matches no pointer
  }
}

bool WorkTree::partial() const {
  return std::any_of(folders.begin(), folders.end(), [](const FolderDigest& d) { return d.dropped; });
}

std::string WorkTree::stat_fingerprint() const {
  Sha256 digest;
  for (const auto& d : folders) {
    digest.update(d.prefix);
    digest.update("\0", 1);
    digest.update(d.digest.data(), d.digest.size());
  }
  return digest.hex_digest();
}

std::vector<SubtreeStat> subtree_stats(const WorkTree& tree) {
  const auto& folders = tree.folders;
  std::unordered_map<std::string_view, std::size_t> index;
  for (std::size_t k = 0; k < folders.size(); ++k) index.emplace(folders[k].prefix, k);
  std::vector<Sha256> digests(folders.size());
  std::vector<SubtreeStat> out(folders.size());
  // Each folder counts in itself and every folder above it, in the order
  // of `folders`: for the top folder this is stat_fingerprint()'s digest.
  for (const auto& d : folders) {
    std::string_view at = d.prefix;
    while (true) {
      auto k = index.find(at);
      if (k != index.end()) {
        std::string_view rel = at.empty() ? std::string_view(d.prefix)
                               : d.prefix.size() == at.size() ? std::string_view()
                                                               : std::string_view(d.prefix).substr(at.size() + 1);
        digests[k->second].update(rel.data(), rel.size());
        digests[k->second].update("\0", 1);
        digests[k->second].update(d.digest.data(), d.digest.size());
        SubtreeStat& s = out[k->second];
        s.newest_mtime_ns = std::max(s.newest_mtime_ns, d.newest_mtime_ns);
        s.files += d.files;
        s.bytes += d.bytes;
      }
      if (at.empty()) break;
      at = parent_view(at);
    }
  }
  for (std::size_t k = 0; k < folders.size(); ++k) out[k].fingerprint = digests[k].hex_digest();
  return out;
}

std::int64_t WorkTree::newest_mtime_ns() const {
  std::int64_t newest = 0;
  for (const auto& d : folders) newest = std::max(newest, d.newest_mtime_ns);
  for (const auto& f : files) newest = std::max(newest, f.key.mtime_ns);
  return newest;
}

WorkTree scan_tree(const std::filesystem::path& root, const std::string& data_rel, DirListings* listings,
                   const FolderDigests* unchanged, const ScanGroupSink* consume) {
  WorkTree t;
  t.data_rel = data_rel;
  t.abs = root / data_rel;
  struct stat st;
  if (::lstat(t.abs.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return t;
    throw_errno("cannot read " + data_rel, errno);
  }
  if (S_ISLNK(st.st_mode) && ::stat(t.abs.c_str(), &st) != 0) bad_entry(data_rel, errno);
  t.exists = true;
  if (S_ISREG(st.st_mode)) {
    t.type = EntryType::file;
    WorkFile f;
    f.key = StatKey::of(st);
    f.executable = (st.st_mode & S_IXUSR) != 0;
    t.files.push_back(f);
  } else if (S_ISDIR(st.st_mode)) {
    t.type = EntryType::dir;
    walk(DirJob{"", t.abs, data_rel, {{st.st_dev, st.st_ino}}, StatKey::of(st)}, *t.paths, t.files, t.stale_temps,
         listings, unchanged, consume, t.folders);
    std::sort(t.files.begin(), t.files.end(), by_rel);
    std::sort(t.folders.begin(), t.folders.end(),
              [](const FolderDigest& a, const FolderDigest& b) { return a.prefix < b.prefix; });
  } else {
    throw InputError(data_rel + ": not a regular file or folder", "mlo tracks files and folders");
  }
  return t;
}

void fill_from_stat_cache(StatCache& sc, WorkTree& tree) {
  sc.lookup_sorted(
      tree.data_rel, tree.files.size(), [&](std::size_t i) { return tree.files[i].rel(); },
      [&](std::size_t i) { return tree.files[i].key; },
      [&](std::size_t i, StatCacheHit&& hit) {
        WorkFile& f = tree.files[i];
        // The scan's own executable bit stands: a row with another one
        // (chmod keeps the mtime) leaves the file to be hashed and its row
        // written again, so the tree and the rows agree.
        if (f.hash_known || hit.executable != f.executable) return;
        f.set_sha256(hit.sha256);
      });
}

bool fill_and_restore(StatCache& sc, WorkTree& tree, const std::unordered_set<std::string_view>* skip) {
  if (!tree.exists) return true;  // its rows may serve again when it is back
  // Each dropped folder's digest is taken again from its rows, which come
  // sorted by path: a folder's own files arrive in name order, as scanned.
  struct Dropped {
    const FolderDigest* folder;
    std::unique_ptr<Sha256> digest;
  };
  std::unordered_map<std::string_view, Dropped> dropped;
  std::size_t restore_count = 0;
  for (const auto& d : tree.folders)
    if (d.dropped && !(skip && skip->count(d.prefix))) {
      dropped.emplace(d.prefix, Dropped{&d, std::make_unique<Sha256>()});
      restore_count += d.files;
    }
  const std::size_t kept = tree.files.size();
  tree.files.reserve(kept + restore_count);
  std::vector<std::string> stale;  // rows of files no longer there
  std::size_t i = 0;
  std::string chunk;
  sc.for_each_row(tree.data_rel, [&](std::string_view rest, const StatKey& key, std::string_view sha, bool exec) {
    while (i < kept && tree.files[i].rel() < rest) ++i;
    if (i < kept && tree.files[i].rel() == rest) {  // a file the scan kept
      WorkFile& f = tree.files[i];
      if (key == f.key && !f.hash_known && exec == f.executable) f.set_sha256(sha);
      return;
    }
    const std::string_view folder = parent_view(rest);
    if (!rest.empty() && skip && skip->count(folder)) return;  // stands in a known subfolder
    auto d = dropped.find(folder);
    if (rest.empty() || d == dropped.end()) {
      stale.push_back(rest.empty() ? tree.data_rel : tree.data_rel + "/" + std::string(rest));
      return;
    }
    WorkFile f;
    f.set_rel(tree.paths->keep(rest));
    f.key = key;
    f.executable = exec;
    f.set_sha256(sha);
    chunk.clear();
    append_file_stat(chunk, f);
    d->second.digest->update(chunk);
    tree.files.push_back(f);
  });
  for (auto& [prefix, d] : dropped) {
    Sha256Bytes now;
    d.digest->digest(now.data());
    if (now != d.folder->digest) {  // rows lost or changed: only a new scan tells
      tree.files.erase(tree.files.begin() + static_cast<std::ptrdiff_t>(kept), tree.files.end());
      return false;
    }
  }
  // Rows come in path order, so the restored files are sorted already.
  std::inplace_merge(tree.files.begin(), tree.files.begin() + static_cast<std::ptrdiff_t>(kept), tree.files.end(),
                     by_rel);
  for (auto& d : tree.folders)
    if (!(skip && skip->count(d.prefix))) d.dropped = false;
  for (const auto& path : stale) sc.drop_row(path);
  return true;
}

void record_folder_digests(StatCache& sc, const WorkTree& tree, const FolderDigests& recorded,
                           std::int64_t scan_started_ns) {
  for (const auto& d : tree.folders) {
    if (d.newest_mtime_ns + kRacyDirWindowNs >= scan_started_ns) continue;  // a file may change unseen
    auto known = recorded.find(d.prefix);
    if (known != recorded.end() && known->second == d.digest) continue;
    sc.record_folder_digest(d.prefix.empty() ? tree.data_rel : tree.data_rel + "/" + d.prefix, d.digest);
  }
}

namespace {
// Subfolder rows of data_tree are told from a tracked folder's own by their
// fingerprint (a tracked folder inside another tracked one shares the path).
std::string subtree_key(const std::string& fingerprint) { return "subtree:" + fingerprint; }
}  // namespace

void record_subtree_hashes(StatCache& sc, const WorkTree& tree, const FolderHashes& built,
                           std::int64_t scan_started_ns) {
  if (built.empty()) return;
  const std::vector<SubtreeStat> below = subtree_stats(tree);
  std::unordered_map<std::string_view, std::size_t> index;
  for (std::size_t k = 0; k < tree.folders.size(); ++k) index.emplace(tree.folders[k].prefix, k);
  for (const auto& [prefix, hash] : built) {
    auto k = index.find(prefix);
    if (prefix.empty() || k == index.end()) continue;  // the top is StatCache::record_tree's own row
    const SubtreeStat& s = below[k->second];
    sc.record_tree(tree.data_rel + "/" + prefix, subtree_key(s.fingerprint), hash, s.newest_mtime_ns,
                   scan_started_ns);
  }
}

SubtreeRestore restore_outside_known_subtrees(StatCache& sc, const Cache& cache, WorkTree& tree) {
  const std::vector<SubtreeStat> below = subtree_stats(tree);
  // Folders come sorted by prefix, so a folder's parent comes before it.
  std::unordered_set<std::string_view> covered;
  std::vector<KnownSubtree> known;
  for (std::size_t k = 0; k < tree.folders.size(); ++k) {
    const std::string& prefix = tree.folders[k].prefix;
    if (prefix.empty()) continue;
    if (covered.count(parent_view(prefix))) {
      covered.insert(prefix);
      continue;
    }
    if (below[k].files == 0) continue;  // no object: an empty folder is not in a tree
    auto hash = sc.tree_hash(tree.data_rel + "/" + prefix, subtree_key(below[k].fingerprint));
    if (!hash || !cache.has(*hash)) continue;
    covered.insert(prefix);
    known.push_back({prefix, *hash, below[k].files, below[k].bytes});
  }
  if (known.empty()) return SubtreeRestore::none_known;
  // Kept files below a known subfolder (its digest was not recorded) are
  // covered by it too.
  tree.files.erase(std::remove_if(tree.files.begin(), tree.files.end(),
                                  [&](const WorkFile& f) { return covered.count(parent_view(f.rel())) > 0; }),
                   tree.files.end());
  tree.subtrees = std::move(known);
  return fill_and_restore(sc, tree, &covered) ? SubtreeRestore::restored : SubtreeRestore::rows_changed;
}

std::string objects_stamp(const Cache& cache) {
  std::string stamp;
  stamp.reserve(256 * 20);
  std::int64_t now = clock_now_ns();
  static const char* hex = "0123456789abcdef";
  fs::path objects = cache.root() / "objects";
  UniqueFd dir(::open(objects.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return {};
  for (int i = 0; i < 256; ++i) {
    char name[3] = {hex[i >> 4], hex[i & 15], 0};
    struct stat st;
    std::int64_t m = 0;
    if (::fstatat(dir.get(), name, &st, 0) == 0) {
      m = StatKey::of(st).mtime_ns;
      // A folder changed this very moment may change again within the same tick.
      if (m + 20'000'000 >= now) return {};
    }
    stamp += std::to_string(m);
    stamp += ',';
  }
  return sha256_hex(stamp);
}

void hash_missing(StatCache& sc, std::vector<WorkTree*> trees, unsigned jobs) {
  std::vector<std::pair<WorkTree*, WorkFile*>> work;
  for (auto* t : trees)
    for (auto& f : t->files)
      if (!f.hash_known) work.push_back({t, &f});
  if (work.empty()) return;
  std::uint64_t bytes = 0;
  for (const auto& w : work) bytes += w.second->key.size;
  ProgressPhase phase("hash", work.size(), bytes);
  parallel_for(work.size(), jobs ? jobs : default_jobs(), [&](std::size_t i) {
    check_interrupted();
    auto [t, f] = work[i];
    std::int64_t started = clock_now_ns();
    // Bytes as they are read, so rate and ETA move during one large file too.
    std::string hex = sha256_file(t->abs_of(*f), [&phase](std::size_t n) { phase.add(0, n); });
    f->set_sha256(hex);
    f->hashed = true;
    sc.record(t->repo_rel_of(*f), f->key, hex, f->executable, started);
    phase.add(1, 0);
  });
}

}  // namespace mlo
