#include "data/scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <utility>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/interrupt.h"
#include "core/parallel.h"
#include "core/progress.h"
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

// Stats the names of folders [first, last) of a level in parallel and sorts
// them into files (`out`), subfolders (`next`) and stale temps.
void stat_group(const std::vector<DirJob>& level, const std::vector<std::vector<std::string>>& names,
                const std::vector<UniqueFd>& fds, std::size_t first, std::size_t last, std::vector<WorkFile>& out,
                std::vector<std::string>& stale, std::vector<DirJob>& next) {
  std::vector<std::pair<std::size_t, std::size_t>> entries;  // (folder, name)
  for (std::size_t i = first; i < last; ++i)
    for (std::size_t k = 0; k < names[i].size(); ++k) {
      // A temp file a killed mlo left behind is not data.
      if (names[i][k][0] == '.' && is_stale_temp_name(names[i][k])) {
        stale.push_back(level[i].prefix.empty() ? names[i][k] : level[i].prefix + "/" + names[i][k]);
        continue;
      }
      entries.push_back({i, k});
    }
  // Only what the walk needs of each stat (a full struct stat per file is
  // 144 bytes: 14 MB of page faults for 10^5 files).
  struct EntryStat {
    mode_t mode;
    int err;
    dev_t dev;
    StatKey key;
  };
  std::vector<EntryStat> stats(entries.size());
  const std::size_t chunk = 512;
  const std::size_t chunks = (entries.size() + chunk - 1) / chunk;
  parallel_for(chunks, entries.size() > 2000 ? default_jobs() : 1, [&](std::size_t c) {
    struct stat st;
    for (std::size_t j = c * chunk; j < std::min(entries.size(), (c + 1) * chunk); ++j) {
      auto [i, k] = entries[j];
      int rc = fds[i] ? ::fstatat(fds[i].get(), names[i][k].c_str(), &st, 0)
                      : ::stat((level[i].abs / names[i][k]).c_str(), &st);
      stats[j] = rc == 0 ? EntryStat{st.st_mode, 0, st.st_dev, StatKey::of(st)} : EntryStat{0, errno, 0, {}};
    }
  });
  for (std::size_t j = 0; j < entries.size(); ++j) {
    auto [i, k] = entries[j];
    const DirJob& dir = level[i];
    const std::string& n = names[i][k];
    auto entry_shown = [&] { return dir.shown + "/" + n; };
    const EntryStat& st = stats[j];
    if (st.err) bad_entry(entry_shown(), st.err);
    std::string rel = dir.prefix.empty() ? n : dir.prefix + "/" + n;
    if (S_ISREG(st.mode)) {
      WorkFile f;
      f.rel = std::move(rel);
      f.key = st.key;
      f.executable = (st.mode & S_IXUSR) != 0;
      out.push_back(std::move(f));
    } else if (S_ISDIR(st.mode)) {
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
}

// Walks level by level: the folders of a level are read in parallel, then
// all their entries are stat'ed in parallel (like git's preloaded index), so
// both a deep tree and one huge flat folder use every core.
void walk(const DirJob& top, std::vector<WorkFile>& out, std::vector<std::string>& stale, DirListings* listings) {
  std::vector<DirJob> level{top};
  const unsigned jobs = default_jobs();
  const std::int64_t started = clock_now_ns();
  while (!level.empty()) {
    check_interrupted();
    std::vector<std::vector<std::string>> names(level.size());
    std::vector<UniqueFd> fds(level.size());
    std::vector<char> listed(level.size(), 0);  // read with readdir in this scan
    parallel_for(level.size(), jobs, [&](std::size_t i) {
      const DirJob& dir = level[i];
      if (listings) {
        auto known = listings->known.find(dir.prefix);
        if (known != listings->known.end() && known->second.key == dir.key) {
          names[i] = std::move(known->second.names);  // each folder is visited once
          return;
        }
      }
      DIR* d = ::opendir(dir.abs.c_str());
      if (!d) throw_errno("cannot read folder " + dir.shown, errno);
      while (dirent* e = ::readdir(d)) {
        const char* n = e->d_name;
        if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
        names[i].emplace_back(n);
      }
      ::closedir(d);
      listed[i] = 1;
    });
    std::size_t level_names = 0;
    for (const auto& n : names) level_names += n.size();
    out.reserve(out.size() + level_names);
    progress().add(level_names);  // files and folders seen, for the open phase
    std::vector<DirJob> next;
    // The level's folders go through stat in groups of about kScanGroupNames
    // names, and each group's names are released (or handed to listings)
    // once its files are listed: what a level holds beside `out` stays
    // bounded however many files the level has.
    for (std::size_t first = 0; first < level.size();) {
      std::size_t last = first, group_names = 0;
      while (last < level.size() && (last == first || (group_names + names[last].size() <= kScanGroupNames &&
                                                       last - first < kScanGroupFolders)))
        group_names += names[last++].size();
      // Open folders let each file be stat'ed by its name alone (no walk of
      // the whole path); a group holds at most kScanGroupFolders open.
      for (std::size_t i = first; i < last; ++i)
        fds[i].reset(::open(level[i].abs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      stat_group(level, names, fds, first, last, out, stale, next);
      for (std::size_t i = first; i < last; ++i) {
        if (listings && listed[i] && level[i].key.mtime_ns + kRacyDirWindowNs < started)
          listings->read.push_back({level[i].prefix, DirListing{level[i].key, std::move(names[i])}});
        std::vector<std::string>().swap(names[i]);
        fds[i].reset();
      }
      first = last;
    }
    level = std::move(next);
  }
}

}  // namespace

std::int64_t clock_now_ns() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::uint64_t WorkTree::total_size() const {
  std::uint64_t n = 0;
  for (const auto& f : files) n += f.key.size;
  return n;
}

Manifest WorkTree::manifest() const {
  Manifest m;
  m.entries.reserve(files.size());
  for (const auto& f : files) m.entries.push_back({f.rel, f.sha256(), f.key.size, f.executable});
  return m;
}

std::string WorkTree::build(const std::function<void(const std::string&, const std::string&)>& sink) const {
  std::string hex;  // the current file's hash, read before the next call
  return build_tree(
      files.size(),
      [&](std::size_t i) {
        hex = files[i].sha256();
        return TreeFileRef{files[i].rel, hex, files[i].key.size, files[i].executable};
      },
      sink);
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

std::string WorkTree::stat_fingerprint() const {
  // Streamed through a small buffer: no copy of the whole listing.
  Sha256 digest;
  std::string chunk;
  chunk.reserve(64 * 1024);
  for (const auto& f : files) {
    chunk += f.rel;
    chunk += '\0';
    std::uint64_t fields[4] = {f.key.ino, static_cast<std::uint64_t>(f.key.mtime_ns), f.key.size,
                               f.executable ? 1u : 0u};
    chunk.append(reinterpret_cast<const char*>(fields), sizeof fields);
    if (chunk.size() > 60 * 1024) {
      digest.update(chunk);
      chunk.clear();
    }
  }
  digest.update(chunk);
  return digest.hex_digest();
}

std::int64_t WorkTree::newest_mtime_ns() const {
  std::int64_t newest = 0;
  for (const auto& f : files) newest = std::max(newest, f.key.mtime_ns);
  return newest;
}

WorkTree scan_tree(const std::filesystem::path& root, const std::string& data_rel, DirListings* listings) {
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
    t.files.push_back(std::move(f));
  } else if (S_ISDIR(st.st_mode)) {
    t.type = EntryType::dir;
    walk(DirJob{"", t.abs, data_rel, {{st.st_dev, st.st_ino}}, StatKey::of(st)}, t.files, t.stale_temps, listings);
    std::sort(t.files.begin(), t.files.end(), [](const WorkFile& a, const WorkFile& b) { return a.rel < b.rel; });
  } else {
    throw InputError(data_rel + ": not a regular file or folder", "mlo tracks files and folders");
  }
  return t;
}

void fill_from_stat_cache(StatCache& sc, WorkTree& tree) {
  std::vector<const std::string*> paths;
  std::vector<StatKey> keys;
  paths.reserve(tree.files.size());
  keys.reserve(tree.files.size());
  for (const auto& f : tree.files) {
    paths.push_back(&f.rel);
    keys.push_back(f.key);
  }
  sc.lookup_sorted(tree.data_rel, paths, keys, [&](std::size_t i, StatCacheHit&& hit) {
    WorkFile& f = tree.files[i];
    if (f.hash_known) return;
    f.set_sha256(hit.sha256);
    f.executable = hit.executable || f.executable;
  });
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
