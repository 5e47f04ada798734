// Moving objects between the local cache and a remote: push packs the
// objects the remote lacks (small ones together, large ones split into
// content-defined chunks the remote does not have yet); fetch downloads
// what the cache lacks with coalesced range reads and verifies every byte
// against its hash before it enters the cache.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "core/format.h"
#include "core/hash_set.h"
#include "remote/backend.h"
#include "remote/layout.h"
#include "store/cache.h"

namespace mlo::remote {

struct TransferOptions {
  unsigned jobs = 8;                       // parallel requests
  std::uint64_t pack_size = 16ull << 20;   // target compressed bytes per pack
  std::size_t pack_blobs = 8192;           // blobs per pack at most (its index stays small)
  std::size_t round_objects = 8192;        // objects planned and moved per round (bounds memory)
  std::uint64_t chunk_threshold = 2ull << 20;  // objects this big or bigger are chunked
  int zstd_level = 1;
  bool progress = false;                   // draw a progress line on stderr
  std::string verb = "push";               // for the progress line
  // Set when several calls make one transfer (a push in batches): the
  // caller has begun the phase, and each call adds what it plans to these
  // totals instead of drawing a line of its own.
  struct Totals {
    std::uint64_t objects = 0, bytes = 0;
  };
  Totals* shared_totals = nullptr;
};

struct TransferStats {
  std::uint64_t objects = 0;        // objects sent / received
  std::uint64_t bytes = 0;          // their uncompressed bytes
  std::uint64_t wire_bytes = 0;     // compressed bytes moved
  std::uint64_t chunks = 0;         // chunks sent (push) / received (fetch)
  std::uint64_t reused_chunks = 0;  // chunks the remote already had (push)
  std::uint64_t packs = 0;          // packs written
  std::uint64_t up_to_date = 0;     // objects already there
  std::uint64_t requests = 0;       // HTTP requests (0 for directories)
  std::vector<std::string> missing; // objects the remote does not have (fetch)
  double seconds = 0;
};

// Where a repository caches a remote's pack indexes (keyed by its URL).
std::filesystem::path index_cache_dir(const std::filesystem::path& cache_root, const std::string& url);

// Sends every object in `hashes` the remote does not have yet. Objects
// missing from the local cache are reported in stats.missing (not sent).
// Held as HashSet (32 bytes a hash), not one string each: a push of
// a million files names a million objects.
TransferStats push_objects(Backend& backend, Cache& cache, const std::filesystem::path& index_cache,
                           const HashSet& hashes, const TransferOptions& options);
TransferStats push_objects(Backend& backend, Cache& cache, const std::filesystem::path& index_cache,
                           const std::set<std::string>& hashes, const TransferOptions& options);

// Downloads every object in `hashes` the cache lacks. Objects the remote
// does not have are listed in stats.missing.
TransferStats fetch_objects(Backend& backend, Cache& cache, const std::filesystem::path& index_cache,
                            const std::set<std::string>& hashes, const TransferOptions& options);
// The same, for the hashes of a whole dataset (32 bytes a hash).
TransferStats fetch_objects(Backend& backend, Cache& cache, const std::filesystem::path& index_cache,
                            const HashSet& hashes, const TransferOptions& options);

// An end-to-end check of the remote for `hashes` (mlo fsck --remote, mlo push
// --verify): a fresh listing (every pack and index present, blobs inside
// their pack's listed size, every chunk a recipe names present with its
// size), then every blob downloaded, decompressed and its SHA-256 checked.
struct VerifyReport {
  std::uint64_t objects = 0;          // objects checked
  std::uint64_t blobs = 0;            // blobs downloaded and hashed
  std::uint64_t bytes = 0;            // their uncompressed bytes
  std::vector<std::string> missing;   // "HASH" or "HASH (N of its chunks)": not wholly on the remote
  std::vector<std::string> damaged;   // "HASH: why": on the remote, but its bytes do not match
};
VerifyReport verify_objects(Backend& backend, const std::filesystem::path& index_cache,
                            const std::set<std::string>& hashes, const TransferOptions& options);

}  // namespace mlo::remote
