#include "pipeline/hashing.h"

#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

#include "core/error.h"
#include "core/hash.h"
#include "data/scan.h"
#include "data/stat_cache.h"
#include "data/tree.h"
#include "repo/repo.h"

namespace mlo {

namespace {

// Hashes through the data module's stat cache (lib/data/stat_cache.h), so
// `mlo data` and `mlo run` share one table and never hash a file twice.
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
    if (const char* v = std::getenv("MLO_HASH_STATS"); v && std::string(v) == "1")
      std::fprintf(stderr, "mlo hash stats: flat manifests hashed: %llu\n",
                   static_cast<unsigned long long>(flat_hashed_.load()));
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
      h.sha256 = flat_stage_manifests() ? flat_of(m) : build_tree(m);
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

  std::optional<std::string> flat_hash(const std::string& rel) override {
    struct stat st;
    if (::stat((root_ / rel).c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return std::nullopt;
    return flat_of(manifest(rel));
  }

  void flush() override {
    if (!write_back_) return;
    std::lock_guard<std::mutex> lock(*db_mu_);
    if (cache_) cache_->flush();
  }

 private:
  StatCache& stat_cache() {  // call with db_mu_ held
    if (!cache_) cache_ = std::make_unique<StatCache>(repo_.index());
    return *cache_;
  }

  std::string flat_of(const Manifest& m) {
    ++flat_hashed_;
    return sha256_hex(serialize_manifest(m));
  }

  std::string file_hash(const std::string& rel, const fs::path& abs, const struct stat& st) {
    StatKey key = StatKey::of(st);
    if (write_back_) {
      std::lock_guard<std::mutex> lock(*db_mu_);
      if (auto hit = stat_cache().lookup(rel, key)) return hit->sha256;
    }
    std::int64_t started = clock_now_ns();
    std::string h = sha256_file(abs);
    if (write_back_) {
      std::lock_guard<std::mutex> lock(*db_mu_);
      stat_cache().record(rel, key, h, (st.st_mode & S_IXUSR) != 0, started);
    }
    return h;
  }

  Repo& repo_;
  fs::path root_;
  bool write_back_;
  std::mutex own_mu_;
  std::mutex* db_mu_;
  std::unique_ptr<StatCache> cache_;
  std::atomic<std::uint64_t> flat_hashed_{0};
};

}  // namespace

bool flat_stage_manifests() {
  const char* v = std::getenv("MLO_FLAT_STAGE_MANIFESTS");
  return v && std::string(v) == "1";
}

std::unique_ptr<PathHasher> make_path_hasher(Repo& repo, fs::path root, bool write_back, std::mutex* db_mutex) {
  return std::make_unique<StatCacheHasher>(repo, std::move(root), write_back, db_mutex);
}

}  // namespace mlo
