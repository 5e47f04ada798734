#include "data/stat_cache.h"

#include "index/database.h"

namespace mlo {

namespace {
// File systems keep mtimes to a few ms at worst (ext4 uses the jiffy clock);
// a file modified within this window of hashing may change again unseen.
constexpr std::int64_t kRacyWindowNs = 20'000'000;

const Migrations kMigrations{"data",
                             {"CREATE TABLE data_stat (path TEXT PRIMARY KEY, ino INTEGER NOT NULL, "
                              "mtime_ns INTEGER NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, "
                              "exec INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID"}};
}  // namespace

StatKey StatKey::of(const struct stat& st) {
  StatKey k;
  k.ino = static_cast<std::uint64_t>(st.st_ino);
  k.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  k.size = static_cast<std::uint64_t>(st.st_size);
  return k;
}

StatCache::StatCache(Database& db) : db_(db) {}

void StatCache::load() {
  db_.migrate(kMigrations);
  auto st = db_.prepare("SELECT path, ino, mtime_ns, size, sha256, exec FROM data_stat");
  while (st.step()) {
    Row r;
    r.key.ino = static_cast<std::uint64_t>(st.int64(1));
    r.key.mtime_ns = st.int64(2);
    r.key.size = static_cast<std::uint64_t>(st.int64(3));
    r.sha256 = st.text(4);
    r.executable = st.int64(5) != 0;
    rows_.emplace(st.text(0), std::move(r));
  }
  loaded_ = true;
}

std::optional<StatCacheHit> StatCache::lookup(const std::string& path, const StatKey& key) {
  std::call_once(loaded_once_, [this] { load(); });
  auto it = rows_.find(path);
  if (it == rows_.end() || !(it->second.key == key)) return std::nullopt;
  return StatCacheHit{it->second.sha256, it->second.executable};
}

void StatCache::record(const std::string& path, const StatKey& key, const std::string& sha256, bool executable,
                       std::int64_t read_started_ns) {
  if (key.mtime_ns + kRacyWindowNs >= read_started_ns) return;
  std::lock_guard<std::mutex> lock(mutex_);
  pending_.push_back({path, Row{key, sha256, executable}});
}

void StatCache::forget(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  forget_.push_back(path);
}

void StatCache::flush() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (pending_.empty() && forget_.empty()) return;
  db_.migrate(kMigrations);
  Transaction tx(db_);
  if (!forget_.empty()) {
    auto del = db_.prepare("DELETE FROM data_stat WHERE path = ?1 OR (path > ?1 || '/' AND path < ?1 || '0')");
    for (const auto& p : forget_) del.bind(1, p).run();
  }
  auto ins = db_.prepare("INSERT OR REPLACE INTO data_stat(path, ino, mtime_ns, size, sha256, exec) VALUES(?,?,?,?,?,?)");
  for (const auto& [path, r] : pending_) {
    ins.bind(1, path)
        .bind(2, static_cast<std::int64_t>(r.key.ino))
        .bind(3, r.key.mtime_ns)
        .bind(4, static_cast<std::int64_t>(r.key.size))
        .bind(5, r.sha256)
        .bind(6, static_cast<std::int64_t>(r.executable ? 1 : 0))
        .run();
    if (loaded_) rows_[path] = r;
  }
  tx.commit();
  pending_.clear();
  forget_.clear();
}

}  // namespace mlo
