// The registry's on_remote gate, answered from the default remote's pack
// index (see lib/registry/remote_check.h for why it is installed from here).
#pragma once
#include <string>

#include "registry/remote_check.h"

namespace mlo::app {

registry::RemoteAnswer artifact_on_default_remote(Repo& repo, const std::string& sha256, const std::string& type);
// Makes the registry's gate use the function above.
void install_remote_presence_check();

}  // namespace mlo::app
