// Rendering of a checkout's result, shared by 'mlo data checkout'
// (cmd/data.cpp, which defines these) and 'mlo pull' (cmd/remote.cpp).
#pragma once
#include "command.h"
#include "data/data.h"

namespace mlo::cli {

// {updated, removed, unchanged, kept, missing}.
nlohmann::json checkout_json(const CheckoutResult& r);
// Warns (stderr) about the stage outputs left as they were: kept because
// they hold changes the cache lacks, or not restored because the cache
// lacks their content. Says what to do about each.
void warn_outputs_left(const CheckoutResult& r);

}  // namespace mlo::cli
