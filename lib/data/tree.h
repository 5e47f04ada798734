// Tree manifests (pointer `version: 2`): one content-addressed object per
// folder, naming its files (name, hash, size, exec) and its subfolders (name,
// tree hash, and the file count and bytes below them), like git's trees. A
// one-file change makes new objects only for that file's folder and its
// parents. Version 1 flat manifests (one object listing every file) stay
// readable: read_manifest() accepts both. Format: man mlo-data(1).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/manifest.h"

namespace mlo {

class Cache;

// Bounds on untrusted tree objects, checked before any work they would cause.
inline constexpr std::size_t kMaxTreeDepth = 255;                // folder levels below the root
inline constexpr std::uint64_t kMaxTreeFiles = 200'000'000;      // files under one root
inline constexpr std::size_t kMaxTreeEntries = 16'000'000;       // entries in one folder object
inline constexpr std::uint64_t kMaxManifestBytes = 4ull << 30;   // one manifest object (a flat one of 10M files: ~1 GB)

struct TreeEntry {
  std::string name;    // one path component
  std::string sha256;  // a file's content, or a subfolder's tree object
  std::uint64_t size = 0;   // bytes (of everything below, for a subfolder)
  std::uint64_t files = 0;  // subfolders: files below (file entries: unused)
  bool executable = false;
  bool is_tree = false;
};

// Git's order, the canonical one: a subfolder sorts as "name/".
bool tree_order(const TreeEntry& a, const TreeEntry& b);

// Canonical bytes of one folder object: entries in git's order (a subfolder
// sorts as "name/"), one a line. Throws InputError on a name that is not UTF-8.
std::string serialize_tree(const std::vector<TreeEntry>& entries);

// Receives each new folder object (children before parents).
using TreeSink = std::function<void(const std::string& hash, const std::string& bytes)>;
// Receives each folder's path below the root ("" for the root, else "a/b")
// with its object's hash, children before parents.
using FolderHashSink = std::function<void(std::string_view prefix, const std::string& hash)>;
// A sink that writes each folder object the cache lacks (not durable: the
// caller syncs once) and counts it in `written`.
TreeSink store_missing(Cache& cache, std::uint64_t& written);
// Builds the folder objects of a flat manifest whose entries are sorted by
// path, holding only the open folders' entries. Returns the root's hash.
std::string build_tree(const Manifest& m, const TreeSink& sink = {});
// The same from any list sorted by path (a scan's files), without a copy;
// `file` is called once for each index, in order. `sha256` only needs to
// live until the next call. An entry with `is_tree` stands for a whole
// subfolder whose object is known (`path` its path, `sha256` its object,
// `size` and `files` what is below it); it sorts as `path` + "/".
struct TreeFileRef {
  std::string_view path;
  std::string_view sha256;
  std::uint64_t size = 0;
  bool executable = false;
  bool is_tree = false;
  std::uint64_t files = 0;
};
std::string build_tree(std::size_t count, const std::function<TreeFileRef(std::size_t)>& file, const TreeSink& sink = {},
                       const FolderHashSink& folders = {});

// build_tree's walk handed one entry at a time (in path order), for a
// caller whose entries come from a query rather than a list: it holds only
// the open folders' entries.
class TreeBuilder {
 public:
  explicit TreeBuilder(TreeSink sink = {}, FolderHashSink folders = {});
  void add(const TreeFileRef& e);
  // Closes every open folder; returns the root's hash.
  std::string finish();
  // After finish(): the files and bytes below the root.
  std::uint64_t files() const { return files_; }
  std::uint64_t size() const { return size_; }

 private:
  struct Open {
    std::string prefix;  // "" for the root, else "a/b/"
    std::vector<TreeEntry> entries;
    std::uint64_t files = 0, size = 0;
  };
  void close_innermost();
  TreeSink sink_;
  FolderHashSink folders_;
  std::vector<Open> open_;
  std::string root_;
  std::uint64_t files_ = 0, size_ = 0;
};

// A folder manifest object, flat (v1) or tree (v2), as the flat list of its
// files (sorted by path); a tree's sub-objects go to Manifest::trees. Every
// tree object is checked against its hash, its names with checked_relative,
// its depth and counts against the bounds above; problems are InputErrors
// naming `where` and the object. A sub-object missing from the cache is an
// InputError, or, with `missing`, is listed there and its files left out.
Manifest read_manifest(const Cache& cache, const std::string& hash, const std::string& where,
                       std::vector<std::string>* missing = nullptr);

// One folder object's entries from bytes this process built (build_tree's
// sink), checked like read_tree_level's except for the hash.
std::vector<TreeEntry> parse_tree_level(const std::string& bytes, const std::string& where);

// One folder object's entries, checked (hash, names, order); nullopt when
// the object is not in the cache or is a flat (version 1) manifest.
std::optional<std::vector<TreeEntry>> read_tree_level(const Cache& cache, const std::string& hash,
                                                      const std::string& where);

}  // namespace mlo
