#include "remote/transfer.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "core/error.h"
#include "core/format.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/interrupt.h"
#include "core/log.h"
#include "core/parallel.h"
#include "core/progress.h"

namespace mlo::remote {

fs::path index_cache_dir(const fs::path& cache_root, const std::string& url) {
  return cache_root / "remotes" / sha256_hex(url).substr(0, 16);
}

namespace {

using Clock = std::chrono::steady_clock;

// Push and fetch report to the process-wide reporter (core/progress.h),
// which the CLI points at stderr when it is a terminal (or a CI log).
class Progress {
 public:
  Progress(const TransferOptions& options, std::uint64_t total_objects, std::uint64_t total_bytes) {
    if (!options.progress) return;
    if (auto* shared = options.shared_totals) {  // the caller's phase: grow its totals
      shared->objects += total_objects;
      shared->bytes += total_bytes;
      progress().set_totals(shared->objects, shared->bytes);
      joined_ = true;
    } else if (total_objects > 0) {
      phase_.emplace(options.verb, total_objects, total_bytes, "objects");
    }
  }
  void add(std::uint64_t objects, std::uint64_t bytes) {
    if (phase_ || joined_) progress().add(objects, bytes);
  }
  void stop() {
    phase_.reset();
    joined_ = false;
  }

 private:
  std::optional<ProgressPhase> phase_;
  bool joined_ = false;
};

// Runs fn(worker, item) for items [0, n) on `jobs` threads; worker ids are
// 0..jobs-1, so each worker can own state (a pack being built). The first
// exception stops new items and is rethrown after all workers finish.
void run_workers(std::size_t n, unsigned jobs, const std::function<void(unsigned, std::size_t)>& fn,
                 const std::function<void(unsigned)>& finish = {}) {
  jobs = std::max(1u, std::min<unsigned>(jobs, static_cast<unsigned>(std::max<std::size_t>(n, 1))));
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto body = [&](unsigned w) {
    try {
      for (;;) {
        if (failed) return;
        std::size_t i = next++;
        if (i >= n) break;
        fn(w, i);
      }
      if (finish && !failed) finish(w);
    } catch (...) {
      std::lock_guard lock(error_mutex);
      if (!error) error = std::current_exception();
      failed = true;
    }
  };
  std::vector<std::thread> threads;
  for (unsigned w = 1; w < jobs; ++w) threads.emplace_back(body, w);
  body(0);
  for (auto& t : threads) t.join();
  if (error) std::rethrow_exception(error);
}

// A read-only view of a cached object's bytes.
class MappedFile {
 public:
  explicit MappedFile(const fs::path& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("cannot read cached object " + path.string(), errno);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) throw_errno("cannot stat " + path.string(), errno);
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      data_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
      if (data_ == MAP_FAILED) throw_errno("cannot map " + path.string(), errno);
      ::madvise(data_, size_, MADV_SEQUENTIAL);
    }
  }
  ~MappedFile() {
    if (data_ && data_ != MAP_FAILED) ::munmap(data_, size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  std::string_view view() const { return {static_cast<const char*>(data_), size_}; }

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

std::string read_range(const fs::path& path, std::uint64_t offset, std::uint64_t length) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_errno("cannot read cached object " + path.string(), errno);
  std::string out(length, '\0');
  ssize_t n = pread_full(fd.get(), out.data(), length, offset);
  if (n < 0 || static_cast<std::uint64_t>(n) != length)
    throw_errno("cannot read cached object " + path.string(), n < 0 ? errno : EIO);
  return out;
}

// A pack being filled by one worker.
struct PackBuilder {
  PackIndex index;
  std::string data;
  std::uint64_t raw_bytes = 0;
  std::uint64_t objects = 0;

  void add(BlobKind kind, const std::string& hash, std::string_view raw, int level) {
    if (index.id.empty()) {
      index.id = new_pack_id();
      index.created = pack_time(index.id);
    }
    std::string z = zstd_compress(raw, level);
    index.blobs.push_back({kind, hash, data.size(), z.size(), raw.size()});
    data += z;
    raw_bytes += raw.size();
    if (kind != BlobKind::chunk) ++objects;
  }
};

// Recipes this push wrote go into the index cache, like their pack indexes:
// the next load knows their chunk lists without reading them back.
void cache_recipe(const fs::path& index_cache, const std::string& hash, const std::string& text) {
  try {
    fs::create_directories(index_cache / "recipes");
    write_file_atomic(index_cache / "recipes" / hash, text, false);
  } catch (const std::exception&) {
    // Only a cache.
  }
}

struct PushItem {
  BlobKind kind;
  std::string hash;
  std::string object;          // the cached object holding the bytes
  std::uint64_t offset = 0, length = 0;
  bool counts_object = false;  // completes an object (for progress)
};

}  // namespace

namespace {

// The packs push is filling, one a worker, and writing them to the remote.
class PackWriter {
 public:
  PackWriter(Backend& backend, const fs::path& index_cache, const TransferOptions& options, TransferStats& stats)
      : backend_(backend), index_cache_(index_cache), options_(options), stats_(stats),
        builders_(std::max(1u, options.jobs)) {}
  unsigned workers() const { return static_cast<unsigned>(builders_.size()); }
  PackBuilder& builder(unsigned w) { return builders_[w]; }
  void flush_if_full(PackBuilder& b) {
    // Blobs are capped too: small files compress to a few bytes each, and a
    // pack index of every one of them would be built and parsed whole.
    if (b.data.size() >= options_.pack_size || b.index.blobs.size() >= std::max<std::size_t>(1, options_.pack_blobs))
      flush(b);
  }
  void flush(PackBuilder& b) {
    if (b.index.blobs.empty()) return;
    check_interrupted();
    put_verified(backend_, pack_key(b.index.id), b.data);
    // The index last: only now does the pack's content exist for readers.
    std::string idx = serialize_pack_index(b.index);
    put_verified(backend_, index_key(b.index.id), idx);
    try {
      fs::create_directories(index_cache_);
      write_file_atomic(index_cache_ / (b.index.id + ".idx"), idx, false);
    } catch (const std::exception&) {
    }
    {
      std::lock_guard lock(mutex_);
      stats_.packs++;
      stats_.wire_bytes += b.data.size() + idx.size();
    }
    b = PackBuilder{};
  }
  // Every worker's partial pack, in parallel.
  void flush_all() {
    run_workers(builders_.size(), workers(), [&](unsigned, std::size_t i) { flush(builders_[i]); });
  }

