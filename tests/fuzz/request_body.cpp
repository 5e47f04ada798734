// Fuzz target: the runners' request body parsers (deploy/inference.h). The
// first byte picks the parser: OIP v2 infer, MLflow JSON, or CSV; the rest is
// the body. Bad bodies must end in BadRequest, never another exception or a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "deploy/inference.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mlo::deploy;
  if (size == 0) return 0;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 3) {
      case 0: parse_v2_inputs(parse_request_json(body)); break;
      case 1: parse_mlflow_json(parse_request_json(body)); break;
      default: parse_csv(body); break;
    }
  } catch (const BadRequest&) {
  }
  return 0;
}
