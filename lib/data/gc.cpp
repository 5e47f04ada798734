#include "data/gc.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <mutex>

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

}  // namespace

GcResult collect_garbage(Repo& repo, const GcOptions& options) {
  GcResult result;
  result.dry_run = options.dry_run;
  Cache& cache = repo.cache();
  // The lock first, then the roots: a `data add` that finished before we got
  // the lock has written its pointers, one that starts after waits for us.
  std::optional<RepoLock> lock;
  if (!options.dry_run) lock.emplace(repo.tmp_dir(), "data", repo.lock_timeout_ms());

  result.refs = collect_references(repo, options.scope, options.extra_sources);
  if (!result.refs.broken.empty() && !options.skip_broken)
    throw InputError("gc stopped before deleting anything: " + std::to_string(result.refs.broken.size()) +
                         " reference(s) could not be read, so the objects they need are unknown:" +
                         describe_broken(result.refs.broken),
                     "restore the pointer files (git checkout), fetch missing manifests ('mlo pull'), run "
                     "'mlo fsck' to find damaged objects; or pass --skip-broken to delete anyway (the "
                     "files of those folders are then not protected)");

  std::vector<GcObject> candidates;
  cache.for_each_object([&](const std::string& hash, std::uint64_t size) {
    if (result.refs.needs(hash)) ++result.kept;
    else candidates.push_back({hash, size});
  });
  std::sort(candidates.begin(), candidates.end(), [](auto& a, auto& b) { return a.hash < b.hash; });

  std::int64_t now = std::time(nullptr);
  ProgressPhase phase(options.dry_run ? "gc (dry run)" : "gc", candidates.size(), 0, "objects");
  for (const auto& c : candidates) {
    check_interrupted();
    phase.add(1);
    struct stat st;
    if (::lstat(cache.object_path(c.hash).c_str(), &st) != 0) continue;  // gone meanwhile
    if (now - arrival_time(st) < options.grace_seconds) {
      ++result.kept_recent;
      result.kept_recent_bytes += c.size;
      continue;
    }
    if (!options.dry_run) cache.remove(c.hash);
    result.removed.push_back(c);
    result.removed_bytes += c.size;
  }

  fs::path temp = cache.root() / "tmp";
  // A temp file is written continuously while its writer lives, so one
  // untouched for an hour is abandoned; never go below that, even with
  // --grace 0, or a live pull or pipeline run could lose its temp file.
  std::int64_t temp_age = std::max<std::int64_t>(options.grace_seconds, 3600);
  result.temp_files = count_stale_temp(temp, temp_age);
  if (!options.dry_run && result.temp_files) cache.clean_temp(static_cast<int>(std::min<std::int64_t>(temp_age, 1 << 30)));
  return result;
}

FsckResult fsck(Repo& repo, const FsckOptions& options) {
  FsckResult result;
  Cache& cache = repo.cache();
  std::optional<RepoLock> lock;
  if (options.repair) lock.emplace(repo.tmp_dir(), "data", repo.lock_timeout_ms());

  References refs = collect_references(repo, options.scope, options.extra_sources);
  result.pointers = refs.pointers;

  // Each object as 40 bytes (a hex string a hash was 120 more).
  struct CachedObject {
    Sha256Bytes hash;
    std::uint64_t size;
  };
  std::vector<CachedObject> objects;
  cache.for_each_object([&](const std::string& hash, std::uint64_t size) {
    Sha256Bytes b;
    if (sha256_from_hex(hash, b)) objects.push_back({b, size});  // (it lists hashes only)
  });
  // Biggest first, so one huge object does not start last and run alone.
  std::sort(objects.begin(), objects.end(), [](auto& a, auto& b) { return a.size > b.size; });
  result.objects = objects.size();

  std::mutex mutex;
  unsigned jobs = options.jobs ? options.jobs : default_jobs();
  std::uint64_t total_bytes = 0;
  for (const auto& o : objects) total_bytes += o.size;
  std::optional<ProgressPhase> phase(std::in_place, "verify", objects.size(), total_bytes, "objects");
  parallel_for(objects.size(), jobs, [&](std::size_t i) {
    check_interrupted();
    const CachedObject& o = objects[i];
    const std::string hash = sha256_to_hex(o.hash);
    FsckCorrupt bad;
    try {
      std::string actual = sha256_file(cache.object_path(hash));
      phase->add(1, o.size);
      if (actual == hash) {
        std::lock_guard<std::mutex> g(mutex);
        result.bytes += o.size;
        return;
      }
      bad.actual = actual;
    } catch (const Error& e) {
      phase->add(1, o.size);
      bad.error = e.what();
    }
    bad.hash = hash;
    bad.size = o.size;
    std::lock_guard<std::mutex> g(mutex);
    result.bytes += o.size;
    result.corrupt.push_back(std::move(bad));
  });
  phase.reset();
  std::sort(result.corrupt.begin(), result.corrupt.end(), [](auto& a, auto& b) { return a.hash < b.hash; });

  // Sorted by hash, the listing itself answers what is present (no second set).
  std::sort(objects.begin(), objects.end(), [](auto& a, auto& b) { return a.hash < b.hash; });
  auto present = [&](const std::string& hex) {
    Sha256Bytes b;
    if (!sha256_from_hex(hex, b)) return false;
    return std::binary_search(objects.begin(), objects.end(), CachedObject{b, 0},
                              [](const CachedObject& x, const CachedObject& y) { return x.hash < y.hash; });
  };
  for (const auto& o : objects)
    if (!refs.needs(sha256_to_hex(o.hash))) ++result.unreferenced;
  // Where each damaged or missing object is named: a second reading of the
  // roots, for those only.
  HashSet to_label;
  for (const auto& c : result.corrupt) to_label.insert(c.hash);
  std::vector<std::string> missing;
  refs.objects.for_each([&](const std::string& hash) {
    if (!present(hash)) {
      missing.push_back(hash);
      to_label.insert(hash);
    }
  });
  std::vector<CachedObject>().swap(objects);
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

  for (const auto& hash : missing) result.missing.push_back({hash, label_of(hash)});
  std::sort(result.missing.begin(), result.missing.end(),
            [](auto& a, auto& b) { return a.needed_by != b.needed_by ? a.needed_by < b.needed_by : a.hash < b.hash; });

  std::unordered_set<std::string> corrupt_hashes;
  for (const auto& c : result.corrupt) corrupt_hashes.insert(c.hash);
  for (auto& b : refs.broken) {
    // A missing manifest is already listed as missing, a damaged one as corrupt.
    if (b.kind == BrokenKind::missing_manifest) continue;
    if (b.kind == BrokenKind::bad_manifest && corrupt_hashes.count(b.object)) continue;
    result.broken.push_back(std::move(b));
  }
  return result;
}

}  // namespace mlo
