#include "core/error.h"

#include <cerrno>
#include <cstring>

namespace mlo {

void throw_errno(const std::string& what, int err, std::string hint) {
  if (hint.empty()) {
    if (err == ENOSPC || err == EDQUOT)
      hint = "free some disk space (mlo gc removes unreferenced cache objects) and run the command again";
    else if (err == EACCES || err == EPERM)
      hint = "check the file's permissions";
  }
  throw InputError(what + ": " + std::strerror(err), std::move(hint));
}

}  // namespace mlo
