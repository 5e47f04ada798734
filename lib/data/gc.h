// mlo gc: delete cache objects no root needs (see data/references.h), and
// mlo fsck: re-hash every cached object and look for needed ones that are
// missing. Safety rules (ARCHITECTURE.md, "Cache maintenance"):
//  - gc holds the repository's "data" lock, the one `mlo data add/commit`
//    hold while they store objects and write pointers, so it never runs in
//    the middle of one of them;
//  - objects stored or linked less than `grace_seconds` ago are kept, which
//    covers writers that do not take that lock (and clocks that disagree);
//  - a root that can not be read (damaged pointer, missing or damaged
//    manifest) stops gc before it deletes anything, unless `skip_broken`.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/references.h"

namespace mlo {

class Repo;

// Parses "0", "90s", "30m", "1h", "7d" (a bare number means seconds).
// Throws UsageError naming `option` on anything else.
std::int64_t parse_duration_seconds(const std::string& text, const std::string& option);

struct GcOptions {
  ReferenceScope scope;
  std::vector<ReferenceSource> extra_sources;
  std::int64_t grace_seconds = 3600;
  bool dry_run = false;
  bool skip_broken = false;  // delete even though some roots could not be read
  // Needed hashes held at once (32 bytes each); more make gc walk the roots
  // again in passes by the hashes' first byte (config gc.pass_objects).
  std::size_t pass_objects = std::size_t{1} << 21;
};

struct GcObject {
  std::string hash;
  std::uint64_t size = 0;
};

// Objects listed by name in a GcResult; the counts and bytes cover all.
inline constexpr std::size_t kMaxListedRemoved = 10000;
inline constexpr std::size_t kMaxListedMissing = kMaxListedRemoved;

struct GcResult {
  bool dry_run = false;
  // Removed (or, with dry_run, that would be), sorted by hash: the first
  // kMaxListedRemoved met, so a gc of millions does not hold them all.
  std::vector<GcObject> removed;
  std::uint64_t removed_count = 0;
  std::uint64_t removed_bytes = 0;
  std::size_t kept = 0;            // objects kept because a root needs them
  std::size_t kept_recent = 0;     // unneeded but inside the grace period
  std::uint64_t kept_recent_bytes = 0;
  std::size_t temp_files = 0;      // stale temp files removed (or that would be)
  std::size_t passes = 0;          // walks of the roots that were swept (1 unless gc.pass_objects was exceeded)
  References refs;                 // the last pass's (its broken ones are every pass's)
};

// Throws InputError (exit 3) when roots are broken and !skip_broken, or when
// another command holds the lock for longer than core.lock_timeout.
GcResult collect_garbage(Repo& repo, const GcOptions& options);

struct FsckOptions {
  ReferenceScope scope;  // which roots must have their objects present
  std::vector<ReferenceSource> extra_sources;
  bool repair = false;   // move damaged objects to .mlo/cache/corrupt/
  unsigned jobs = 0;     // 0: default_jobs()
  std::size_t pass_objects = std::size_t{1} << 21;  // as GcOptions'
};

struct FsckCorrupt {
  std::string hash;
  std::uint64_t size = 0;
  std::string actual;     // the hash of the bytes found ("" when unreadable)
  std::string error;      // read error, if any
  std::string needed_by;  // a root that needs it ("" when none)
  std::string moved_to;   // with repair: where it went
};

struct FsckMissing {
  std::string hash;
  std::string needed_by;
};

struct FsckResult {
  std::size_t objects = 0;
  std::uint64_t bytes = 0;
  std::vector<FsckCorrupt> corrupt;
  // Missing objects: the kMaxListedMissing lowest hashes (a fresh clone
  // before its pull misses every file), sorted by where they are needed,
  // then by hash; missing_count counts all.
  std::vector<FsckMissing> missing;
  std::uint64_t missing_count = 0;
  std::vector<BrokenReference> broken;  // pointers/manifests that could not be read
  std::size_t unreferenced = 0;         // objects no root in scope needs (gc would remove)
  std::size_t pointers = 0;
  std::size_t passes = 0;               // shares of the references walked (1 below gc.pass_objects)
  bool ok() const { return corrupt.empty() && missing.empty() && broken.empty(); }
};

FsckResult fsck(Repo& repo, const FsckOptions& options);

}  // namespace mlo
