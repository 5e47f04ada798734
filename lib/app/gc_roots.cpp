#include "app/gc_roots.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "data/manifest.h"
#include "data/tree.h"
#include "deploy/deploy.h"
#include "pipeline/runs.h"
#include "registry/gc_refs.h"
#include "repo/repo.h"

namespace mlo::app {

namespace {

// An artifact a deployment serves (or may roll back to), and a folder's files.
void add_deployed(Repo& repo, const deploy::Backend& b, const std::string& where, References& refs) {
  if (!is_sha256_hex(b.sha256)) return;
  refs.add(b.sha256, where);
  // A deployed folder not in this clone's cache is not this clone's to keep.
  if (b.artifact_type == "dir" && repo.cache().has(b.sha256)) add_manifest_references(repo, b.sha256, where, refs);
}

}  // namespace

void add_deployment_references(Repo& repo, const std::string& rev, References& refs) {
  if (!rev.empty()) return;  // deployments are local state, not per commit
  fs::path root = repo.mlo_dir() / "deploy";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    auto text = read_file_if_exists(entry.path() / "state.json");
    if (!text) continue;
    std::string where = "deployment " + entry.path().filename().string();
    try {
      deploy::EnvState s = deploy::env_state_from_json(nlohmann::json::parse(*text));
      for (const auto* b : {&s.primary, &s.candidate, &s.standby})
        if (*b) add_deployed(repo, **b, where, refs);
      for (const auto& b : s.history) add_deployed(repo, b, where + " (rollback)", refs);
    } catch (const std::exception& e) {  // nlohmann's parse and type errors
      refs.broken.push_back({BrokenKind::bad_pointer, where, "",
                             (entry.path() / "state.json").string() + " can not be read: " + e.what()});
    }
  }
}

std::vector<ReferenceSource> reference_sources() {
  return {
      // Pointer files are read by collect_references itself.
      {"registry", registry::add_registry_references},
      {"pipeline", add_pipeline_references},
      {"deploy", add_deployment_references},
  };
}

}  // namespace mlo::app
