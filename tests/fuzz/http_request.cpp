// Fuzz target: the HTTP request parser (deploy/http_server.h), as the server
// uses it: parse requests off the front of a buffer until it is incomplete or
// bad, and answer a bad one with the error response the server would send.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "deploy/http_server.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mlo::deploy;
  std::string_view buf(reinterpret_cast<const char*>(data), size);
  for (int i = 0; i < 64 && !buf.empty(); ++i) {
    HttpRequest req;
    std::size_t used = 0;
    std::string error;
    int status = 0;
    ParseState st = parse_request(buf, 4096, req, used, error, status);
    if (st == ParseState::bad) {
      serialize_response(error_response(status, error), false);
      break;
    }
    if (st == ParseState::incomplete) break;
    if (used == 0 || used > buf.size()) __builtin_trap();  // must always make progress
    // Routes quote the path in errors: that must not throw on any bytes.
    serialize_response(error_response(404, "no route for " + req.method + " " + req.path), req.keep_alive);
    buf.remove_prefix(used);
  }
  return 0;
}
