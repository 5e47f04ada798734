#include "pipeline/run_cache.h"

#include "core/error.h"
#include "core/fs.h"
#include "core/interrupt.h"
#include "core/safe_path.h"
#include "data/manifest.h"
#include "data/tree.h"
#include "pipeline/runs.h"
#include "repo/repo.h"

namespace mlo {

using json = nlohmann::json;

namespace {

// The members of an object-valued field (a copy: iterating value(...).items() would dangle).
std::vector<std::pair<std::string, json>> members(const json& j, const char* key) {
  std::vector<std::pair<std::string, json>> out;
  if (j.is_object() && j.contains(key) && j[key].is_object())
    for (auto it = j[key].begin(); it != j[key].end(); ++it) out.emplace_back(it.key(), it.value());
  return out;
}

std::string join(const std::string& dir, const std::string& name) { return dir + "/" + name; }

}  // namespace

RunCache::RunCache(Repo& repo, fs::path tmp)
    : repo_(repo), cache_(repo.cache()), tmp_(std::move(tmp)), modes_(repo.link_modes()) {}

bool RunCache::all_stored(const json& record, const char* field) const {
  for (const auto& [path, o] : members(record, field)) {
    std::string h = o.value("sha256", "");
    if (!cache_.has(h)) return false;
    if (o.value("type", "file") != "dir") continue;
    try {  // a folder: its files too (a pull may have brought the manifest only)
      for (const auto& e : read_manifest(cache_, h, path).entries)
        if (!cache_.has(e.sha256)) return false;
    } catch (const Error&) {
      return false;
    }
  }
  return true;
}

std::optional<json> RunCache::lookup(const std::string& key) const {
  std::optional<json> cached = find_run_by_key(repo_, key);
  if (cached && (!cached->contains("metric_files") || !all_stored(*cached, "outs") ||
                 !all_stored(*cached, "metric_files")))
    cached.reset();
  return cached;
}

void RunCache::restore_file(const TreeWriter& tree, const std::string& rel, const std::string& hash,
                            bool executable) const {
  // Built beside the repo's temp files, then renamed into place beneath the
  // root: a symlink on the way is refused, one at `rel` is replaced.
  fs::path temp = unique_temp_name(tmp_, "restore");
  try {
    cache_.materialize(hash, temp, modes_, executable);
    tree.place(temp, rel);
  } catch (...) {
    std::error_code ec;
    fs::remove(temp, ec);
    throw;
  }
}

void RunCache::restore_dir(const TreeWriter& tree, const std::string& rel, const std::string& manifest_hash) const {
  Manifest m = read_manifest(cache_, manifest_hash, rel);
  tree.remove_all(rel);
  tree.open_dir(rel, true);
  for (const auto& e : m.entries) restore_file(tree, join(rel, e.path), e.sha256, e.executable);
}

void RunCache::restore(const fs::path& root, const json& record) const {
  TreeWriter tree(root, "run record " + record.value("run_id", std::string("?")));
  for (const auto& [path, o] : members(record, "outs")) {
    if (o.value("type", "file") == "dir") {
      restore_dir(tree, path, o.value("sha256", ""));
    } else {
      if (fs::is_directory(fs::symlink_status(tree.resolve(path)))) tree.remove_all(path);
      restore_file(tree, path, o.value("sha256", ""));
    }
  }
  // Metrics files: rewritten from the record (their bytes are small and in git).
  for (const auto& [path, m] : members(record, "metric_files")) {
    std::string h = m.value("sha256", "");
    if (cache_.has(h)) tree.write_file(path, cache_.read(h));
  }
}

void RunCache::backup(const fs::path& root, PathHasher& hasher, const StageDef& s) const {
  TreeWriter tree(root, s.where);
  bool added = false;
  // What lies behind a symlink is not this tree's output: it is not kept
  // (and the link itself is replaced, never written through).
  auto behind_link = [&](const std::string& rel) {
    try {
      tree.check_parents(rel);
    } catch (const InputError&) {
      return true;
    }
    return fs::is_symlink(tree.resolve(rel));
  };
  auto keep = [&](const std::string& rel, const std::string& hash) {
    if (cache_.has(hash) || behind_link(rel)) return;
    cache_.add_file(tree.resolve(rel), {LinkMode::copy}, false);
    added = true;
  };
  for (const auto& o : s.outs) {
    if (behind_link(o)) continue;
    auto h = hasher.hash(o);
    if (!h) continue;
    if (!h->dir) {
      keep(o, h->sha256);
      continue;
    }
    for (const auto& e : hasher.manifest(o).entries) keep(join(o, e.path), e.sha256);
  }
  if (added) cache_.sync();
}

void RunCache::clear_outputs(const fs::path& root, const StageDef& s) const {
  TreeWriter tree(root, s.where);
  for (const auto& o : s.outs) tree.remove_all(o);
  for (const auto& m : s.metrics) tree.remove_all(m);
  for (const auto& o : s.outs) tree.check_parents(o, true);
  for (const auto& m : s.metrics) tree.check_parents(m, true);
}

// A tree manifest (one object per folder, data/tree.h): a one-file change
// stores that folder's object and its parents', and push moves only those.
json RunCache::store_folder_manifest(const Manifest& m) const {
  json out = {{"size", m.total_size()}, {"type", "dir"}, {"files", m.entries.size()}};
  if (flat_stage_manifests()) {
    out["sha256"] = cache_.add_bytes(serialize_manifest(m), false);
    return out;
  }
  out["sha256"] = build_tree(m, [&](const std::string&, const std::string& bytes) { cache_.add_bytes(bytes, false); });
  out["manifest_version"] = 2;
  return out;
}

json RunCache::store_output(const fs::path& root, const std::string& o) const {
  fs::path abs = root / o;
  if (fs::is_directory(abs)) {
    Manifest m;
    for (auto it = fs::recursive_directory_iterator(abs); it != fs::recursive_directory_iterator(); ++it) {
      check_interrupted();
      if (!it->is_regular_file()) continue;
      ManifestEntry e;
      e.path = it->path().lexically_relative(abs).generic_string();
      e.size = it->file_size();
      e.executable = (fs::status(it->path()).permissions() & fs::perms::owner_exec) != fs::perms::none;
      e.sha256 = cache_.add_file(it->path(), {LinkMode::reflink, LinkMode::copy}, false);
      m.entries.push_back(e);
    }
    m.sort();
    return store_folder_manifest(m);
  }
  std::uint64_t size = fs::file_size(abs);
  std::string h = cache_.add_file(abs, {LinkMode::reflink, LinkMode::copy}, false);
  return {{"sha256", h}, {"size", size}, {"type", "file"}};
}

}  // namespace mlo
