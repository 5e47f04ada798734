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
  Progress(bool on, const std::string& verb, std::uint64_t total_objects, std::uint64_t total_bytes) {
    if (on && total_objects > 0) phase_.emplace(verb, total_objects, total_bytes, "objects");
  }
  void add(std::uint64_t objects, std::uint64_t bytes) {
    if (phase_) phase_->add(objects, bytes);
  }
  void stop() { phase_.reset(); }

 private:
  std::optional<ProgressPhase> phase_;
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

TransferStats push_objects(Backend& backend, Cache& cache, const fs::path& index_cache,
                           const std::set<std::string>& hashes, const TransferOptions& options) {
  auto t0 = Clock::now();
  TransferStats stats;
  RemoteIndex remote = RemoteIndex::load(backend, index_cache, options.jobs);

  std::vector<std::string> to_send;
  std::uint64_t total_bytes = 0;
  std::vector<std::uint64_t> sizes;
  for (auto& h : hashes) {
    if (remote.has_object(h)) {
      ++stats.up_to_date;
    } else if (!cache.has(h)) {
      stats.missing.push_back(h);
    } else {
      to_send.push_back(h);
      std::error_code ec;
      sizes.push_back(fs::file_size(cache.object_path(h), ec));
      total_bytes += sizes.back();
    }
  }

  // Plan: small objects whole; large ones cut into chunks (hashed here, so
  // chunks the remote already has are skipped) plus a recipe.
  std::vector<std::vector<PushItem>> planned(to_send.size());
  std::vector<Recipe> recipes(to_send.size());
  run_workers(to_send.size(), std::max(1u, std::min(options.jobs, default_jobs())), [&](unsigned, std::size_t i) {
    check_interrupted();
    const std::string& h = to_send[i];
    if (sizes[i] < options.chunk_threshold) {
      planned[i].push_back({BlobKind::object, h, h, 0, sizes[i], true});
      return;
    }
    MappedFile file(cache.object_path(h));
    std::string_view bytes = file.view();
    Recipe& r = recipes[i];
    r.size = bytes.size();
    std::uint64_t off = 0;
    for (std::uint64_t len : cdc_split(bytes)) {
      std::string ch = sha256_hex(bytes.substr(off, len));
      r.chunks.emplace_back(ch, len);
      planned[i].push_back({BlobKind::chunk, ch, h, off, len, false});
      off += len;
    }
  });

  std::vector<PushItem> items;
  std::set<std::string> claimed;
  std::vector<std::size_t> recipe_of;
  for (std::size_t i = 0; i < to_send.size(); ++i) {
    for (auto& it : planned[i]) {
      if (it.kind == BlobKind::chunk) {
        if (remote.chunk(it.hash)) {
          ++stats.reused_chunks;
          continue;
        }
        if (!claimed.insert(it.hash).second) continue;
      }
      items.push_back(std::move(it));
    }
    if (!recipes[i].chunks.empty()) recipe_of.push_back(i);
  }
  planned.clear();

  Progress progress(options.progress, options.verb, to_send.size(), total_bytes);
  std::mutex stats_mutex;
  unsigned jobs = std::max(1u, options.jobs);
  std::vector<PackBuilder> builders(jobs);
  auto flush = [&](PackBuilder& b) {
    if (b.index.blobs.empty()) return;
    check_interrupted();
    put_verified(backend, pack_key(b.index.id), b.data);
    // The index last: only now does the pack's content exist for readers.
    std::string idx = serialize_pack_index(b.index);
    put_verified(backend, index_key(b.index.id), idx);
    try {
      fs::create_directories(index_cache);
      write_file_atomic(index_cache / (b.index.id + ".idx"), idx, false);
    } catch (const std::exception&) {
    }
    {
      std::lock_guard lock(stats_mutex);
      stats.packs++;
      stats.wire_bytes += b.data.size() + idx.size();
    }
    b = PackBuilder{};
  };
  run_workers(
      items.size(), jobs,
      [&](unsigned w, std::size_t i) {
        check_interrupted();
        const PushItem& it = items[i];
        std::string raw = read_range(cache.object_path(it.object), it.offset, it.length);
        builders[w].add(it.kind, it.hash, raw, options.zstd_level);
        progress.add(it.counts_object ? 1 : 0, it.length);
        {
          std::lock_guard lock(stats_mutex);
          if (it.kind == BlobKind::chunk) stats.chunks++;
        }
        if (builders[w].data.size() >= options.pack_size) flush(builders[w]);
      },
      [&](unsigned w) { flush(builders[w]); });
  for (auto& b : builders) flush(b);  // workers that never ran an item

  // Recipes last, after every chunk they name is committed: a recipe on the
  // remote always means its chunks are there.
  PackBuilder recipe_pack;
  for (std::size_t i : recipe_of) {
    std::string text = serialize_recipe(recipes[i]);
    recipe_pack.add(BlobKind::recipe, to_send[i], text, 3);
    cache_recipe(index_cache, to_send[i], text);
    progress.add(1, 0);
    if (recipe_pack.data.size() >= options.pack_size) flush(recipe_pack);
  }
  flush(recipe_pack);
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
  std::vector<BlobEntry> blobs;
};

