#include "remote/gc.h"

#include <chrono>
#include <mutex>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/parallel.h"
#include "remote/layout.h"
#include "remote/sync.h"
#include "repo/repo.h"

namespace mlo::remote {

RemoteGcResult remote_gc(Repo& repo, const RemoteGcOptions& options) {
  RemoteGcResult r;
  r.dry_run = options.dry_run;
  RemoteConfig rc;
  auto backend = open_remote(repo, options.remote, &rc);
  r.remote = rc.name;
  r.refs = collect_references(repo, options.scope, options.extra_sources);
  if (!r.refs.broken.empty() && !options.skip_broken)
    throw InputError("cannot tell what the remote must keep: " + r.refs.broken.front().message +
                         (r.refs.broken.size() > 1 ? " (and " + std::to_string(r.refs.broken.size() - 1) + " more)" : ""),
                     "fix or fetch what is missing ('mlo fetch'), or pass --skip-broken to remove anyway");
  if (!options.grace_seconds && !options.dry_run) {
    // Nothing to check here: grace 0 is the user's explicit choice.
  }
  fs::path idx = index_cache_dir(repo.cache_dir(), rc.url);
  RemoteIndex index = RemoteIndex::load(*backend, idx, options.jobs);

  // Runs the remote lists (possibly pushed by clones this one has not
  // fetched from) keep their records and logs: records are fetched if
  // missing here (they are small) to learn their logs.
  {
    std::set<std::string> records;
    for (const auto& [id, hash] : remote_runs(*backend, idx, options.jobs)) {
      records.insert(hash);
      r.refs.add(hash, "run " + id + " (listed on the remote)");
    }
    std::set<std::string> absent;
    for (const auto& h : records)
      if (!repo.cache().has(h) && index.has_object(h)) absent.insert(h);
    if (!absent.empty()) {
      TransferOptions topts;
      topts.jobs = options.jobs;
      topts.verb = "fetch";
      fetch_objects(*backend, repo.cache(), idx, absent, topts);
    }
    for (const auto& h : records) {
      if (!repo.cache().has(h)) continue;
      auto rec = nlohmann::json::parse(repo.cache().read(h), nullptr, false);
      if (rec.is_object() && rec.contains("log") && rec["log"].is_string())
        r.refs.add(rec["log"].get<std::string>(), "log of run " + rec.value("run_id", std::string("?")));
    }
  }

  // Live recipes name live chunks: read them (they are small).
  std::vector<const BlobLocation*> live_recipes;
  for (auto& [id, pack] : index.packs())
    for (auto& b : pack.blobs)
      if (b.kind == BlobKind::recipe && r.refs.needs(b.hash)) live_recipes.push_back(index.recipe(b.hash));
  std::set<std::string> live_chunks;
  std::mutex mutex;
  parallel_for(live_recipes.size(), options.jobs, [&](std::size_t i) {
    const BlobLocation* loc = live_recipes[i];
    std::string z = backend->get_range(pack_key(loc->pack), loc->entry.offset, loc->entry.length);
    Recipe rec = parse_recipe(zstd_decompress(z, loc->entry.size, "recipe " + loc->entry.hash), "recipe");
    std::lock_guard lock(mutex);
    for (auto& [h, s] : rec.chunks) live_chunks.insert(h);
  });
  auto live = [&](const BlobEntry& b) {
    return b.kind == BlobKind::chunk ? live_chunks.count(b.hash) != 0 : r.refs.needs(b.hash);
  };

  std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  for (auto& [id, pack] : index.packs()) {
    ++r.packs;
    if (pack_time(id) > now - options.grace_seconds) {
      ++r.packs_recent;
      r.blobs_kept += pack.blobs.size();
      continue;
    }
    std::vector<BlobEntry> keep;
    std::uint64_t dead_bytes = 0;
    for (auto& b : pack.blobs) {
      if (live(b)) keep.push_back(b);
      else dead_bytes += b.length;
    }
    r.blobs_kept += keep.size();
    if (keep.size() == pack.blobs.size()) continue;
    r.blobs_removed += pack.blobs.size() - keep.size();
    r.bytes_removed += dead_bytes;
    if (keep.empty()) {
      r.removed_packs.push_back(id);
      if (options.dry_run) continue;
      backend->remove(index_key(id));  // readers stop seeing it first
      backend->remove(pack_key(id));
      continue;
    }
    r.rewritten_packs.push_back(id);
    if (options.dry_run) continue;
    PackIndex fresh;
    fresh.id = new_pack_id();
    fresh.created = pack_time(fresh.id);
    std::string data;
    for (auto& b : keep) {
      std::string z = backend->get_range(pack_key(id), b.offset, b.length);
      fresh.blobs.push_back({b.kind, b.hash, data.size(), b.length, b.size});
      data += z;
    }
    backend->put(pack_key(fresh.id), data);
    backend->put(index_key(fresh.id), serialize_pack_index(fresh));
    backend->remove(index_key(id));
    backend->remove(pack_key(id));
  }
  return r;
}

}  // namespace mlo::remote
