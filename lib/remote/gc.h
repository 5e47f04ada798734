// `mlo gc --remote NAME`, the transport half: given what must stay (decided
// above, in lib/app/remote_gc.h), plan which packs go, then move them to the
// remote's trash (lib/remote/gc_trash.h) instead of deleting them.
//
// Rules, all about what a concurrent push may still count on:
//  - a pack uploaded less than `grace_seconds` ago is never touched; its
//    upload time is the later of the time in its id (the pusher's clock) and
//    the time the remote's listing gives (the remote's clock);
//  - a pack whose blobs are all unneeded is moved to the trash (index first,
//    so readers stop seeing it, then the pack); a pack with some needed blobs
//    is rewritten with only those (new pack + index written before the old
//    ones move to the trash);
//  - debris of killed pushes (a pack without its .idx, a writer's temp
//    file, on every backend) is moved to the trash only when older than
//    `debris_age`: a live push writes its .idx seconds after its pack, and
//    a temp file is written continuously; even so, a push re-checks after
//    any gc what it counted on and sends again what is gone;
//  - S3 multipart uploads begun more than `debris_age` ago and never
//    completed (a killed push of a big pack) are aborted: their parts
//    are not objects, so there is nothing to move to the trash.
// Two gc runs never work at once (lib/remote/gc_lock.h), and a push waits
// for a running gc before it verifies what it counted on (lib/app/sync.cpp).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "remote/backend.h"
#include "remote/layout.h"

namespace mlo::remote {

// True for a blob hash (whole object or recipe) that must stay.
using NeededFn = std::function<bool(const std::string& hash)>;

struct RemoteGcOptions {
  std::int64_t grace_seconds = 14 * 86400;
  std::int64_t debris_age = 24 * 3600;
  unsigned jobs = 8;
};

// One pack that loses blobs.
struct PackChange {
  std::string id;
  std::vector<BlobEntry> dead;  // blobs that go
  std::vector<BlobEntry> keep;  // blobs that stay (empty: the whole pack goes)
  std::uint64_t dead_bytes = 0;  // compressed
};

struct RemoteGcPlan {
  std::size_t packs = 0;         // packs on the remote
  std::size_t packs_recent = 0;  // uploaded within the grace period: untouched
  std::size_t blobs_kept = 0;
  std::vector<PackChange> changes;
  std::vector<BlobInfo> debris;  // killed pushes' leftovers older than debris_age
  std::vector<PendingUpload> stale_uploads;  // multipart uploads older than debris_age
  bool uploads_listed = false;     // false: the store cannot list multipart uploads
  Versioning versioning = Versioning::unknown;

  std::size_t blobs_removed() const;
  std::uint64_t bytes_removed() const;
  bool empty() const { return changes.empty() && debris.empty() && stale_uploads.empty(); }
};

// When the remote got each pack (see above), by pack id, from backend.list("packs/").
std::map<std::string, std::int64_t> pack_upload_times(const std::vector<BlobInfo>& listing);

RemoteGcPlan plan_remote_gc(Backend& backend, const RemoteIndex& index, const NeededFn& needed,
                            const RemoteGcOptions& options, std::int64_t now);

struct RemoteGcApplied {
  std::string trash;  // the trash batch the packs went to ("" when none)
  std::vector<std::string> removed_packs;    // moved to the trash whole
  std::vector<std::string> rewritten_packs;  // rewritten, the old one moved to the trash
  std::size_t debris_removed = 0;   // moved to the trash
  std::size_t uploads_aborted = 0;
};
RemoteGcApplied apply_remote_gc(Backend& backend, const RemoteGcPlan& plan, std::int64_t now);

}  // namespace mlo::remote
