#include "registry/data_gate.h"

namespace mlo::registry {

namespace {
DataChecker g_data_checker = nullptr;
}

void set_data_checker(DataChecker f) { g_data_checker = f; }
DataChecker data_checker() { return g_data_checker; }

}  // namespace mlo::registry
