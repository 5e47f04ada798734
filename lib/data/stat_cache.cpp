#include "data/stat_cache.h"

#include <sqlite3.h>

#include <algorithm>
#include <memory>
#include <optional>

#include "index/database.h"

namespace mlo {

namespace {
// File systems keep mtimes to a few ms at worst (ext4 uses the jiffy clock);
// a file modified within this window of hashing may change again unseen.
constexpr std::int64_t kRacyWindowNs = StatCache::kRacyWindowNs;

const Migrations kMigrations{"data",
                             {"CREATE TABLE data_stat (path TEXT PRIMARY KEY, ino INTEGER NOT NULL, "
                              "mtime_ns INTEGER NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, "
                              "exec INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID",
                              "CREATE TABLE data_complete (manifest TEXT PRIMARY KEY, stamp TEXT NOT NULL) "
                              "WITHOUT ROWID",
                              "CREATE TABLE data_tree (path TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, "
                              "hash TEXT NOT NULL) WITHOUT ROWID",
                              "CREATE TABLE data_dirs (path TEXT PRIMARY KEY, ino INTEGER NOT NULL, "
                              "mtime_ns INTEGER NOT NULL, size INTEGER NOT NULL, names TEXT NOT NULL) WITHOUT ROWID",
                              "CREATE TABLE data_folders (path TEXT PRIMARY KEY, digest TEXT NOT NULL) WITHOUT ROWID"}};

// A row's path relative to `prefix` ("" for the prefix itself), or nullopt
// for a sibling the range [prefix, prefix + "0") also holds ("prefix.csv").
std::optional<std::string_view> rest_under(std::string_view path, const std::string& prefix) {
  if (prefix.empty()) return path;
  if (path.size() == prefix.size()) return std::string_view();
  if (path[prefix.size()] != '/') return std::nullopt;
  return path.substr(prefix.size() + 1);
}

StatKey key_of(const Statement& st, int first) {
  StatKey k;
  k.ino = static_cast<std::uint64_t>(st.int64(first));
  k.mtime_ns = st.int64(first + 1);
  k.size = static_cast<std::uint64_t>(st.int64(first + 2));
  return k;
}
}  // namespace

StatKey StatKey::of(const struct stat& st) {
  StatKey k;
  k.ino = static_cast<std::uint64_t>(st.st_ino);
  k.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  k.size = static_cast<std::uint64_t>(st.st_size);
  return k;
}

StatCache::StatCache(Database& db) : db_(db) {}

void StatCache::ensure_table() {
  if (migrated_) return;
  db_.migrate(kMigrations);
  migrated_ = true;
}

std::optional<StatCacheHit> StatCache::lookup(const std::string& path, const StatKey& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  ensure_table();
  // Prepared once: preparing was 45k instructions a lookup, most of a no-op
  // `mlo run`'s stat cache work (issue 14).
  if (!lookup_) lookup_.emplace(db_.prepare("SELECT ino, mtime_ns, size, sha256, exec FROM data_stat WHERE path = ?"));
  Statement& st = *lookup_;
  st.reset();  // after a lookup that threw
  st.bind(1, path);
  std::optional<StatCacheHit> hit;
  if (st.step() && key_of(st, 0) == key) hit = StatCacheHit{st.text(3), st.int64(4) != 0};
  st.reset();  // ends the read, so the cached statement holds no snapshot
  return hit;
}

void StatCache::lookup_sorted(const std::string& prefix, std::size_t count,
                              const std::function<std::string_view(std::size_t)>& path_of,
                              const std::function<StatKey(std::size_t)>& key_at,
                              const std::function<void(std::size_t, StatCacheHit&&)>& on_hit) {
  if (count == 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto st = rows_under(prefix);
  std::size_t i = 0;
  while (i < count && st.step()) {
    const std::string path = st.text(0);
    auto rest = rest_under(path, prefix);
    if (!rest) continue;
    while (i < count && path_of(i) < *rest) ++i;
    if (i < count && path_of(i) == *rest && key_of(st, 1) == key_at(i)) {
      on_hit(i, StatCacheHit{st.text(4), st.int64(5) != 0});
      ++i;
    }
  }
}

Statement StatCache::rows_under(const std::string& prefix) {
  ensure_table();
  // Rows sort by path with memcmp (BINARY), the order of std::string: one
  // range scan of the primary key, merged with the caller's sorted list. The
  // range [prefix, prefix + "0") holds the prefix, everything under
  // "prefix/" ('0' follows '/') and siblings like "prefix.csv", which callers
  // skip. (An OR of the exact match and the subtree would make SQLite sort
  // 10^5 rows in a temp file.)
  auto st = db_.prepare(prefix.empty() ? "SELECT path, ino, mtime_ns, size, sha256, exec FROM data_stat ORDER BY path"
                                        : "SELECT path, ino, mtime_ns, size, sha256, exec FROM data_stat "
                                          "WHERE path >= ?1 AND path < ?1 || '0' ORDER BY path");
  if (!prefix.empty()) st.bind(1, prefix);
  return st;
}

void StatCache::for_each_row(
    const std::string& tracked_path,
    const std::function<void(std::string_view, const StatKey&, std::string_view, bool)>& row) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto st = rows_under(tracked_path);
  while (st.step()) {
    const std::string path = st.text(0);
    auto rest = rest_under(path, tracked_path);
    if (!rest) continue;
    const std::string sha = st.text(4);
    row(*rest, key_of(st, 1), sha, st.int64(5) != 0);
  }
}

FolderDigests StatCache::folder_digests(const std::string& tracked_path) {
  std::lock_guard<std::mutex> lock(mutex_);
  ensure_table();
  FolderDigests out;
  auto st = db_.prepare("SELECT path, digest FROM data_folders WHERE path >= ?1 AND path < ?1 || '0'");
  st.bind(1, tracked_path);
  while (st.step()) {
    const std::string path = st.text(0);
    auto rel = rest_under(path, tracked_path);
    Sha256Bytes digest;
    if (rel && sha256_from_hex(st.text(1), digest)) out.emplace(std::string(*rel), digest);
  }
  return out;
}

void StatCache::record_folder_digest(const std::string& path, const Sha256Bytes& digest) {
  std::lock_guard<std::mutex> lock(mutex_);
  folders_.push_back({path, digest});
}

bool StatCache::record(const std::string& path, const StatKey& key, const std::string& sha256, bool executable,
                       std::int64_t read_started_ns) {
  if (key.mtime_ns + kRacyWindowNs >= read_started_ns) return false;
  std::lock_guard<std::mutex> lock(mutex_);
  pending_.push_back({path, Row{key, sha256, executable}});
  // A bounded queue: checkout records every object it verifies (~270 bytes
  // a row queued: 27 MB for 100,000 files). Rows go out early only when no
  // forget is queued (a forget must run before the rows queued after it)
  // and no transaction is open on the connection.
  if (pending_.size() >= kMaxPendingRows && forget_.empty() && sqlite3_get_autocommit(db_.handle()))
    write_pending();
  return true;
}

void StatCache::write_pending() {
  ensure_table();
  Transaction tx(db_);
  insert_pending();
  tx.commit();
  std::vector<std::pair<std::string, Row>>().swap(pending_);
}

void StatCache::insert_pending() {
  auto ins = db_.prepare("INSERT OR REPLACE INTO data_stat(path, ino, mtime_ns, size, sha256, exec) VALUES(?,?,?,?,?,?)");
  for (const auto& [path, r] : pending_) {
    ins.bind(1, path)
        .bind(2, static_cast<std::int64_t>(r.key.ino))
        .bind(3, r.key.mtime_ns)
        .bind(4, static_cast<std::int64_t>(r.key.size))
        .bind(5, r.sha256)
        .bind(6, static_cast<std::int64_t>(r.executable ? 1 : 0))
        .run();
  }
}

void StatCache::drop_row(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  drops_.push_back(path);
}

void StatCache::forget(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  forget_.push_back(path);
}

bool StatCache::known_complete(const std::string& manifest_hash, const std::string& stamp) {
  std::lock_guard<std::mutex> lock(mutex_);
  ensure_table();
  auto st = db_.prepare("SELECT stamp FROM data_complete WHERE manifest = ?");
  st.bind(1, manifest_hash);
  return st.step() && st.text(0) == stamp;
}

void StatCache::record_complete(const std::string& manifest_hash, const std::string& stamp) {
  std::lock_guard<std::mutex> lock(mutex_);
  complete_.push_back({manifest_hash, stamp});
}

namespace {
// Rows of data_complete for folder objects only: a prefix no hash has.
std::string folders_key(const std::string& tree_hash) { return "folders:" + tree_hash; }
}  // namespace

bool StatCache::known_folders_complete(const std::string& tree_hash, const std::string& stamp) {
  return known_complete(folders_key(tree_hash), stamp) || known_complete(tree_hash, stamp);
}

void StatCache::record_folders_complete(const std::string& tree_hash, const std::string& stamp) {
  record_complete(folders_key(tree_hash), stamp);
}

std::optional<std::string> StatCache::tree_hash(const std::string& path, const std::string& fingerprint) {
  std::lock_guard<std::mutex> lock(mutex_);
  ensure_table();
  auto st = db_.prepare("SELECT fingerprint, hash FROM data_tree WHERE path = ?");
  st.bind(1, path);
  if (!st.step() || st.text(0) != fingerprint) return std::nullopt;
  return st.text(1);
}

void StatCache::record_tree(const std::string& path, const std::string& fingerprint, const std::string& hash,
                            std::int64_t newest_mtime_ns, std::int64_t scan_started_ns) {
  if (newest_mtime_ns + kRacyWindowNs >= scan_started_ns) return;
  std::lock_guard<std::mutex> lock(mutex_);
  trees_.push_back({path, {fingerprint, hash}});
}

DirListings StatCache::load_listings(const std::string& tracked_path) {
  std::lock_guard<std::mutex> lock(mutex_);
  ensure_table();
  auto st = std::make_shared<Statement>(
      db_.prepare("SELECT ino, mtime_ns, size, names FROM data_dirs WHERE path = ?"));
  DirListings out;
  out.find = [this, st, tracked_path](const std::string& rel) -> std::optional<DirListing> {
    std::lock_guard<std::mutex> lock(mutex_);
    st->reset();
    st->bind(1, rel.empty() ? tracked_path : tracked_path + "/" + rel);
    if (!st->step()) return std::nullopt;
    DirListing listing;
    listing.key = key_of(*st, 0);
    listing.names = st->text(3);  // names, each followed by a newline (no name holds one)
    st->reset();                  // no read left open between folders
    if (!listing.names.empty() && listing.names.back() != '\n') listing.names += '\n';
    std::replace(listing.names.begin(), listing.names.end(), '\n', '\0');
    return listing;
  };
  return out;
}

void StatCache::record_listings(const std::string& tracked_path, DirListings& listings) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [rel, listing] : listings.read)
    listings_.push_back({rel.empty() ? tracked_path : tracked_path + "/" + rel, std::move(listing)});
  std::vector<std::pair<std::string, DirListing>>().swap(listings.read);
}

