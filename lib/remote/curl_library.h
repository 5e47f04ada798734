// Whether libcurl can be loaded (it is loaded on first use, curl_loader.cpp),
// for `mlo doctor`, which reports a missing library instead of failing.
#pragma once
#include <optional>
#include <string>

namespace mlo::remote {

// Why libcurl cannot be loaded, or nothing when it can.
std::optional<std::string> libcurl_load_error();

}  // namespace mlo::remote
