#include "data/gc.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <ctime>
#include <mutex>
#include <optional>
#include <vector>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/interrupt.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "repo/lock.h"
#include "repo/repo.h"

namespace mlo {

std::int64_t parse_duration_seconds(const std::string& text, const std::string& option) {
  auto bad = [&] {
    return UsageError(option + ": '" + text + "' is not a duration",
                      "use a number of seconds or a number with a unit: 90s, 30m, 1h, 7d");
  };
  if (text.empty()) throw bad();
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 12) throw bad();
  std::int64_t n = std::stoll(text.substr(0, digits));
  std::string unit = text.substr(digits);
  if (unit.empty() || unit == "s") return n;
  if (unit == "m") return n * 60;
  if (unit == "h") return n * 3600;
  if (unit == "d") return n * 86400;
  throw bad();
}

namespace {

// When an object arrived: the later of mtime and ctime. A hardlinked object
// keeps the workspace file's old mtime, but link(), chmod() and rename()
// all set ctime.
std::int64_t arrival_time(const struct stat& st) { return std::max<std::int64_t>(st.st_mtime, st.st_ctime); }

std::string describe_broken(const std::vector<BrokenReference>& broken) {
  std::string out;
  size_t shown = std::min<size_t>(broken.size(), 5);
  for (size_t i = 0; i < shown; ++i) out += "\n  " + broken[i].message;
  if (broken.size() > shown) out += "\n  ... and " + std::to_string(broken.size() - shown) + " more";
  return out;
}

// Stale temp files in the cache (left by interrupted writers).
std::size_t count_stale_temp(const fs::path& dir, std::int64_t max_age) {
  std::size_t n = 0;
  std::error_code ec;
  std::int64_t now = std::time(nullptr);
  for (auto& entry : fs::directory_iterator(dir, ec)) {
    struct stat st;
    if (::lstat(entry.path().c_str(), &st) == 0 && now - st.st_mtime > max_age) ++n;
  }
  return n;
}

// A progress line that goes on across shares: each share's walk of the
// roots draws a line of its own, so this one is begun again after it,
// carrying what was done before.
class ShareProgress {
 public:
  ShareProgress(std::string name, std::uint64_t total_items, std::uint64_t total_bytes)
      : name_(std::move(name)), total_items_(total_items), total_bytes_(total_bytes) {}
  void begin() {
    phase_.emplace(name_, total_items_, total_bytes_, "objects");
    if (items_ || bytes_) phase_->add(items_, bytes_);
  }
  void add(std::uint64_t items, std::uint64_t bytes = 0) {
    items_ += items;
    bytes_ += bytes;
    phase_->add(items, bytes);
  }
  void end() { phase_.reset(); }

 private:
  std::string name_;
  std::uint64_t total_items_, total_bytes_;
  std::atomic<std::uint64_t> items_{0}, bytes_{0};
  std::optional<ProgressPhase> phase_;
};

// Decides each object whose first byte is in [lo, hi] as the cache is
// listed, holding none (a gc freeing a million objects held each twice: 110
// bytes in a list of candidates, again in the list of removed ones).
// Removing entries already listed does not disturb the listing (git's
// prune does the same).
void sweep(Cache& cache, const References& refs, const GcOptions& options, std::int64_t now, unsigned lo,
           unsigned hi, ShareProgress& phase, GcResult& result) {
  cache.for_each_object(
      [&](const std::string& hash, std::uint64_t size) {
        check_interrupted();
        phase.add(1);
        if (refs.needs(hash)) {
          ++result.kept;
          return;
        }
        struct stat st;
        if (::lstat(cache.object_path(hash).c_str(), &st) != 0) return;  // gone meanwhile
        if (now - arrival_time(st) < options.grace_seconds) {
          ++result.kept_recent;
          result.kept_recent_bytes += size;
          return;
        }
        if (!options.dry_run) cache.remove(hash);
        ++result.removed_count;
        result.removed_bytes += size;
        if (result.removed.size() < kMaxListedRemoved) result.removed.push_back({hash, size});
      },
      lo, hi);
}

}  // namespace

