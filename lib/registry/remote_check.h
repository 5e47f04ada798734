// The "artifact is on the default remote" gate asks the remote's pack index.
// When the remote can not be asked (none configured, unreachable) the answer
// is "cannot tell" (nullopt), and the gate refuses with that reason.
#pragma once
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

RemoteAnswer artifact_on_default_remote(Repo& repo, const std::string& sha256, const std::string& type);

}  // namespace mlo::registry
