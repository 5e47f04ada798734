#pragma once
// The release version (CMake's project version). Defined in version.cpp alone,
// so a version bump recompiles one file rather than every file of libmlo.
namespace mlo {
extern const char kVersion[];
}
