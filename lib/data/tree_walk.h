// Walking a folder manifest without building its list: what push and fetch
// need (every object's hash) while holding only the folders on the current
// path, not an entry for every file. Internal to lib/data and lib/app.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/manifest.h"

namespace mlo {

class Cache;

// read_manifest()'s walk (same checks, same errors) with each file passed to
// `file` as it is read (sorted by path) and each folder object below the
// root to `folder`, instead of a Manifest of them all. A tree's root first
// tells `files_claimed` how many files it says it holds: a claim, checked
// as the walk goes, so reserve at most kMaxClaimReserve for it. A folder
// object below the root for which `descend` (given its hash, the files its
// parent says it holds and its path below the root) says false is skipped:
// neither passed to `folder` nor opened (a push skips what the remote holds
// in full).
void walk_manifest(const Cache& cache, const std::string& hash, const std::string& where,
                   const std::function<void(ManifestEntry&&)>& file,
                   const std::function<void(const std::string&)>& folder, std::vector<std::string>* missing = nullptr,
                   const std::function<void(std::uint64_t)>& files_claimed = {},
                   const std::function<bool(const std::string&, std::uint64_t, const std::string&)>& descend = {});
inline constexpr std::uint64_t kMaxClaimReserve = 1u << 20;

}  // namespace mlo