// A data_complete row is trusted only while the cache's stamp is the one it
// was recorded with, and a stamp never comes back (it digests the fan-out
// folders' mtimes, which only move on): rows of a stamp other than those
// being recorded now are dead weight, and without this the table grew by a
// row a large folder each time the cache changed. Called in flush()'s
// transaction, under mutex_.
void StatCache::drop_complete_rows_of_other_stamps() {
  std::vector<std::string> stamps;
  for (const auto& [manifest, stamp] : complete_)
    if (std::find(stamps.begin(), stamps.end(), stamp) == stamps.end()) stamps.push_back(stamp);
  if (stamps.size() > kMaxStampsKept) return;  // never seen: one command sees one or two stamps
  std::string sql = "DELETE FROM data_complete WHERE stamp NOT IN (?";
  for (std::size_t i = 1; i < stamps.size(); ++i) sql += ", ?";
  auto del = db_.prepare(sql + ")");
  for (std::size_t i = 0; i < stamps.size(); ++i) del.bind(static_cast<int>(i + 1), stamps[i]);
  del.run();
}

void StatCache::flush() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (pending_.empty() && forget_.empty() && complete_.empty() && trees_.empty() && listings_.empty() &&
      folders_.empty() && drops_.empty())
    return;
  ensure_table();
  Transaction tx(db_);
  if (!forget_.empty()) {
    auto del = db_.prepare("DELETE FROM data_stat WHERE path = ?1 OR (path > ?1 || '/' AND path < ?1 || '0')");
    // A folder's recorded hash is stale once anything at or below it changes;
    // so is the hash of every tracked folder above it.
    auto del_tree = db_.prepare(
        "DELETE FROM data_tree WHERE path = ?1 OR (path > ?1 || '/' AND path < ?1 || '0') "
        "OR ?1 LIKE path || '/%'");
    auto del_dirs = db_.prepare("DELETE FROM data_dirs WHERE path = ?1 OR (path > ?1 || '/' AND path < ?1 || '0')");
    // A folder's digest vouches for its files' rows: gone with them.
    auto del_folders = db_.prepare(
        "DELETE FROM data_folders WHERE path = ?1 OR (path > ?1 || '/' AND path < ?1 || '0') "
        "OR ?1 LIKE path || '/%'");
    for (const auto& p : forget_) {
      del.bind(1, p).run();
      del_tree.bind(1, p).run();
      del_dirs.bind(1, p).run();
      del_folders.bind(1, p).run();
    }
  }
  if (!drops_.empty()) {
    auto del = db_.prepare("DELETE FROM data_stat WHERE path = ?");
    for (const auto& p : drops_) del.bind(1, p).run();
  }
  insert_pending();
  if (!complete_.empty()) {
    drop_complete_rows_of_other_stamps();
    auto c = db_.prepare("INSERT OR REPLACE INTO data_complete(manifest, stamp) VALUES(?, ?)");
    for (const auto& [m, s] : complete_) c.bind(1, m).bind(2, s).run();
  }
  if (!trees_.empty()) {
    auto t = db_.prepare("INSERT OR REPLACE INTO data_tree(path, fingerprint, hash) VALUES(?, ?, ?)");
    for (const auto& [path, fh] : trees_) t.bind(1, path).bind(2, fh.first).bind(3, fh.second).run();
  }
  if (!listings_.empty()) {
    auto d = db_.prepare("INSERT OR REPLACE INTO data_dirs(path, ino, mtime_ns, size, names) VALUES(?, ?, ?, ?, ?)");
    std::string blob;
    for (const auto& [path, listing] : listings_) {
      // A folder with a name holding a newline is always read.
      if (listing.names.find('\n') != std::string::npos) continue;
      blob = listing.names;
      std::replace(blob.begin(), blob.end(), '\0', '\n');
      d.bind(1, path)
          .bind(2, static_cast<std::int64_t>(listing.key.ino))
          .bind(3, listing.key.mtime_ns)
          .bind(4, static_cast<std::int64_t>(listing.key.size))
          .bind(5, blob)
          .run();
    }
  }
  if (!folders_.empty()) {
    auto f = db_.prepare("INSERT OR REPLACE INTO data_folders(path, digest) VALUES(?, ?)");
    for (const auto& [path, digest] : folders_) f.bind(1, path).bind(2, sha256_to_hex(digest)).run();
  }
  tx.commit();
  // Released, not just emptied: add flushes every few thousand files.
  std::vector<std::pair<std::string, Row>>().swap(pending_);
  std::vector<std::pair<std::string, DirListing>>().swap(listings_);
  forget_.clear();
  drops_.clear();
  complete_.clear();
  trees_.clear();
  folders_.clear();
}

}  // namespace mlo
