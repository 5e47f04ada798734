// The stat cache: (path, inode, mtime_ns, size) -> sha256 in the index, so a
// file whose stat did not change is never hashed again. Like git's index, an
// entry is only trusted when the file's mtime is older than the moment it was
// hashed by more than the timestamp granularity ("racily clean" files are
// re-hashed).
#pragma once
#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/hash_set.h"
#include "index/database.h"

namespace mlo {

class Database;

struct StatKey {
  std::uint64_t ino = 0;
  std::int64_t mtime_ns = 0;
  std::uint64_t size = 0;
  static StatKey of(const struct stat& st);
  bool operator==(const StatKey& o) const { return ino == o.ino && mtime_ns == o.mtime_ns && size == o.size; }
};

// Folder listings remembered between commands (StatCache::load_listings): a
// folder whose inode and mtime are unchanged has the same entries, so its
// readdir is skipped (git's untracked cache relies on the same rule).
struct DirListing {
  StatKey key;  // the folder's own stat
  // The entry names, each ended by a '\0' (which no name holds): one buffer,
  // not a string a name.
  std::string names;
};
struct DirListings {
  // The remembered listing of a folder by its path relative to the tracked
  // folder ("" is the folder itself), asked for as the scan reaches it (so
  // only the folders being read are held).
  std::function<std::optional<DirListing>(const std::string& rel)> find;
  // Folders this scan read with readdir that may be remembered (not changed
  // within the timestamp granularity of the scan).
  std::vector<std::pair<std::string, DirListing>> read;
};

// Digests of folders' own files (scan.h's FolderDigest) by path relative to
// the tracked folder.
using FolderDigests = std::unordered_map<std::string, Sha256Bytes>;

struct StatCacheHit {
  std::string sha256;
  bool executable = false;
};

class StatCache {
 public:
  // An entry whose mtime is within this of the moment its content was read
  // is racily clean: not recorded, not trusted.
  static constexpr std::int64_t kRacyWindowNs = 20'000'000;
  // Creates the table on first use.
  explicit StatCache(Database& db);

  // The recorded hash when `path` (a repo-relative path, or an absolute path
  // for cache objects) still has this stat. Thread-safe.
  std::optional<StatCacheHit> lookup(const std::string& path, const StatKey& key);
  // Answers many paths under `prefix` at once: path(i) for i < count are
  // the parts after "prefix/" (or the prefix itself, ""), sorted bytewise,
  // and key(i) their stats; on_hit(i, hit) is called for each one whose stat
  // matches. One range scan, no per-file query, no copy of the list.
  void lookup_sorted(const std::string& prefix, std::size_t count,
                     const std::function<std::string_view(std::size_t)>& path,
                     const std::function<StatKey(std::size_t)>& key,
                     const std::function<void(std::size_t, StatCacheHit&&)>& on_hit);
  // Deletes one row (queued; written by flush()).
  void drop_row(const std::string& path);
  // Queues an entry (thread-safe); written by flush(), or earlier once
  // many are queued. `read_started_ns` is
  // when reading the content began: an entry whose mtime is within the
  // timestamp granularity of it is racily clean and not recorded (false).
  bool record(const std::string& path, const StatKey& key, const std::string& sha256, bool executable,
              std::int64_t read_started_ns);
  // Forgets entries at or below a path (queued; written by flush()).
  void forget(const std::string& path);
  // Writes queued changes in one transaction.
  void flush();

  // Remembers that every object a manifest lists was present when the cache
  // had `stamp` (see objects_stamp()), so status need not check them again.
  bool known_complete(const std::string& manifest_hash, const std::string& stamp);
  void record_complete(const std::string& manifest_hash, const std::string& stamp);
  // The same for a tree's folder objects alone (its files may be absent: a
  // fresh clone before its pull), so `data diff` lists a tree it has no
  // files of without first walking it to check. Complete implies this.
  bool known_folders_complete(const std::string& tree_hash, const std::string& stamp);
  void record_folders_complete(const std::string& tree_hash, const std::string& stamp);

  // A tracked folder's content hash keyed by a fingerprint of every file's
  // name and stat (like git's cache-tree), so `mlo data status` on an
  // unchanged folder needs neither a per-file lookup nor the manifest. Only
  // recorded when no file was modified within the timestamp granularity of
  // the scan (the racy rule above).
  std::optional<std::string> tree_hash(const std::string& path, const std::string& fingerprint);

  // The remembered listings of the folders at or below a tracked folder
  // (read one by one; the StatCache must outlive them), and queueing the
  // ones a scan read (written by flush()), moved out of `listings.read`
  // (a copy doubled a first status's peak: 13 bytes a name).
  DirListings load_listings(const std::string& tracked_path);
  void record_listings(const std::string& tracked_path, DirListings& listings);
  void record_tree(const std::string& path, const std::string& fingerprint, const std::string& hash,
                   std::int64_t newest_mtime_ns, std::int64_t scan_started_ns);

  // The recorded digests of the folders at or below a tracked folder, and
  // queueing one (`path` repo-relative; written by flush()). A digest is a
  // hint that the folder's rows are current: whoever trusts it checks the
  // rows against it (restore_dropped in scan.h).
  FolderDigests folder_digests(const std::string& tracked_path);
  void record_folder_digest(const std::string& path, const Sha256Bytes& digest);
  // Every row at or below a tracked path, sorted by path; `rest` is the part
  // after "tracked_path/" ("" for the path itself).
  void for_each_row(const std::string& tracked_path,
                    const std::function<void(std::string_view rest, const StatKey&, std::string_view sha256,
                                             bool executable)>& row);

 private:
  struct Row {
    StatKey key;
    std::string sha256;
    bool executable;
  };
  void ensure_table();
  class Statement rows_under(const std::string& prefix);  // mutex_ held
  // Rows queued beyond this are written early (record()).
  static constexpr std::size_t kMaxPendingRows = 4096;
  void write_pending();   // in its own transaction; mutex_ held
  void insert_pending();  // the queued rows, inside the caller's transaction
  static constexpr std::size_t kMaxStampsKept = 8;
  void drop_complete_rows_of_other_stamps();  // inside flush()'s transaction
  Database& db_;
  std::optional<Statement> lookup_;  // lookup()'s query, prepared on first use
  bool migrated_ = false;
  std::mutex mutex_;
  std::vector<std::pair<std::string, Row>> pending_;
  std::vector<std::string> forget_;
  std::vector<std::string> drops_;
  std::vector<std::pair<std::string, std::string>> complete_;
  std::vector<std::pair<std::string, std::pair<std::string, std::string>>> trees_;  // path -> (fingerprint, hash)
  std::vector<std::pair<std::string, DirListing>> listings_;  // repo-relative folder -> listing
  std::vector<std::pair<std::string, Sha256Bytes>> folders_;  // repo-relative folder -> digest
};

}  // namespace mlo