std::vector<FetchRange> coalesce(std::vector<FetchBlob> blobs) {
  std::sort(blobs.begin(), blobs.end(), [](const FetchBlob& a, const FetchBlob& b) {
    return std::tie(a.pack, a.entry.offset) < std::tie(b.pack, b.entry.offset);
  });
  std::vector<FetchRange> out;
  constexpr std::uint64_t max_gap = 256 * 1024, max_span = 8ull << 20;
  for (auto& b : blobs) {
    std::uint64_t s = b.entry.offset, e = b.entry.offset + b.entry.length;
    if (!out.empty() && out.back().pack == b.pack && s >= out.back().end - 0 && s <= out.back().end + max_gap &&
        e - out.back().start <= max_span) {
      out.back().end = std::max(out.back().end, e);
      out.back().blobs.push_back(b.entry);
    } else if (!out.empty() && out.back().pack == b.pack && s < out.back().end) {
      out.back().blobs.push_back(b.entry);  // same blob listed twice
      out.back().end = std::max(out.back().end, e);
    } else {
      out.push_back({b.pack, s, e, {b.entry}});
    }
  }
  return out;
}

// Downloads ranges in parallel; each blob is decompressed and verified,
// then handed to `accept`. A range with a bad blob is downloaded again (a
// corrupted or truncated response); after `attempts` tries it is an error.
void download(Backend& backend, const std::vector<FetchRange>& ranges, unsigned jobs, Progress* progress,
              std::atomic<std::uint64_t>& wire,
              const std::function<void(const BlobEntry&, std::string&&)>& accept) {
  constexpr int attempts = 4;
  run_workers(ranges.size(), jobs, [&](unsigned, std::size_t i) {
    const FetchRange& r = ranges[i];
    for (int attempt = 1;; ++attempt) {
      check_interrupted();
      try {
        std::string bytes = backend.get_range(pack_key(r.pack), r.start, r.end - r.start);
        wire += bytes.size();
        std::vector<std::pair<const BlobEntry*, std::string>> verified;
        for (auto& b : r.blobs) {
          std::string where = backend.describe() + "/" + pack_key(r.pack) + " (" + b.hash.substr(0, 12) + ")";
          std::string raw = zstd_decompress(std::string_view(bytes).substr(b.offset - r.start, b.length), b.size, where);
          // A recipe is checked when its object is assembled (whole-object hash).
          if (b.kind != BlobKind::recipe && sha256_hex(raw) != b.hash)
            throw RemoteError(where + ": corrupt data (its SHA-256 does not match)",
                              "try again; if it persists, the remote is damaged: push again from a clone that has the data");
          verified.emplace_back(&b, std::move(raw));
        }
        for (auto& [b, raw] : verified) {
          std::uint64_t n = raw.size();
          accept(*b, std::move(raw));
          if (progress) progress->add(b->kind == BlobKind::chunk ? 0 : 1, n);
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

TransferStats fetch_objects(Backend& backend, Cache& cache, const fs::path& index_cache,
                            const std::set<std::string>& hashes, const TransferOptions& options) {
  auto t0 = Clock::now();
  TransferStats stats;
  std::vector<std::string> wanted;
  for (auto& h : hashes) {
    if (cache.has(h)) ++stats.up_to_date;
    else wanted.push_back(h);
  }
  if (wanted.empty()) {
    stats.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return stats;
  }
  RemoteIndex remote = RemoteIndex::load(backend, index_cache, options.jobs);
  std::vector<FetchBlob> objects;
  std::map<std::string, const Recipe*> recipes;  // large objects: their chunk lists (read by the index load)
  std::uint64_t total_bytes = 0;
  for (auto& h : wanted) {
    if (auto* loc = remote.object(h)) {
      objects.push_back({loc->pack, loc->entry});
      total_bytes += loc->entry.size;
    } else if (remote.complete_recipe(h)) {
      recipes[h] = remote.recipe_content(h);
      total_bytes += recipes[h]->size;
    } else {
      stats.missing.push_back(h);  // or some of its chunks are
    }
  }
  unsigned jobs = std::max(1u, options.jobs);
  Progress progress(options.progress, options.verb, objects.size() + recipes.size(), total_bytes);
  std::atomic<std::uint64_t> wire{0};
  // Each large object is assembled in a temp file; chunks land at their offsets.
  struct Target {
    UniqueFd fd;
    fs::path path;
  };
  std::map<std::string, Target> targets;
  std::unordered_map<std::string, std::vector<std::pair<Target*, std::uint64_t>>> chunk_dest;
  std::vector<FetchBlob> blobs = objects;
  fs::path tmp = cache.root() / "tmp";
  fs::create_directories(tmp);
  struct Cleanup {
    std::map<std::string, Target>& t;
    ~Cleanup() {
      for (auto& [h, x] : t) ::unlink(x.path.c_str());
    }
  } cleanup{targets};
  for (auto& [h, rp] : recipes) {
    const Recipe& r = *rp;
    Target& t = targets[h];
    t.path = unique_temp_name(tmp, "fetch");
    t.fd = UniqueFd(::open(t.path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!t.fd) throw_errno("cannot write to the cache (" + t.path.string() + ")", errno);
    if (::ftruncate(t.fd.get(), static_cast<off_t>(r.size)) != 0) throw_errno("cannot size " + t.path.string(), errno);
    std::uint64_t off = 0;
    for (auto& [ch, len] : r.chunks) {
      auto& dest = chunk_dest[ch];
      if (dest.empty()) blobs.push_back({remote.chunk(ch)->pack, remote.chunk(ch)->entry});
      dest.emplace_back(&t, off);
      off += len;
    }
  }

  // Whole objects and chunks, verified before they are used.
  std::atomic<std::uint64_t> chunks{0};
  download(backend, coalesce(blobs), jobs, &progress, wire, [&](const BlobEntry& b, std::string&& raw) {
    if (b.kind == BlobKind::object) {
      cache.add_verified_bytes(b.hash, raw, false);  // download() checked its hash
      return;
    }
    ++chunks;
    for (auto& [t, off] : chunk_dest[b.hash]) {
      std::uint64_t done = 0;
      while (done < raw.size()) {
        ssize_t n = ::pwrite(t->fd.get(), raw.data() + done, raw.size() - done, static_cast<off_t>(off + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw_errno("cannot write " + t->path.string(), errno);
        done += static_cast<std::uint64_t>(n);
      }
    }
  });
  for (auto& [h, t] : targets) {
    check_interrupted();
    t.fd.reset();
    std::string got = cache.add_file(t.path, {LinkMode::hardlink, LinkMode::copy}, false);
    if (got != h) {
      throw RemoteError("object " + h + " assembled from the remote's chunks has SHA-256 " + got,
                        "the remote is damaged: push again from a clone that has the data");
    }
    progress.add(1, 0);
  }
  cache.sync();
  progress.stop();
  stats.objects = objects.size() + targets.size();
  stats.bytes = total_bytes;
  stats.chunks = chunks;
  stats.wire_bytes = wire;
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
    if (const BlobLocation* loc = remote.object(h)) {
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
  std::vector<FetchRange> ranges = coalesce(plan.blobs);
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
