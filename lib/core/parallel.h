// A minimal parallel loop: work items are claimed by index from a shared
// counter, so uneven items (one big file among small ones) balance themselves.
#pragma once
#include <cstddef>
#include <functional>

namespace mlo {

// Number of worker threads to use: MLO_JOBS if set, else the cores we may run on.
unsigned default_jobs();

// Calls fn(i) for i in [0, n) on up to `jobs` threads. The first exception thrown
// stops further items from starting and is rethrown in the caller.
void parallel_for(std::size_t n, unsigned jobs, const std::function<void(std::size_t)>& fn);

}  // namespace mlo
