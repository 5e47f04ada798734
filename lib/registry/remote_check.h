// The "artifact is on the default remote" gate asks whoever can read the
// remote. lib/registry must not include lib/remote (the remote is a
// transport below the registry's callers), so the check is installed from
// above: lib/app/remote_presence.h. When none is installed, or the remote can
// not be asked (none configured, unreachable), the answer is "cannot tell"
// (nullopt), and the gate refuses with that reason.
#pragma once
#include <functional>
#include <optional>
#include <string>

namespace mlo {
class Repo;
}

namespace mlo::registry {

struct RemoteAnswer {
  std::optional<bool> present;  // nullopt: could not check
  std::string remote;           // the remote asked
  std::string detail;           // why it could not check
};

using PresenceCheck = std::function<RemoteAnswer(Repo& repo, const std::string& sha256, const std::string& type)>;
void set_presence_check(PresenceCheck check);

RemoteAnswer artifact_on_default_remote(Repo& repo, const std::string& sha256, const std::string& type);

}  // namespace mlo::registry
