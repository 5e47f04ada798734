#include "registry/remote_check.h"

namespace mlo::registry {

namespace {
PresenceCheck& installed() {
  static PresenceCheck check;
  return check;
}
}  // namespace

void set_presence_check(PresenceCheck check) { installed() = std::move(check); }

RemoteAnswer artifact_on_default_remote(Repo& repo, const std::string& sha256, const std::string& type) {
  if (installed()) return installed()(repo, sha256, type);
  RemoteAnswer a;
  a.detail = "no remote check is available in this program";
  return a;
}

}  // namespace mlo::registry
