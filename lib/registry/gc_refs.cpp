// Registered artifacts are gc roots: a version's tag is shared through git,
// so the object it names must outlive any pointer file that once named it.
#include "registry/gc_refs.h"

#include "core/error.h"
#include "data/manifest.h"
#include "data/tree.h"
#include "registry/registry.h"
#include "repo/repo.h"

namespace mlo::registry {

void add_registry_references(Repo& repo, const std::string& rev, References& refs) {
  if (!rev.empty()) return;  // tags are not per commit: collected once, with the work tree
  for (const auto& e : all_events(repo)) {
    if (e.kind != TagKind::register_ || !e.meta.is_object() || !e.meta.contains("artifact")) continue;
    const auto& a = e.meta["artifact"];
    std::string sha = a.value("sha256", "");
    if (sha.empty()) continue;
    std::string where = "registry " + e.tag;
    refs.add(sha, where);
    if (a.value("type", "file") != "dir" || !refs.seen_manifests.insert(sha).second) continue;
    if (!repo.cache().has(sha)) {
      refs.broken.push_back({BrokenKind::missing_manifest, where, sha, "the manifest of " + where + " is not in the cache"});
      continue;
    }
    try {
      // A tree as far as the cache has it (pull --models fetches the rest
      // level by level); a missing folder object leaves its files unknown.
      std::vector<std::string> missing;
      Manifest m = read_manifest(repo.cache(), sha, "manifest " + sha.substr(0, 12) + " (" + where + ")", &missing);
      for (const auto& f : m.entries) refs.add(f.sha256, where + ":" + f.path);
      for (const auto& t : m.trees) refs.add(t, where);
      if (!missing.empty())
        refs.broken.push_back({BrokenKind::missing_manifest, where, missing.front(),
                               "a folder manifest of " + where + " (object " + missing.front() + ") is not in the cache"});
    } catch (const Error& err) {
      refs.broken.push_back({BrokenKind::bad_manifest, where, sha, err.what()});
    }
  }
}

void rebuild_registry_step(Repo& repo, Database& db) { rebuild_registry_index(repo, db); }

}  // namespace mlo::registry