GcResult collect_garbage(Repo& repo, const GcOptions& options) {
  GcResult result;
  result.dry_run = options.dry_run;
  Cache& cache = repo.cache();
  // The lock first, then the roots: a `data add` that finished before we got
  // the lock has written its pointers, one that starts after waits for us.
  std::optional<RepoLock> lock;
  if (!options.dry_run) lock.emplace(repo.tmp_dir(), "data", repo.lock_timeout_ms());

  // In passes when the roots name more than `pass_objects` hashes
  // (references.h), each sweeping only its share of the cache.
  std::int64_t now = std::time(nullptr);
  ShareProgress phase(options.dry_run ? "gc (dry run)" : "gc", 0, 0);
  result.passes = for_each_reference_share(
      repo, options.scope, options.extra_sources, options.pass_objects,
      [&](const References& refs) {
        if (!refs.broken.empty() && !options.skip_broken)
          throw InputError("gc stopped before deleting anything: " + std::to_string(refs.broken.size()) +
                               " reference(s) could not be read, so the objects they need are unknown:" +
                               describe_broken(refs.broken),
                           "restore the pointer files (git checkout), fetch missing manifests ('mlo pull'), run "
                           "'mlo fsck' to find damaged objects; or pass --skip-broken to delete anyway (the "
                           "files of those folders are then not protected)");
      },
      [&](References& refs, unsigned lo, unsigned hi) {
        phase.begin();
        sweep(cache, refs, options, now, lo, hi, phase, result);
        phase.end();
        result.refs = std::move(refs);
      });
  std::sort(result.removed.begin(), result.removed.end(), [](auto& a, auto& b) { return a.hash < b.hash; });

  fs::path temp = cache.root() / "tmp";
  // A temp file is written continuously while its writer lives, so one
  // untouched for an hour is abandoned; never go below that, even with
  // --grace 0, or a live pull or pipeline run could lose its temp file.
  std::int64_t temp_age = std::max<std::int64_t>(options.grace_seconds, 3600);
  result.temp_files = count_stale_temp(temp, temp_age);
  if (!options.dry_run && result.temp_files) cache.clean_temp(static_cast<int>(std::min<std::int64_t>(temp_age, 1 << 30)));
  return result;
}

namespace {
// fsck verifies objects of at least this size before the others, biggest
// first; the rest go in batches of kFsckBatch, in listing order (a batch waits
// for its slowest object: below this size, a few milliseconds).
constexpr std::uint64_t kFsckBigObject = 16u << 20;
constexpr std::size_t kFsckBatch = 8192;
}  // namespace

namespace {

struct CachedObject {
  Sha256Bytes hash;
  std::uint64_t size;
};

// Verifies the cached objects of one share of the hashes' first byte
// against one share's references: the big ones first (so that one huge
// object does not run alone at the end), then the rest in batches, in
// listing order. What the references name is ticked off in a bit a
// reference; what is left unticked is missing.
class ShareVerifier {
 public:
  ShareVerifier(Cache& cache, unsigned jobs, ShareProgress& phase, FsckResult& result)
      : cache_(cache), jobs_(jobs), phase_(phase), result_(result) {}

  // Shares come lowest first and each lists its missing hashes in order, so
  // the hashes kept are the lowest kMaxListedMissing of all.
  struct Missing {
    std::vector<std::string> listed;
    std::uint64_t count = 0;
    bool odd_counted = false;  // a name that is not a hash is in every share
    void add(std::string name) {
      ++count;
      if (listed.size() < kMaxListedMissing) listed.push_back(std::move(name));
    }
  };

  void run(const References& refs, unsigned lo, unsigned hi, const std::vector<CachedObject>& big, Missing& missing) {
    referenced_ = &refs.objects.sorted();
    seen_.assign(referenced_->size(), false);
    std::vector<CachedObject> mine;  // big objects of this share
    for (const auto& o : big)
      if (o.hash[0] >= lo && o.hash[0] <= hi) mine.push_back(o);
    verify(mine);
    std::sort(mine.begin(), mine.end(), [](auto& a, auto& b) { return a.hash < b.hash; });
    auto is_big = [&](const Sha256Bytes& b) {
      return std::binary_search(mine.begin(), mine.end(), CachedObject{b, 0},
                                [](const CachedObject& x, const CachedObject& y) { return x.hash < y.hash; });
    };
    std::vector<CachedObject> batch;
    batch.reserve(kFsckBatch);
    cache_.for_each_object_hash(
        [&](const std::string& hash) {
          Sha256Bytes b;
          if (!sha256_from_hex(hash, b) || is_big(b)) return;  // (it lists hashes only); big: verified above
          batch.push_back({b, 0});
          if (batch.size() < kFsckBatch) return;
          verify(batch);
          batch.clear();
        },
        lo, hi);
    verify(batch);
    for (std::size_t i = 0; i < referenced_->size(); ++i)
      if (!seen_[i]) missing.add(sha256_to_hex((*referenced_)[i]));
    if (missing.odd_counted) return;
    missing.odd_counted = true;
    for (const auto& odd : refs.objects.odd()) missing.add(odd);  // not a hash: never in the cache
  }

 private:
  void tick(const Sha256Bytes& b) {
    auto it = std::lower_bound(referenced_->begin(), referenced_->end(), b);
    if (it != referenced_->end() && *it == b) seen_[static_cast<std::size_t>(it - referenced_->begin())] = true;
    else ++result_.unreferenced;
  }

