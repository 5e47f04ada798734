#include "pipeline/hashing.h"

#include <sys/stat.h>

#include <map>
#include <mutex>

#include "core/error.h"
#include "core/hash.h"
#include "repo/repo.h"

namespace mlo {

namespace {

struct StatKey {
  std::int64_t ino = 0, mtime_ns = 0, size = 0;
  bool operator==(const StatKey& o) const { return ino == o.ino && mtime_ns == o.mtime_ns && size == o.size; }
};

class StatCacheHasher : public PathHasher {
 public:
  StatCacheHasher(Repo& repo, fs::path root, bool write_back, std::mutex* db_mutex)
      : repo_(repo), root_(root.empty() ? repo.root() : std::move(root)), write_back_(write_back),
        db_mu_(db_mutex ? db_mutex : &own_mu_) {}
  ~StatCacheHasher() override {
    try {
      flush();
    } catch (...) {
    }
  }

  std::optional<PathHash> hash(const std::string& rel) override {
    fs::path abs = root_ / rel;
    struct stat st;
    if (::stat(abs.c_str(), &st) != 0) return std::nullopt;
    if (S_ISDIR(st.st_mode)) {
      Manifest m = manifest(rel);
      PathHash h;
      h.dir = true;
      h.files = m.entries.size();
      h.size = m.total_size();
      h.sha256 = sha256_hex(serialize_manifest(m));
      return h;
    }
    PathHash h;
    h.size = static_cast<std::uint64_t>(st.st_size);
    h.executable = (st.st_mode & S_IXUSR) != 0;
    h.sha256 = file_hash(rel, abs, st);
    return h;
  }

  Manifest manifest(const std::string& rel) override {
    fs::path abs = root_ / rel;
    Manifest m;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(abs, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (!it->is_regular_file()) continue;
      struct stat st;
      if (::stat(it->path().c_str(), &st) != 0) continue;
      ManifestEntry e;
      e.path = it->path().lexically_relative(abs).generic_string();
      e.size = static_cast<std::uint64_t>(st.st_size);
      e.executable = (st.st_mode & S_IXUSR) != 0;
      e.sha256 = file_hash(rel + "/" + e.path, it->path(), st);
      m.entries.push_back(std::move(e));
    }
    if (ec) throw_errno("cannot read folder " + rel, ec.value());
    m.sort();
    return m;
  }

  void flush() override {
    std::lock_guard<std::mutex> lock(*db_mu_);
    if (dirty_.empty() || !write_back_) return;
    Database& db = repo_.index();
    migrate(db);
    Transaction tx(db);
    auto put = db.prepare("INSERT OR REPLACE INTO pipeline_stat(path, ino, mtime_ns, size, sha256) VALUES (?,?,?,?,?)");
    for (const auto& [path, entry] : dirty_) {
      put.bind(1, path).bind(2, entry.first.ino).bind(3, entry.first.mtime_ns).bind(4, entry.first.size).bind(5, entry.second);
      put.run();
    }
    tx.commit();
    dirty_.clear();
  }

 private:
  static void migrate(Database& db) {
    db.migrate({"pipeline_stat",
                {"CREATE TABLE pipeline_stat(path TEXT PRIMARY KEY, ino INTEGER, mtime_ns INTEGER, size INTEGER, sha256 TEXT)"}});
  }

  std::string file_hash(const std::string& rel, const fs::path& abs, const struct stat& st) {
    StatKey key{static_cast<std::int64_t>(st.st_ino),
                static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec,
                static_cast<std::int64_t>(st.st_size)};
    if (write_back_) {
      std::lock_guard<std::mutex> lock(*db_mu_);
      Database& db = repo_.index();
      migrate(db);
      auto q = db.prepare("SELECT ino, mtime_ns, size, sha256 FROM pipeline_stat WHERE path = ?");
      q.bind(1, rel);
      if (q.step()) {
        StatKey known{q.int64(0), q.int64(1), q.int64(2)};
        if (known == key) return q.text(3);
      }
    }
    std::string h = sha256_file(abs);
    if (write_back_) {
      std::lock_guard<std::mutex> lock(*db_mu_);
      dirty_[rel] = {key, h};
    }
    return h;
  }

  Repo& repo_;
  fs::path root_;
  bool write_back_;
  std::mutex own_mu_;
  std::mutex* db_mu_;
  std::map<std::string, std::pair<StatKey, std::string>> dirty_;
};

}  // namespace

std::unique_ptr<PathHasher> make_path_hasher(Repo& repo, fs::path root, bool write_back, std::mutex* db_mutex) {
  return std::make_unique<StatCacheHasher>(repo, std::move(root), write_back, db_mutex);
}

}  // namespace mlo
