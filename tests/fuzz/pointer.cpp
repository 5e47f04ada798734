// Fuzz target: pointer files (data/pointer.h), as checkout reads them: parsed
// against the pointer's own name, then written back. A bad pointer must end in
// mlo::Error (exit 3), never another exception or a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "data/pointer.h"
#include "data/workspace.h"
#include "scratch.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(mlo::fuzz::as_text(data, size));
  try {
    mlo::Pointer p = mlo::parse_pointer(text, "fuzz.mlo");
    mlo::Pointer again = mlo::parse_pointer(mlo::serialize_pointer(p), "fuzz.mlo");
    if (again.sha256 != p.sha256 || again.size != p.size || again.path != p.path) __builtin_trap();  // round trip
  } catch (const mlo::Error&) {
  }
  try {
    mlo::parse_pointer_for(text, "data/train.csv.mlo", "data/train.csv.mlo");
  } catch (const mlo::Error&) {
  }
  return 0;
}