  // A batch's sizes may be unknown (0): they are then the bytes read, or the
  // file's size when it can not be read.
  void verify(const std::vector<CachedObject>& batch) {
    for (const auto& o : batch) tick(o.hash);
    result_.objects += batch.size();
    parallel_for(batch.size(), jobs_, [&](std::size_t i) {
      check_interrupted();
      const std::string hash = sha256_to_hex(batch[i].hash);
      const fs::path path = cache_.object_path(hash);
      std::uint64_t size = 0;
      FsckCorrupt bad;
      try {
        std::string actual = sha256_file(path, [&](std::size_t n) { size += n; });
        phase_.add(1, size);
        if (actual == hash) {
          std::lock_guard<std::mutex> g(mutex_);
          result_.bytes += size;
          return;
        }
        bad.actual = actual;
      } catch (const Error& e) {
        struct stat st;
        size = batch[i].size ? batch[i].size : ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
        phase_.add(1, size);
        bad.error = e.what();
      }
      bad.hash = hash;
      bad.size = size;
      std::lock_guard<std::mutex> g(mutex_);
      result_.bytes += size;
      result_.corrupt.push_back(std::move(bad));
    });
  }

  Cache& cache_;
  unsigned jobs_;
  ShareProgress& phase_;
  FsckResult& result_;
  std::mutex mutex_;
  const std::vector<Sha256Bytes>* referenced_ = nullptr;
  std::vector<bool> seen_;
};

}  // namespace

FsckResult fsck(Repo& repo, const FsckOptions& options) {
  FsckResult result;
  Cache& cache = repo.cache();
  std::optional<RepoLock> lock;
  if (options.repair) lock.emplace(repo.tmp_dir(), "data", repo.lock_timeout_ms());

  // The cache is never held whole (issue 24: the listing was 40 bytes an
  // object, in a vector that doubles). One listing counts for the progress
  // line and keeps the big objects; each share of the references (one
  // unless the roots name more than `pass_objects` hashes, references.h)
  // then lists the names of its share of the cache and verifies them.
  std::vector<CachedObject> big;
  std::uint64_t listed = 0, total_bytes = 0;
  cache.for_each_object([&](const std::string& hash, std::uint64_t size) {
    ++listed;
    total_bytes += size;
    Sha256Bytes b;
    if (size >= kFsckBigObject && sha256_from_hex(hash, b)) big.push_back({b, size});
  });
  std::sort(big.begin(), big.end(), [](auto& a, auto& b) { return a.size > b.size; });

  ShareProgress phase("verify", listed, total_bytes);
  ShareVerifier verifier(cache, options.jobs ? options.jobs : default_jobs(), phase, result);
  ShareVerifier::Missing missing;
  std::vector<BrokenReference> broken;
  result.passes = for_each_reference_share(
      repo, options.scope, options.extra_sources, options.pass_objects,
      [&](const References& refs) {
        result.pointers = refs.pointers;
        broken = refs.broken;
      },
      [&](References& refs, unsigned lo, unsigned hi) {
        phase.begin();
        verifier.run(refs, lo, hi, big, missing);
        phase.end();
      });
  std::vector<CachedObject>().swap(big);
  std::sort(result.corrupt.begin(), result.corrupt.end(), [](auto& a, auto& b) { return a.hash < b.hash; });
  std::sort(missing.listed.begin(), missing.listed.end());  // the odd names came after their share's hashes
  result.missing_count = missing.count;

  // Where each damaged or missing object is named: a second reading of the
  // roots, for those only.
  HashSet to_label;
  for (const auto& c : result.corrupt) to_label.insert(c.hash);
  for (const auto& h : missing.listed) to_label.insert(h);
  const auto labels = label_references(repo, options.scope, options.extra_sources, to_label);
  auto label_of = [&](const std::string& hash) {
    auto it = labels.find(hash);
    return it == labels.end() ? std::string() : it->second;
  };

  for (auto& c : result.corrupt) {
    c.needed_by = label_of(c.hash);
    if (!options.repair) continue;
    // Moved aside, not deleted: the bytes may be the only copy of something
    // nearly right, and a person may want to look at them.
    fs::path dir = cache.root() / "corrupt";
    fs::create_directories(dir);
    fs::path dest = dir / c.hash;
    for (int n = 1; ::access(dest.c_str(), F_OK) == 0; ++n) dest = dir / (c.hash + "." + std::to_string(n));
    if (::rename(cache.object_path(c.hash).c_str(), dest.c_str()) != 0)
      throw_errno("cannot move damaged object " + c.hash + " to " + dest.string(), errno);
    c.moved_to = dest.string();
  }

  for (const auto& hash : missing.listed) result.missing.push_back({hash, label_of(hash)});
  std::sort(result.missing.begin(), result.missing.end(),
            [](auto& a, auto& b) { return a.needed_by != b.needed_by ? a.needed_by < b.needed_by : a.hash < b.hash; });

  std::unordered_set<std::string> corrupt_hashes;
  for (const auto& c : result.corrupt) corrupt_hashes.insert(c.hash);
  for (auto& b : broken) {
    // A missing manifest is already listed as missing, a damaged one as corrupt.
    if (b.kind == BrokenKind::missing_manifest) continue;
    if (b.kind == BrokenKind::bad_manifest && corrupt_hashes.count(b.object)) continue;
    result.broken.push_back(std::move(b));
  }
  return result;
}

}  // namespace mlo