 private:
  Backend& backend_;
  const fs::path& index_cache_;
  const TransferOptions& options_;
  TransferStats& stats_;
  std::mutex mutex_;
  std::vector<PackBuilder> builders_;
};

// Plan of one round: small objects whole; large ones cut into chunks (hashed
// here, so chunks the remote already has are skipped) plus a recipe, kept
// in `recipes` until every chunk is sent.
std::vector<PushItem> plan_round(Cache& cache, const RemoteIndex& remote,
                                 const std::vector<const Sha256Bytes*>& to_send,
                                 const std::vector<std::uint64_t>& sizes, std::size_t begin, std::size_t end,
                                 const TransferOptions& options, std::set<std::string>& claimed,
                                 std::vector<std::pair<std::string, Recipe>>& recipes, TransferStats& stats) {
  // Hex names for this round only.
  std::vector<std::string> names(end - begin);
  for (std::size_t k = 0; k < names.size(); ++k) names[k] = sha256_to_hex(*to_send[begin + k]);
  std::vector<std::vector<PushItem>> large(end - begin);
  std::vector<Recipe> cut(end - begin);
  run_workers(end - begin, std::max(1u, std::min(options.jobs, default_jobs())), [&](unsigned, std::size_t k) {
    std::size_t i = begin + k;
    if (sizes[i] < options.chunk_threshold) return;
    check_interrupted();
    MappedFile file(cache.object_path(names[k]));
    std::string_view bytes = file.view();
    cut[k].size = bytes.size();
    std::uint64_t off = 0;
    for (std::uint64_t len : cdc_split(bytes)) {
      std::string ch = sha256_hex(bytes.substr(off, len));
      cut[k].chunks.emplace_back(ch, len);
      large[k].push_back({BlobKind::chunk, ch, names[k], off, len, false});
      off += len;
    }
  });
  std::vector<PushItem> items;
  for (std::size_t k = 0; k < end - begin; ++k) {
    std::size_t i = begin + k;
    if (sizes[i] < options.chunk_threshold) {
      items.push_back({BlobKind::object, names[k], names[k], 0, sizes[i], true});
      continue;
    }
    for (auto& it : large[k]) {
      if (remote.has_chunk(it.hash)) {
        ++stats.reused_chunks;
        continue;
      }
      if (claimed.insert(it.hash).second) items.push_back(std::move(it));
    }
    recipes.emplace_back(names[k], std::move(cut[k]));
  }
  return items;
}

}  // namespace

TransferStats push_objects(Backend& backend, Cache& cache, const fs::path& index_cache,
                           const std::set<std::string>& hashes, const TransferOptions& options) {
  HashSet set;
  for (const auto& h : hashes) set.insert(h);
  return push_objects(backend, cache, index_cache, set, options);
}

TransferStats push_objects(Backend& backend, Cache& cache, const fs::path& index_cache, const HashSet& hashes,
                           const TransferOptions& options) {
  auto t0 = Clock::now();
  TransferStats stats;
  if (hashes.empty()) return stats;  // nothing to look up: the index is not read
  RemoteIndex remote = RemoteIndex::load(backend, index_cache, options.jobs, &hashes);

  // Pointers into `hashes`, not copies: 8 bytes a file to send, and the
  // hex name is made again per round.
  std::vector<const Sha256Bytes*> to_send;
  std::uint64_t total_bytes = 0;
  std::vector<std::uint64_t> sizes;
  for (const auto& b : hashes.sorted()) {
    std::string h = sha256_to_hex(b);
    if (remote.has_object(h)) {
      ++stats.up_to_date;
    } else if (!cache.has(h)) {
      stats.missing.push_back(h);
    } else {
      to_send.push_back(&b);
      std::error_code ec;
      sizes.push_back(fs::file_size(cache.object_path(h), ec));
      total_bytes += sizes.back();
    }
  }
  // Not a hash at all: neither the cache nor the remote can hold it.
  for (const auto& h : hashes.odd()) stats.missing.push_back(h);

  Progress progress(options, to_send.size(), total_bytes);
  std::mutex stats_mutex;
  PackWriter writer(backend, index_cache, options, stats);
  std::set<std::string> claimed;
  std::vector<std::pair<std::string, Recipe>> recipes;
  // In rounds: one round's plan is held at a time; the packs being filled
  // carry over between rounds.
  const std::size_t round = std::max<std::size_t>(1, options.round_objects);
  for (std::size_t begin = 0; begin < to_send.size(); begin += round) {
    std::size_t end = std::min(to_send.size(), begin + round);
    std::vector<PushItem> items = plan_round(cache, remote, to_send, sizes, begin, end, options, claimed, recipes, stats);
    run_workers(items.size(), writer.workers(), [&](unsigned w, std::size_t i) {
      check_interrupted();
      const PushItem& it = items[i];
      std::string raw = read_range(cache.object_path(it.object), it.offset, it.length);
      writer.builder(w).add(it.kind, it.hash, raw, options.zstd_level);
      progress.add(it.counts_object ? 1 : 0, it.length);
      if (it.kind == BlobKind::chunk) {
        std::lock_guard lock(stats_mutex);
        stats.chunks++;
      }
      writer.flush_if_full(writer.builder(w));
    });
  }
  writer.flush_all();

  // Recipes last, after every chunk they name is committed: a recipe on the
  // remote always means its chunks are there.
  PackBuilder& recipe_pack = writer.builder(0);
  for (const auto& [hash, recipe] : recipes) {
    std::string text = serialize_recipe(recipe);
    recipe_pack.add(BlobKind::recipe, hash, text, 3);
    cache_recipe(index_cache, hash, text);
    progress.add(1, 0);
    writer.flush_if_full(recipe_pack);
  }
  writer.flush(recipe_pack);
  progress.stop();

  stats.objects = to_send.size();
  stats.bytes = total_bytes;
  stats.requests = backend.stats().requests;
  stats.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return stats;
}

namespace {

struct FetchBlob {
  std::string pack;
  BlobEntry entry;
};

struct FetchRange {
  std::string pack;
  std::uint64_t start = 0, end = 0;
  std::uint64_t raw = 0;  // the blobs' uncompressed bytes
  std::vector<BlobEntry> blobs;
};

// Neighbouring blobs of a pack become one range read. Their uncompressed
// bytes are capped too (small files compress 10-100x, so 8 MiB compressed
// can be half a million files), which bounds a range's work between checks
// for an interrupt.
std::vector<FetchRange> coalesce(std::vector<FetchBlob>&& blobs) {
  std::sort(blobs.begin(), blobs.end(), [](const FetchBlob& a, const FetchBlob& b) {
    return std::tie(a.pack, a.entry.offset) < std::tie(b.pack, b.entry.offset);
  });
  std::vector<FetchRange> out;
  constexpr std::uint64_t max_gap = 256 * 1024, max_span = 8ull << 20, max_raw = 32ull << 20;
  for (auto& b : blobs) {
    std::uint64_t s = b.entry.offset, e = b.entry.offset + b.entry.length;
    FetchRange* last = out.empty() || out.back().pack != b.pack ? nullptr : &out.back();
    if (last && s >= last->end && s <= last->end + max_gap && e - last->start <= max_span &&
        last->raw + b.entry.size <= max_raw) {
      last->end = e;
    } else if (last && s < last->end) {
      last->end = std::max(last->end, e);  // same blob listed twice
    } else {
      out.push_back({std::move(b.pack), s, e, 0, {}});
      last = &out.back();
    }
    last->raw += b.entry.size;
    last->blobs.push_back(std::move(b.entry));
  }
  return out;
}

// Downloads ranges in parallel; each blob is decompressed, verified and
// handed to `accept` before the next is decompressed, so a job holds its
// range's compressed bytes and one blob (holding a whole range's blobs
// decompressed until all were verified took up to 32 MiB a job: a fresh
// clone's first status at 1M files peaked at 145 MB fetching its folder
// objects). A range with a bad blob is downloaded again (a corrupted or
// truncated response) and goes on after the blobs already handed on; after
// `attempts` tries it is an error.
void download(Backend& backend, const std::vector<FetchRange>& ranges, unsigned jobs, Progress* progress,
              std::atomic<std::uint64_t>& wire,
              const std::function<void(const BlobEntry&, std::string&&)>& accept) {
  constexpr int attempts = 4;
  run_workers(ranges.size(), jobs, [&](unsigned, std::size_t i) {
    const FetchRange& r = ranges[i];
    std::size_t accepted = 0;  // blobs handed on (verified): a retry does not hand them on again
    for (int attempt = 1;; ++attempt) {
      check_interrupted();
      try {
        std::string bytes = backend.get_range(pack_key(r.pack), r.start, r.end - r.start);
        wire += bytes.size();
        for (; accepted < r.blobs.size(); ++accepted) {
          const BlobEntry& b = r.blobs[accepted];
          std::string where = backend.describe() + "/" + pack_key(r.pack) + " (" + b.hash.substr(0, 12) + ")";
          std::string raw = zstd_decompress(std::string_view(bytes).substr(b.offset - r.start, b.length), b.size, where);
          // A recipe is checked when its object is assembled (whole-object hash).
          if (b.kind != BlobKind::recipe && sha256_hex(raw) != b.hash)
            throw RemoteError(where + ": corrupt data (its SHA-256 does not match)",
                              "try again; if it persists, the remote is damaged: push again from a clone that has the data");
          std::uint64_t n = raw.size();
          accept(b, std::move(raw));
          if (progress) progress->add(b.kind == BlobKind::chunk ? 0 : 1, n);
        }
        return;
      } catch (const RemoteError&) {
        if (attempt >= attempts) throw;
        std::this_thread::sleep_for(std::chrono::milliseconds(backoff_delay_ms(100, attempt - 1)));
      }
    }
  });
}

}  // namespace

namespace {

struct FetchCounters {
  Progress& progress;
  std::atomic<std::uint64_t> wire{0}, chunks{0};
};

// A large object is assembled in a temp file; its chunks land at their offsets.
struct FetchTarget {
  UniqueFd fd;
  fs::path path;
};

void write_at(const FetchTarget& t, const std::string& raw, std::uint64_t off) {
  std::uint64_t done = 0;
  while (done < raw.size()) {
    ssize_t n = ::pwrite(t.fd.get(), raw.data() + done, raw.size() - done, static_cast<off_t>(off + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("cannot write " + t.path.string(), errno);
    done += static_cast<std::uint64_t>(n);
  }
}

// Downloads `wanted` (each on the remote, whole or as a complete recipe)
// into the cache, every byte verified.
void fetch_round(Backend& backend, Cache& cache, const RemoteIndex& remote,
                 const std::vector<const std::string*>& wanted, unsigned jobs, FetchCounters& counters) {
  std::vector<FetchBlob> blobs;
  std::map<std::string, FetchTarget> targets;
  std::unordered_map<std::string, std::vector<std::pair<FetchTarget*, std::uint64_t>>> chunk_dest;
  fs::path tmp = cache.root() / "tmp";
  fs::create_directories(tmp);
  struct Cleanup {
    std::map<std::string, FetchTarget>& t;
    ~Cleanup() {
      for (auto& [h, x] : t) ::unlink(x.path.c_str());
    }
  } cleanup{targets};
  for (const std::string* wanted_hash : wanted) {
    const std::string& h = *wanted_hash;
    if (auto loc = remote.object(h)) {
      blobs.push_back({std::move(loc->pack), std::move(loc->entry)});
      continue;
    }
    const Recipe& r = *remote.recipe_content(h);
    FetchTarget& t = targets[h];
    t.path = unique_temp_name(tmp, "fetch");
    t.fd = UniqueFd(::open(t.path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!t.fd) throw_errno("cannot write to the cache (" + t.path.string() + ")", errno);
    if (::ftruncate(t.fd.get(), static_cast<off_t>(r.size)) != 0) throw_errno("cannot size " + t.path.string(), errno);
    std::uint64_t off = 0;
    for (auto& [ch, len] : r.chunks) {
      auto& dest = chunk_dest[ch];
      if (dest.empty()) {
        auto loc = remote.chunk(ch);
        blobs.push_back({std::move(loc->pack), std::move(loc->entry)});
      }
      dest.emplace_back(&t, off);
      off += len;
    }
  }
  // Whole objects and chunks, verified before they are used.
  download(backend, coalesce(std::move(blobs)), jobs, &counters.progress, counters.wire,
           [&](const BlobEntry& b, std::string&& raw) {
             if (b.kind == BlobKind::object) {
               cache.add_verified_bytes(b.hash, raw, false);  // download() checked its hash
               return;
             }
             ++counters.chunks;
             for (auto& [t, off] : chunk_dest[b.hash]) write_at(*t, raw, off);
           });
  for (auto& [h, t] : targets) {
    check_interrupted();
    t.fd.reset();
    std::string got = cache.add_file(t.path, {LinkMode::hardlink, LinkMode::copy}, false);
    if (got != h) {
      throw RemoteError("object " + h + " assembled from the remote's chunks has SHA-256 " + got,
                        "the remote is damaged: push again from a clone that has the data");
    }
    counters.progress.add(1, 0);
  }
}

}  // namespace

TransferStats fetch_objects(Backend& backend, Cache& cache, const fs::path& index_cache,
                            const std::set<std::string>& hashes, const TransferOptions& options) {
  HashSet set;
  for (const auto& h : hashes) set.insert(h);
  return fetch_objects(backend, cache, index_cache, set, options);
}

TransferStats fetch_objects(Backend& backend, Cache& cache, const fs::path& index_cache, const HashSet& hashes,
                            const TransferOptions& options) {
  auto t0 = Clock::now();
  TransferStats stats;
  // Pointers into `hashes` (32 bytes a hash): hex names are made per round.
  std::vector<const Sha256Bytes*> wanted;
  wanted.reserve(hashes.sorted().size());
  for (const auto& b : hashes.sorted()) {
    if (cache.has(sha256_to_hex(b))) ++stats.up_to_date;
    else wanted.push_back(&b);
  }
  // Not a hash at all: no cache or remote can hold it.
  for (const auto& h : hashes.odd()) stats.missing.push_back(h);
  if (wanted.empty()) {
    stats.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return stats;
  }
  RemoteIndex remote = RemoteIndex::load(backend, index_cache, options.jobs, &hashes);
  // Those the remote holds, kept in place (no second list).
  std::size_t kept = 0;
  for (const Sha256Bytes* b : wanted) {
    std::string h = sha256_to_hex(*b);
    if (auto loc = remote.object(h)) {
      stats.bytes += loc->entry.size;
    } else if (remote.complete_recipe(h)) {
      stats.bytes += remote.recipe_content(h)->size;
    } else {
      stats.missing.push_back(h);  // or some of its chunks are
      continue;
    }
    wanted[kept++] = b;
  }
  wanted.resize(kept);
  const std::vector<const Sha256Bytes*>& present = wanted;
  cache.expect_verified(present.size());
  Progress progress(options, present.size(), stats.bytes);
  FetchCounters counters{progress};
  // In rounds: the blob list, the ranges and the large objects' temp files
  // are held for one round at a time, so a fetch of N files holds N hashes,
  // not N of each of those.
  const std::size_t per_round = std::max<std::size_t>(1, options.round_objects);
  std::vector<std::string> names;
  std::vector<const std::string*> round;
  for (std::size_t i = 0; i < present.size(); i += per_round) {
    names.clear();
    for (std::size_t k = i; k < std::min(present.size(), i + per_round); ++k) names.push_back(sha256_to_hex(*present[k]));
    round.clear();
    for (const auto& h : names) round.push_back(&h);
    fetch_round(backend, cache, remote, round, std::max(1u, options.jobs), counters);
  }
  cache.sync();
  progress.stop();
  stats.objects = present.size();
  stats.chunks = counters.chunks;
  stats.wire_bytes = counters.wire;
  stats.requests = backend.stats().requests;
  stats.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return stats;
}

namespace {

// Which objects each blob to check belongs to; blobs coalesced into ranges.
struct VerifyPlan {
  std::vector<FetchBlob> blobs;
  std::unordered_map<std::string, std::vector<std::string>> owners;  // blob hash -> objects
};

VerifyPlan plan_verify(const RemoteIndex& remote, const std::set<std::string>& hashes, VerifyReport& report) {
  VerifyPlan plan;
  auto want = [&](const BlobLocation& loc, const std::string& object) {
    auto& owners = plan.owners[loc.entry.hash];
    if (owners.empty()) plan.blobs.push_back({loc.pack, loc.entry});
    owners.push_back(object);
  };
  for (const auto& h : hashes) {
    ++report.objects;
    if (auto loc = remote.object(h)) {
      want(*loc, h);
    } else if (remote.complete_recipe(h)) {
      for (const auto& [ch, len] : remote.recipe_content(h)->chunks) want(*remote.chunk(ch), h);
    } else if (remote.recipe_content(h)) {
      report.missing.push_back(h + " (" + std::to_string(remote.lacking_chunks(h).size()) + " of its chunks)");
    } else {
      report.missing.push_back(h);
    }
  }
  return plan;
}

}  // namespace

VerifyReport verify_objects(Backend& backend, const fs::path& index_cache, const std::set<std::string>& hashes,
                            const TransferOptions& options) {
  VerifyReport report;
  RemoteIndex remote = RemoteIndex::load(backend, index_cache, options.jobs);
  VerifyPlan plan = plan_verify(remote, hashes, report);
  std::vector<FetchRange> ranges = coalesce(std::move(plan.blobs));
  std::mutex mutex;
  std::set<std::string> damaged;
  run_workers(ranges.size(), std::max(1u, options.jobs), [&](unsigned, std::size_t i) {
    check_interrupted();
    const FetchRange& r = ranges[i];
    std::string bytes = backend.get_range(pack_key(r.pack), r.start, r.end - r.start);
    for (const auto& b : r.blobs) {
      std::string where = backend.describe() + "/" + pack_key(r.pack) + " (" + b.hash.substr(0, 12) + ")";
      std::string why;
      try {
        std::string raw = zstd_decompress(std::string_view(bytes).substr(b.offset - r.start, b.length), b.size, where);
        if (sha256_hex(raw) != b.hash) why = where + ": its SHA-256 does not match";
      } catch (const RemoteError& e) {
        why = e.what();
      }
      std::lock_guard lock(mutex);
      ++report.blobs;
      report.bytes += b.size;
      if (!why.empty())
        for (const auto& owner : plan.owners[b.hash])
          if (damaged.insert(owner).second) report.damaged.push_back(owner + ": " + why);
    }
  });
  return report;
}

}  // namespace mlo::remote
