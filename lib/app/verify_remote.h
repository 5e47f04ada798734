// mlo fsck --remote / mlo push --verify: is every byte the tracked data
// needs on the remote, and does it hash right? (lib/remote/transfer.h's
// verify_objects does the checking; this picks the objects and the remote,
// which is why it lives in app/, above the transport.)
#pragma once
#include <map>
#include <string>

#include "app/sync.h"
#include "remote/transfer.h"

namespace mlo::app {

struct RemoteCheck {
  remote::RemoteConfig remote;
  remote::VerifyReport report;
  std::map<std::string, std::string> needed_by;  // object -> a pointer file that needs it
  bool ok() const { return report.missing.empty() && report.damaged.empty(); }
};

// Checks the objects the pointers under request.paths (all when empty)
// need, as far as the cache knows them (a directory whose manifest is not
// cached contributes its manifest only).
RemoteCheck check_remote(Repo& repo, const SyncRequest& request);

}  // namespace mlo::app
