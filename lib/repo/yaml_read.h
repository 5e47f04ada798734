// A YAML reader's last line of defence: a value of the wrong kind that no
// check caught (yaml-cpp's BadConversion, InvalidNode, BadSubscript) becomes
// InputError "FILE:LINE:COLUMN: ..." (exit 3) naming the file the reader
// read, instead of reaching cmd/main.cpp's catch-all, which cannot name it.
#pragma once
#include <yaml-cpp/yaml.h>

#include <string>

#include "core/error.h"

namespace mlo {

// "FILE:LINE:COL: this value has the wrong kind (...)" with what to do.
InputError yaml_kind_error(const YAML::Exception& e, const std::string& file);

// Runs `read`, a reader of the YAML file `file`; see above.
template <class F>
decltype(auto) read_yaml_checked(const std::string& file, F&& read) {
  try {
    return read();
  } catch (const YAML::Exception& e) {
    throw yaml_kind_error(e, file);
  }
}

}  // namespace mlo
