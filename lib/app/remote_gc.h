// `mlo gc --remote NAME`: what a shared remote must keep, decided here (the
// remote itself only moves and lists hashes: lib/remote/gc.h).
//
// By default everything anyone may need stays: the work tree, every commit
// reachable from every local and remote-tracking branch and every tag (so
// the last `git fetch` must be recent: check_fetched_recently), every
// registered version's artifact, what each reachable mlo.lock names, what
// open deployments serve, every run the remote lists (record and log), and
// whatever a push younger than the grace period counted on (push records,
// lib/remote/gc_lock.h). A narrower scope (--workspace, --rev, ...) only
// when asked; the report then names, for what would go, a revision that
// still needs it.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/references.h"
#include "remote/gc.h"
#include "remote/gc_trash.h"

namespace mlo {
class Repo;
}

namespace mlo::app {

struct RemoteGcRequest {
  std::string remote;           // empty: the default remote
  bool narrow = false;          // use `scope` instead of everything
  ReferenceScope scope;
  std::int64_t grace_seconds = 14 * 86400;
  std::int64_t fetch_max_age = 86400;  // < 0: do not check
  bool skip_broken = false;
  bool dry_run = false;
  unsigned jobs = 8;
};

struct StillNeeded {
  std::string hash;
  std::string where;  // a root outside the narrow scope that needs it
};

// For what the default scope removes: who last needed it, newest first
// where known. `by` is "commit 1a2b3c4 (2026-11-30, "subject")" for a commit
// only this clone's reflog still reaches, "a push at TIME" for an expired
// push record, or "never referenced" (by anything this clone knows).
struct LastNeeded {
  std::string by;
  std::size_t blobs = 0;
  std::uint64_t bytes = 0;  // compressed, as stored
};

struct RemoteGcReport {
  std::string remote;
  ReferenceScope scope;
  References refs;
  std::size_t push_records = 0;          // recent pushes whose objects were kept
  std::vector<std::string> expired_push_records;
  std::size_t remote_runs = 0;           // runs listed on the remote (kept)
  remote::RemoteGcPlan plan;
  std::vector<StillNeeded> still_needed;  // narrow scope: what goes that a wider scope needs
  std::vector<LastNeeded> last_needed;    // default scope: grouped, most bytes first (all groups)
  bool applied = false;
  remote::RemoteGcApplied done;
};

// The default scope: work tree, all commits of local and remote-tracking branches and tags.
ReferenceScope everything_scope();

// Throws InputError (exit 3) when the repository has git remotes and none
// was fetched from within `max_age` seconds (FETCH_HEAD, remote reflogs).
void check_fetched_recently(Repo& repo, std::int64_t max_age);

// Plans, then calls `confirm` with the report (nothing changed yet; false:
// stop there), then applies unless dry_run. Holds the remote's gc lock from
// before the roots are read until the end (not for a dry run).
RemoteGcReport remote_gc(Repo& repo, const RemoteGcRequest& request,
                         const std::function<bool(const RemoteGcReport&)>& confirm);

// `--restore [--since T]` and `--empty-trash` (batches older than `before`).
remote::TrashResult restore_remote_trash(Repo& repo, const std::string& remote, std::int64_t since, bool dry_run,
                                         std::string* remote_name = nullptr);
remote::TrashResult empty_remote_trash(Repo& repo, const std::string& remote, std::int64_t before, bool dry_run,
                                       const remote::TrashConfirm& confirm, std::string* remote_name = nullptr);

}  // namespace mlo::app
