#include "remote/gc.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include "core/error.h"
#include "core/log.h"
#include "core/parallel.h"
#include "remote/gc_trash.h"

namespace mlo::remote {

std::size_t RemoteGcPlan::blobs_removed() const {
  std::size_t n = 0;
  for (const auto& c : changes) n += c.dead.size();
  return n;
}

std::uint64_t RemoteGcPlan::bytes_removed() const {
  std::uint64_t n = 0;
  for (const auto& c : changes) n += c.dead_bytes;
  return n;
}

std::map<std::string, std::int64_t> pack_upload_times(const std::vector<BlobInfo>& listing) {
  std::map<std::string, std::int64_t> times;
  for (const auto& b : listing) {
    std::string name = b.key.substr(b.key.rfind('/') + 1);
    auto dot = name.rfind('.');
    if (dot == std::string::npos || (name.compare(dot, 5, ".pack") != 0 && name.compare(dot, 4, ".idx") != 0)) continue;
    std::string id = name.substr(0, dot);
    auto& t = times.try_emplace(id, pack_time(id)).first->second;
    t = std::max(t, b.mtime);
  }
  return times;
}

namespace {

// Chunks named by the recipes that stay (recipes are small: read them all).
std::set<std::string> live_chunks(Backend& backend, const RemoteIndex& index, const NeededFn& needed, unsigned jobs) {
  std::vector<BlobLocation> recipes;
  for (const auto& [id, pack] : index.packs())
    for (const auto& b : pack.blobs)
      if (b.kind == BlobKind::recipe && needed(b.hash))
        if (auto loc = index.recipe(b.hash)) recipes.push_back(std::move(*loc));
  std::set<std::string> chunks;
  std::mutex mutex;
  parallel_for(recipes.size(), std::max(1u, jobs), [&](std::size_t i) {
    const BlobLocation* loc = &recipes[i];
    std::string z = backend.get_range(pack_key(loc->pack), loc->entry.offset, loc->entry.length);
    Recipe rec = parse_recipe(zstd_decompress(z, loc->entry.size, "recipe " + loc->entry.hash), "recipe");
    std::lock_guard lock(mutex);
    for (const auto& [h, s] : rec.chunks) chunks.insert(h);
  });
  return chunks;
}

// Packs without an index, indexes without a pack, temp files: leftovers of
// killed writers, once older than `max_age` (a live push finishes its pair
// within seconds and keeps writing its temp file).
std::vector<BlobInfo> find_debris(Backend& backend, const std::vector<BlobInfo>& listing, std::int64_t max_age,
                                  std::int64_t now) {
  std::map<std::string, std::vector<const BlobInfo*>> pairs;  // pack id -> its .pack/.idx
  for (const auto& b : listing) {
    std::string name = b.key.substr(6);
    auto dot = name.rfind('.');
    if (dot == std::string::npos || name[0] == '.') continue;  // temp files: below
    std::string ext = name.substr(dot);
    if (ext == ".pack" || ext == ".idx") pairs[name.substr(0, dot)].push_back(&b);
  }
  std::vector<BlobInfo> out;
  auto times = pack_upload_times(listing);
  for (const auto& [id, files] : pairs)
    if (files.size() == 1 && now - times[id] > max_age) out.push_back(*files[0]);
  for (const std::string prefix : {"packs/", "runs/", "pushes/"})
    for (const auto& t : backend.list_temp(prefix))
      if (t.mtime > 0 && now - t.mtime > max_age) out.push_back(t);
  return out;
}

std::vector<PendingUpload> stale_uploads(const std::vector<PendingUpload>& uploads, std::int64_t max_age,
                                         std::int64_t now) {
  std::vector<PendingUpload> out;
  for (const auto& u : uploads)
    if (u.initiated > 0 && now - u.initiated > max_age) out.push_back(u);
  return out;
}

}  // namespace

RemoteGcPlan plan_remote_gc(Backend& backend, const RemoteIndex& index, const NeededFn& needed,
                            const RemoteGcOptions& options, std::int64_t now) {
  RemoteGcPlan plan;
  std::vector<BlobInfo> listing = backend.list("packs/");
  auto times = pack_upload_times(listing);
  std::set<std::string> chunks = live_chunks(backend, index, needed, options.jobs);
  auto live = [&](const BlobEntry& b) { return b.kind == BlobKind::chunk ? chunks.count(b.hash) != 0 : needed(b.hash); };
  for (const auto& [id, pack] : index.packs()) {
    ++plan.packs;
    // Not in the listing (gone since the index was read): nothing to do.
    auto t = times.find(id);
    if (t == times.end() || now - t->second < options.grace_seconds) {
      ++plan.packs_recent;
      plan.blobs_kept += pack.blobs.size();
      continue;
    }
    PackChange change{id, {}, {}, 0};
    for (const auto& b : pack.blobs) {
      if (live(b)) {
        change.keep.push_back(b);
      } else {
        change.dead.push_back(b);
        change.dead_bytes += b.length;
      }
    }
    plan.blobs_kept += change.keep.size();
    if (!change.dead.empty()) plan.changes.push_back(std::move(change));
  }
  plan.debris = find_debris(backend, listing, options.debris_age, now);
  if (auto uploads = backend.list_uploads()) {
    plan.uploads_listed = true;
    plan.stale_uploads = stale_uploads(*uploads, options.debris_age, now);
  }
  plan.versioning = backend.versioning();
  return plan;
}

namespace {

// Copies the blobs that stay into a new pack (pack, then its index).
void rewrite_pack(Backend& backend, const PackChange& change) {
  PackIndex fresh;
  fresh.id = new_pack_id();
  fresh.created = pack_time(fresh.id);
  std::string data;
  for (const auto& b : change.keep) {
    std::string z = backend.get_range(pack_key(change.id), b.offset, b.length);
    fresh.blobs.push_back({b.kind, b.hash, data.size(), b.length, b.size});
    data += z;
  }
  backend.put(pack_key(fresh.id), data);
  backend.put(index_key(fresh.id), serialize_pack_index(fresh));
}

}  // namespace

RemoteGcApplied apply_remote_gc(Backend& backend, const RemoteGcPlan& plan, std::int64_t now) {
  RemoteGcApplied done;
  if (!plan.changes.empty() || !plan.debris.empty()) done.trash = new_trash_batch(now);
  for (const auto& change : plan.changes) {
    if (!change.keep.empty()) {
      rewrite_pack(backend, change);
      done.rewritten_packs.push_back(change.id);
    } else {
      done.removed_packs.push_back(change.id);
    }
    move_pack_to_trash(backend, done.trash, change.id);
  }
  for (const auto& d : plan.debris) {
    if (move_to_trash(backend, done.trash, d.key)) ++done.debris_removed;
  }
  for (const auto& u : plan.stale_uploads) {
    try {
      backend.abort_upload(u);
      ++done.uploads_aborted;
    } catch (const RemoteError& e) {  // e.g. a policy that allows listing but not aborting
      log::warn(std::string(e.what()) + " (the upload stays; the rest of gc is done)");
    }
  }
  return done;
}

}  // namespace mlo::remote
