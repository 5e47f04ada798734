// Reading git's ref store directly (packed-refs and loose ref files), for the
// scans where libgit2's reference iterator costs too much: it stats each loose
// ref twice and needs the library initialised (which parses the system's CA
// bundle). Only the files backend is read here; anything unusual (a symbolic
// ref) is reported so the caller can ask libgit2.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mlo {

// The folder holding refs and objects for the work tree `workdir` (.git, or
// for a linked work tree the main repository's .git, via gitdir/commondir).
std::filesystem::path git_common_dir(const std::filesystem::path& workdir);

struct LooseRef {
  std::string name;  // below the prefix, e.g. "churn@v1.0.0" for refs/tags/churn@v1.0.0
  std::string stat;  // "ino:size:mtime_ns:ctime_ns": changes whenever git rewrites the file
  std::int64_t mtime = 0;  // seconds
};

// Every loose ref file below common_dir/refs/PREFIX (e.g. "tags"), recursively,
// skipping lock files; one lstat per file, no reads.
std::vector<LooseRef> list_loose_refs(const std::filesystem::path& common_dir, const std::string& prefix);

// The object id written in a loose ref file; "" when the file is gone,
// unreadable, or a symbolic ref ("ref: ...").
std::string read_loose_ref(const std::filesystem::path& common_dir, const std::string& prefix, const std::string& name);

struct PackedRef {
  std::string name;    // below the prefix
  std::string oid;     // what the ref names
  std::string peeled;  // the object an annotated tag peels to, when packed-refs records it
};
// The entries of common_dir/packed-refs below refs/PREFIX/ (none when there is no file).
std::vector<PackedRef> read_packed_refs(const std::filesystem::path& common_dir, const std::string& prefix);

}  // namespace mlo
