// Fuzz target: directory manifests (data/manifest.h), objects a teammate
// pushes. A bad one must end in mlo::Error, never another exception or a
// crash; a good one must serialize back to a manifest that parses the same.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "data/manifest.h"
#include "scratch.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(mlo::fuzz::as_text(data, size));
  try {
    mlo::Manifest m = mlo::parse_manifest(text, "manifest fuzz");
    m.total_size();
    mlo::Manifest again = mlo::parse_manifest(mlo::serialize_manifest(m), "manifest again");
    if (again.entries.size() != m.entries.size()) __builtin_trap();
  } catch (const mlo::Error&) {
  }
  return 0;
}
