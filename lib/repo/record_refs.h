// Small JSON records kept as git refs that point at blobs (refs/mlo/...):
// trigger claims and outcomes, joined late labels. A ref per record, never
// rewritten, so two clones' records never conflict and travel through the
// git remote with `git push/fetch REMOTE refs/mlo/X/*:refs/mlo/X/*`, with
// no commit on any branch. Uses the git program (hash-object, update-ref,
// for-each-ref, cat-file --batch): one process per call, not per record.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace mlo {

// Writes `text` as a blob and points `ref` at it, only if `ref` does not
// exist yet (false then). InputError when git cannot write the object.
bool create_record_ref(const std::filesystem::path& root, const std::string& ref, const std::string& text);
// The same for several refs at one blob, all or none: when one exists
// already, those created before it are deleted again (false).
bool create_record_refs(const std::filesystem::path& root, const std::vector<std::string>& refs, const std::string& text);

// Every ref below `prefix` with its blob parsed as a JSON object, in ref-name
// order; refs to anything else (not a blob, not an object) are left out.
std::vector<std::pair<std::string, nlohmann::json>> read_record_refs(const std::filesystem::path& root,
                                                                     const std::string& prefix);

}  // namespace mlo
