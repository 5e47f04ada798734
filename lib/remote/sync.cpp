#include "remote/sync.h"

#include <algorithm>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "data/manifest.h"
#include "data/pointer.h"
#include "repo/repo.h"

namespace mlo::remote {

namespace {

// Pointer files (repo-relative) under `rel` ("" = the whole work tree).
// Skips .git, .mlo and the insides of tracked directories.
void walk_pointers(const fs::path& root, const std::string& rel, std::vector<std::string>& out) {
  std::error_code ec;
  fs::path dir = rel.empty() ? root : root / rel;
  std::vector<fs::path> children;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
    children.push_back(it->path());
  std::set<std::string> names;
  for (auto& c : children) names.insert(c.filename().string());
  for (auto& c : children) {
    std::string name = c.filename().string();
    std::string child_rel = rel.empty() ? name : rel + "/" + name;
    if (rel.empty() && (name == ".git" || name == ".mlo")) continue;
    if (fs::is_directory(fs::symlink_status(c, ec))) {
      if (names.count(name + kPointerSuffix)) continue;  // a tracked directory: data, not pointers
      walk_pointers(root, child_rel, out);
    } else if (data_path_for(child_rel)) {
      out.push_back(child_rel);
    }
  }
}

std::vector<std::string> find_pointers(Repo& repo, const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  if (paths.empty()) {
    walk_pointers(repo.root(), "", out);
  } else {
    for (auto& p : paths) {
      std::string rel = repo.relative(p);
      fs::path abs = repo.root() / rel;
      std::error_code ec;
      if (data_path_for(rel) && fs::is_regular_file(abs, ec)) {
        out.push_back(rel);
      } else if (fs::is_regular_file(repo.root() / pointer_path_for(rel), ec)) {
        out.push_back(pointer_path_for(rel));
      } else if (fs::is_directory(abs, ec)) {
        walk_pointers(repo.root(), rel == "" ? "" : rel, out);
      } else {
        throw InputError(p + ": not tracked by mlo (no " + pointer_path_for(rel) + ")",
                         "run 'mlo data add " + p + "' first, or check the path");
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Pointer load_pointer(Repo& repo, const std::string& pointer_path) {
  return parse_pointer(read_file(repo.root() / pointer_path), pointer_path);
}

unsigned jobs_for(const SyncRequest& request, const RemoteConfig& rc) {
  if (request.jobs > 0) return request.jobs;
  if (auto j = rc.option("jobs"); !j.empty() && std::atoi(j.c_str()) > 0) return static_cast<unsigned>(std::atoi(j.c_str()));
  return 8;
}

TransferOptions transfer_options(const SyncRequest& request, const RemoteConfig& rc, const std::string& verb) {
  TransferOptions o;
  o.jobs = jobs_for(request, rc);
  o.progress = request.progress;
  o.verb = verb;
  if (auto p = rc.option("pack_size"); !p.empty()) o.pack_size = std::max<std::uint64_t>(4096, std::stoull(p));
  return o;
}

void merge_stats(TransferStats& into, const TransferStats& s) {
  into.objects += s.objects;
  into.bytes += s.bytes;
  into.wire_bytes += s.wire_bytes;
  into.chunks += s.chunks;
  into.reused_chunks += s.reused_chunks;
  into.packs += s.packs;
  into.up_to_date += s.up_to_date;
  into.requests = s.requests;
  into.seconds += s.seconds;
  into.missing.insert(into.missing.end(), s.missing.begin(), s.missing.end());
}

}  // namespace

std::unique_ptr<Backend> open_remote(Repo& repo, const std::string& name, RemoteConfig* config_out) {
  RemoteConfig rc = resolve_remote(repo.config(), name);
  if (config_out) *config_out = rc;
  return open_backend(rc);
}

NeededObjects needed_objects(Repo& repo, const std::vector<std::string>& paths) {
  NeededObjects n;
  n.pointers = find_pointers(repo, paths);
  for (auto& pp : n.pointers) {
    Pointer p = load_pointer(repo, pp);
    auto& mine = n.by_pointer[pp];
    mine.insert(p.sha256);
    if (p.type == EntryType::dir && repo.cache().has(p.sha256)) {
      Manifest m = parse_manifest(repo.cache().read(p.sha256), "manifest " + p.sha256 + " of " + pp);
      for (auto& e : m.entries) mine.insert(e.sha256);
    }
    n.objects.insert(mine.begin(), mine.end());
  }
  return n;
}

SyncResult push(Repo& repo, const SyncRequest& request) {
  SyncResult r;
  auto backend = open_remote(repo, request.remote, &r.remote);
  NeededObjects need = needed_objects(repo, request.paths);
  r.pointers = need.pointers;
  r.stats = push_objects(*backend, repo.cache(), index_cache_dir(repo.cache_dir(), r.remote.url), need.objects,
                         transfer_options(request, r.remote, "push"));
  return r;
}

SyncResult fetch(Repo& repo, const SyncRequest& request) {
  SyncResult r;
  auto backend = open_remote(repo, request.remote, &r.remote);
  auto opts = transfer_options(request, r.remote, "fetch");
  fs::path idx = index_cache_dir(repo.cache_dir(), r.remote.url);
  // Round 1: what the pointers name (files and manifests).
  NeededObjects need = needed_objects(repo, request.paths);
  r.pointers = need.pointers;
  std::set<std::string> first;
  for (auto& pp : need.pointers) first.insert(load_pointer(repo, pp).sha256);
  merge_stats(r.stats, fetch_objects(*backend, repo.cache(), idx, first, opts));
  // Round 2: the files listed in the manifests fetched (or already cached).
  std::set<std::string> second;
  for (auto& h : needed_objects(repo, request.paths).objects)
    if (!first.count(h)) second.insert(h);
  if (!second.empty()) merge_stats(r.stats, fetch_objects(*backend, repo.cache(), idx, second, opts));
  return r;
}

RemoteStatus remote_status(Repo& repo, const SyncRequest& request) {
  RemoteStatus st;
  auto backend = open_remote(repo, request.remote, &st.remote);
  NeededObjects need = needed_objects(repo, request.paths);
  RemoteIndex index =
      RemoteIndex::load(*backend, index_cache_dir(repo.cache_dir(), st.remote.url), jobs_for(request, st.remote));
  for (auto& pp : need.pointers) {
    RemoteStatusEntry e;
    e.pointer = pp;
    e.path = *data_path_for(pp);
    for (auto& h : need.by_pointer[pp]) {
      ++e.objects;
      if (!index.has_object(h)) ++e.missing_remote;
      if (!repo.cache().has(h)) ++e.missing_cache;
    }
    st.entries.push_back(e);
  }
  return st;
}

}  // namespace mlo::remote
