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
    if (a.value("type", "file") == "dir") add_manifest_references(repo, sha, where, refs);
  }
}

void rebuild_registry_step(Repo& repo, Database& db) { rebuild_registry_index(repo, db); }

}  // namespace mlo::registry
