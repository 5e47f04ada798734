#include "core/version.h"

namespace mlo {
// MLO_VERSION_STRING comes from CMakeLists.txt, for this file only.
const char kVersion[] = MLO_VERSION_STRING;
}
