#include "registry/remote_check.h"

namespace mlo::registry {

RemoteAnswer artifact_on_default_remote(Repo&, const std::string&, const std::string&) {
  RemoteAnswer a;
  a.detail = "remote support (lib/remote) is not in this build, so presence on the default remote cannot be checked";
  return a;
}

}  // namespace mlo::registry
