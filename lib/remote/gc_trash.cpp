#include "remote/gc_trash.h"

#include <cstdio>
#include <map>
#include <random>

#include "core/error.h"
#include "remote/layout.h"

namespace mlo::remote {

namespace {

// One level deep (WebDAV listings are Depth 1): trash/<batch>_<pack id>.pack;
// debris from other folders keeps its folder as "runs~NAME".
std::string trash_key(const std::string& batch, const std::string& live_key) {
  std::string rest = live_key.rfind("packs/", 0) == 0 ? live_key.substr(6) : live_key;
  for (char& c : rest)
    if (c == '/') c = '~';
  return "trash/" + batch + "_" + rest;
}

std::string copy_blob(Backend& backend, const std::string& from, const std::string& to) {
  auto bytes = backend.get(from);
  if (!bytes) throw RemoteError(backend.describe() + ": " + from + " vanished while it was being moved",
                                "another gc or restore may be running; run the command again");
  backend.put(to, *bytes);
  return *bytes;
}

}  // namespace

std::string new_trash_batch(std::int64_t now) {
  std::random_device rd;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%010lld-%08x", static_cast<long long>(now), static_cast<unsigned>(rd()));
  return buf;
}

std::int64_t trash_batch_time(const std::string& batch) { return pack_time(batch); }

void move_pack_to_trash(Backend& backend, const std::string& batch, const std::string& id) {
  copy_blob(backend, pack_key(id), trash_key(batch, pack_key(id)));
  copy_blob(backend, index_key(id), trash_key(batch, index_key(id)));
  backend.remove(index_key(id));
  backend.remove(pack_key(id));
}

bool move_to_trash(Backend& backend, const std::string& batch, const std::string& key) {
  auto bytes = backend.get(key);
  if (!bytes) return false;  // gone since the listing (a writer renamed its temp file into place)
  put_verified(backend, trash_key(batch, key), *bytes);
  backend.remove(key);
  return true;
}

std::vector<TrashBatch> list_trash(Backend& backend) {
  std::map<std::string, TrashBatch> batches;
  std::map<std::string, std::map<std::string, int>> files;  // batch -> pack id -> files seen
  for (const auto& b : backend.list("trash/")) {
    std::string rest = b.key.substr(6);
    auto sep = rest.find('_');
    auto dot = rest.rfind('.');
    if (sep == std::string::npos || dot == std::string::npos || dot < sep) continue;
    std::string name = rest.substr(0, sep), ext = rest.substr(dot);
    TrashBatch& t = batches[name];
    t.name = name;
    t.time = trash_batch_time(name);
    t.keys.push_back(b.key);
    t.bytes += b.size;
    if (ext == ".pack" || ext == ".idx") ++files[name][rest.substr(sep + 1, dot - sep - 1)];
  }
  std::vector<TrashBatch> out;
  for (auto& [name, t] : batches) {
    for (const auto& [id, n] : files[name])
      if (n == 2) t.packs.push_back(id);
    out.push_back(std::move(t));
  }
  return out;
}

TrashResult restore_trash(Backend& backend, std::int64_t since, bool dry_run) {
  TrashResult r;
  for (const auto& t : list_trash(backend)) {
    if (t.time < since) continue;
    ++r.batches;
    r.packs += t.packs.size();
    r.bytes += t.bytes;
    r.chosen.push_back(t);
    if (dry_run) continue;
    for (const auto& id : t.packs) {
      if (!backend.has(index_key(id))) {
        copy_blob(backend, trash_key(t.name, pack_key(id)), pack_key(id));
        copy_blob(backend, trash_key(t.name, index_key(id)), index_key(id));
      }
      backend.remove(trash_key(t.name, index_key(id)));
      backend.remove(trash_key(t.name, pack_key(id)));
    }
  }
  return r;
}

TrashResult empty_trash(Backend& backend, std::int64_t before, bool dry_run, const TrashConfirm& confirm) {
  TrashResult r;
  for (auto& t : list_trash(backend)) {
    if (t.time > before) continue;
    ++r.batches;
    r.packs += t.packs.size();
    r.bytes += t.bytes;
    r.chosen.push_back(std::move(t));
  }
  if (dry_run || r.chosen.empty() || (confirm && !confirm(r))) return r;
  for (const auto& t : r.chosen)
    for (const auto& k : t.keys) backend.remove(k);
  return r;
}

}  // namespace mlo::remote
