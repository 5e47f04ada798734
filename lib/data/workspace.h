// The tracked data in a work tree: finding pointer files, reading them
// safely, and the objects they need. Other modules (gc, fsck, remotes,
// pipelines) build on this small API.
#pragma once
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "data/manifest.h"
#include "data/pointer.h"

namespace mlo {

class Repo;

// Repo-relative paths of the pointer files (*.mlo) in the work tree, sorted.
// Skips .git, .mlo and the insides of tracked directories. `under` limits the
// search: each item is a repo-relative pointer path, a tracked data path (its
// pointer is returned) or a folder (searched recursively); "" is the root.
std::vector<std::string> find_pointer_files(Repo& repo, const std::vector<std::string>& under = {});

// Parses a pointer file's text and checks that its `path:` is the pointer's
// own name (data/x.csv.mlo must say path: x.csv). `where` names it in errors.
Pointer parse_pointer_for(const std::string& text, const std::string& pointer_path, const std::string& where);
// Reads and validates the pointer file at a repo-relative path in the work tree.
Pointer read_pointer(Repo& repo, const std::string& pointer_path);

// An InputError unless the cache holds the manifest object `hash` of the
// tracked folder `for_path`.
void require_manifest(Repo& repo, const std::string& hash, const std::string& for_path);

// The directory manifest object `hash` from the cache; `for_path` names the
// tracked folder in errors. Throws InputError when it is missing or damaged.
Manifest load_manifest(Repo& repo, const std::string& hash, const std::string& for_path);

// The same checks and errors, each file handed to `file` as it is read
// instead of a Manifest of them all (a checkout builds its own table: holding
// both doubled its peak). `files_claimed` first hears how many files the
// manifest says it has (walk_manifest; for a reserve of at most kMaxClaimReserve).
void for_each_manifest_file(Repo& repo, const std::string& hash, const std::string& for_path,
                            const std::function<void(ManifestEntry&&)>& file,
                            const std::function<void(std::uint64_t)>& files_claimed = {});

// The same, fetching a tree's folder objects the cache lacks level by level
// through Repo::ensure_objects (the remote); `fetched` counts the objects asked for.
Manifest load_manifest_fetching(Repo& repo, const std::string& hash, const std::string& for_path,
                                std::size_t* fetched = nullptr);

// Every object a pointer needs: the file's hash, or the manifest's hash and
// each entry's hash. Throws InputError when a directory's manifest is not in
// the cache (its entries can not be known).
std::set<std::string> objects_of(Repo& repo, const Pointer& pointer);

}  // namespace mlo
