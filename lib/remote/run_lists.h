// Run lists on a remote: runs/<sha256>.json, each written once by a push and
// named by its own SHA-256, maps run ids to run-record hashes. The remote
// only stores and lists them; what a run record means is lib/pipeline's.
#pragma once
#include <filesystem>
#include <map>
#include <string>

#include "remote/backend.h"

namespace mlo::remote {

// The runs a remote knows: run id -> record hash, from its runs/*.json lists
// (read lists are cached in `index_cache`/runs, next to the pack indexes).
std::map<std::string, std::string> remote_runs(Backend& backend, const std::filesystem::path& index_cache, unsigned jobs);

// Writes one more list naming `runs` (id -> record hash); returns its key.
std::string write_run_list(Backend& backend, const std::filesystem::path& index_cache,
                           const std::map<std::string, std::string>& runs);

}  // namespace mlo::remote
