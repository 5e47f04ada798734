// Evidently's empirical_mmd (legacy/calculations/stattests/mmd_stattest.py):
// maximum mean discrepancy with a Gaussian kernel whose bandwidth is the
// median heuristic on the reference, and a permutation p-value.
#pragma once
#include <cstddef>
#include <cstdint>

#include "monitor/stats.h"

namespace mlo::monitor {

// The kernel is kept over the distinct values of both sides (d x d), so the
// test takes at most this many distinct values; beyond it the caller refuses.
constexpr std::size_t kMmdMaxDistinct = 2048;
// Each permutation shuffles every value (as numpy does): at most this many.
constexpr std::uint64_t kMmdMaxValues = 1 << 20;
// Evidently's permutation count and mlo's fixed seed (see mmd.cpp).
constexpr int kMmdPermutations = 100;
constexpr std::uint32_t kMmdSeed = 0;

// statistic: the MMD of reference vs current; p_value: the share of
// permutations whose MMD is at least it. NaN when a side has fewer than 2 values.
TestValue empirical_mmd(const Sample& ref, const Sample& cur, std::uint32_t seed = kMmdSeed,
                        int permutations = kMmdPermutations);

}  // namespace mlo::monitor
