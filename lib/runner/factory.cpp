#include "core/error.h"
#include "runner/local.h"
#include "runner/runner.h"

namespace mlo {

std::unique_ptr<Runner> make_runner(const std::string& name, Repo&) {
  if (name == "local") return std::make_unique<LocalRunner>();
  throw InputError("unknown runner '" + name + "'", "available runners: local");
}

}  // namespace mlo
