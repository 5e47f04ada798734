// Stale ref locks left by a killed writer. git (and libgit2) create a tag by
// writing refs/tags/NAME.lock and renaming it; a kill -9 in between leaves the
// .lock, and every later attempt to create NAME fails. mlo says what the file
// is and clears it only when asked (--force) and no git process is running in
// the repository, as git's own "Another git process seems to be running" asks.
#pragma once
#include <string>

namespace mlo {
class Repo;
}

namespace mlo::registry {

// Throws InputError naming refs/tags/TAG.lock and the way out when it exists;
// with `clear`, removes it instead (refusing while a git process runs in the repo).
// `offer_force`: the command has a --force that clears it (promote); the others
// point to removing the file by hand, as git does for index.lock.
void check_tag_lock(Repo& repo, const std::string& tag, bool clear, bool offer_force = false);

}  // namespace mlo::registry
