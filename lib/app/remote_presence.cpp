#include "app/remote_presence.h"

#include "core/error.h"
#include "core/parallel.h"
#include "data/workspace.h"
#include "remote/layout.h"
#include "remote/remotes.h"
#include "remote/transfer.h"
#include "repo/repo.h"

namespace mlo::app {

registry::RemoteAnswer artifact_on_default_remote(Repo& repo, const std::string& sha256, const std::string& type) {
  registry::RemoteAnswer a;
  try {
    remote::RemoteConfig config;
    auto backend = remote::open_remote(repo, "", &config);
    a.remote = config.name;
    remote::RemoteIndex index =
        remote::RemoteIndex::load(*backend, remote::index_cache_dir(repo.cache_dir(), config.url), default_jobs());
    if (!index.has_object(sha256)) {
      a.present = false;
      return a;
    }
    if (type == "dir") {
      // A folder is on the remote only when its manifest and every file are.
      Manifest m = load_manifest(repo, sha256, "model artifact " + sha256.substr(0, 12));
      for (const auto& t : m.trees)
        if (!index.has_object(t)) {
          a.present = false;
          a.detail = "a folder manifest (object " + t.substr(0, 12) + ") is not on the remote";
          return a;
        }
      for (const auto& e : m.entries) {
        if (!index.has_object(e.sha256)) {
          a.present = false;
          a.detail = e.path + " is not on the remote";
          return a;
        }
      }
    }
    a.present = true;
  } catch (const Error& e) {
    a.detail = e.what();
  }
  return a;
}

void install_remote_presence_check() { registry::set_presence_check(artifact_on_default_remote); }

}  // namespace mlo::app
