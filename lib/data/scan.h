// Scanning tracked data in the work tree: the files of a tracked path with
// their stat, hashes answered by the stat cache where possible, and the
// manifest bytes a folder would have. Internal to lib/data.
#pragma once
#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/hash_set.h"
#include "data/manifest.h"
#include "data/pointer.h"
#include "data/tree.h"
#include "data/stat_cache.h"

namespace mlo {

class Cache;

// The paths of a scan's files, kept end to end in blocks that never move: a
// std::string a path would cost 32 bytes plus a heap block for any path over
// 15 characters (48 bytes more at 24 characters), per file of the dataset.
// Not thread-safe: a scan keeps paths from one thread.
class PathPool {
 public:
  // A copy of `s` that lives as long as the pool.
  std::string_view keep(std::string_view s) { return keep_joined({}, s); }
  // `prefix + "/" + name`, or `name` alone when prefix is empty.
  std::string_view keep_joined(std::string_view prefix, std::string_view name);

  // Where the next path goes; rewind() forgets every path kept since (a scan
  // dropping an unchanged folder's files drops their paths too).
  struct Mark {
    std::size_t blocks = 0, used = 0;
  };
  Mark mark() const { return {blocks_.size(), used_}; }
  void rewind(Mark m);

 private:
  struct Block {
    std::unique_ptr<char[]> bytes;
    std::size_t capacity;
  };
  std::vector<Block> blocks_;
  std::size_t used_ = 0;  // of the last block
};

// One file of a scan. A scan holds one per file of the dataset (72 bytes),
// so the hash is kept as 32 raw bytes (a hex std::string is 32 bytes plus an
// 80-byte heap block) and the path as a view into the WorkTree's PathPool.
struct WorkFile {
  // Relative to the tracked folder; "" for a tracked file itself.
  std::string_view rel() const { return {rel_data_, rel_size_}; }
  // `r` must outlive the file: a view into the tree's PathPool or a literal.
  void set_rel(std::string_view r) {
    rel_data_ = r.data();
    rel_size_ = static_cast<std::uint32_t>(r.size());  // paths are at most PATH_MAX
  }

 private:
  const char* rel_data_ = "";
  std::uint32_t rel_size_ = 0;

 public:
  bool hash_known : 1 = false;
  bool executable : 1 = false;
  bool hashed : 1 = false;  // read during this command
  bool to_store : 1 = false;  // add: its bytes go to the cache (data.cpp)
  StatKey key;
  Sha256Bytes hash{};

  // The hash in hex, "" while unknown.
  std::string sha256() const { return hash_known ? sha256_to_hex(hash) : std::string(); }
  // Takes a hash in hex; anything else (a damaged stat cache row) leaves it unknown.
  void set_sha256(std::string_view hex) { hash_known = sha256_from_hex(hex, hash); }
};
static_assert(sizeof(WorkFile) == 72, "a scan holds one WorkFile per file: keep it small");

// A folder a scan met, with a digest of its own files (names, stats, mode),
// so status can tell an unchanged folder without keeping its files.
struct FolderDigest {
  std::string prefix;  // relative to the tracked folder; "" for the folder itself
  Sha256Bytes digest{};
  std::int64_t newest_mtime_ns = 0;  // of its own files
  std::size_t files = 0;             // its own files
  std::uint64_t bytes = 0;           // its own files' sizes
  bool dropped = false;              // its files are left out of WorkTree::files
};

// A subfolder whose tree object is known without its files (status with a
// change: see data_status): stands in for them when the tree is built.
struct KnownSubtree {
  std::string prefix;  // relative to the tracked folder
  std::string hash;    // its tree object
  std::uint64_t files = 0, bytes = 0;
};
struct WorkTree {
  std::string data_rel;       // repo-relative path of the tracked file/folder
  std::filesystem::path abs;  // its absolute path
  bool exists = false;
  EntryType type = EntryType::file;
  std::vector<WorkFile> files;  // sorted by rel
  // The files' paths (shared by copies of the tree, so their views stay valid).
  std::shared_ptr<PathPool> paths = std::make_shared<PathPool>();
  // Every folder of a tracked folder, sorted by prefix. A folder whose digest
  // matched a recorded one (scan_tree's `unchanged`) is `dropped`: its files
  // are not in `files` until restore_dropped() brings them back.
  std::vector<FolderDigest> folders;
  bool partial() const;
  // Subfolders built from a known object instead of their files (sorted by
  // prefix): none of the files below them are in `files`. Only build() and
  // content_hash() may be used then; manifest() refuses.
  std::vector<KnownSubtree> subtrees;
  // Temp files of killed processes inside the folder (rel): not data, left
  // out of files; checkout removes them.
  std::vector<std::string> stale_temps;
  // A folder's content hash known without per-file hashes (StatCache::tree_hash).
  std::string known_hash;
  // Which manifest content_hash() names: 2 a tree (what add writes), 1 the
  // flat manifest an older pointer or a pipeline output records.
  int manifest_version = 2;

  std::filesystem::path abs_of(const WorkFile& f) const { return f.rel().empty() ? abs : abs / f.rel(); }
  std::string repo_rel_of(const WorkFile& f) const;
  std::uint64_t total_size() const;
  std::uint64_t file_count() const;  // files and known subfolders' files
  Manifest manifest() const;
  // The folder's tree (data/tree.h) built from `files` and `subtrees`
  // without a copy; `sink` receives each folder object built, `folders` each
  // built folder's path and hash. Returns the root's hash.
  std::string build(const TreeSink& sink = {}, const FolderHashSink& folders = {}) const;
  // The file's hash, or the hash of the folder's manifest (all hashes must be
  // known unless known_hash is set).
  std::string content_hash() const;
  // A digest of every file's name, inode, mtime, size and mode (made of the
  // folders' digests, so a dropped folder counts too; only for a scan given
  // `unchanged`): equal fingerprints mean the stat cache would answer
  // identically.
  std::string stat_fingerprint() const;
  std::int64_t newest_mtime_ns() const;
};

// What a scan with digests knows of each folder together with everything
// below it, in WorkTree::folders' order: equal fingerprints mean equal tree
// objects (the stat cache would answer every file below identically).
struct SubtreeStat {
  std::string fingerprint;  // hex
  std::int64_t newest_mtime_ns = 0;
  std::uint64_t files = 0, bytes = 0;
};
std::vector<SubtreeStat> subtree_stats(const WorkTree& tree);

std::int64_t clock_now_ns();

// Path order (bytewise, as the stat cache's rows come).
bool by_rel(const WorkFile& a, const WorkFile& b);
// What a file contributes to its folder's digest (FolderDigest::digest: the
// SHA-256 of these for its files in name order).
void append_file_stat(std::string& chunk, const WorkFile& f);

// A level of the walk is stat'ed in groups of folders of about
// kScanGroupNames names (~60 bytes each in flight) and at most
// kScanGroupFolders folders (each held open during the group's stats). A
// scan that drops unchanged folders also reads a level's names at most
// kScanGroupFolders folders or about kScanGroupNames remembered names at a
// time (~13 bytes a name held).
inline constexpr std::size_t kScanGroupNames = 16384;
inline constexpr std::size_t kScanGroupFolders = 256;

// Lists the files (following symbolic links; a loop, a dangling link or a
// special file is an InputError naming it). Missing path: exists = false.
// With `listings`, unchanged folders are not read again and the folders that
// were read are added to listings->read.
// With `unchanged` (may be empty), each folder's digest is taken
// (FolderDigest::digest, stat_fingerprint()), and a folder whose digest
// equals the recorded one keeps none of its files in memory: status on an
// unchanged dataset holds its folders, not its files. Without it, folders
// are listed with no digest.
//
// With `consume` (and `unchanged`, usually empty), each stat group's files
// (at most ~kScanGroupNames; each folder's sorted, its digest taken) are
// handed to it and then dropped with their folders: a first add stores and
// records them there (data.cpp), so the scan holds one group's files, not
// the dataset's. The consumer reports progress (the scan counts nothing).
using ScanGroupSink = std::function<void(std::span<WorkFile> files)>;
WorkTree scan_tree(const std::filesystem::path& root, const std::string& data_rel, DirListings* listings = nullptr,
                   const FolderDigests* unchanged = nullptr, const ScanGroupSink* consume = nullptr);
// fill_from_stat_cache for a scan with dropped folders, in one pass over the
// rows: also brings back the dropped folders' files from the rows their
// digest was recorded with, and deletes the rows of files no longer there
// (so a folder's rows stay its files). False, with nothing brought back,
// when a dropped folder's rows no longer give its digest: then only a new
// scan tells its files. Folders in `skip` (covered by WorkTree::subtrees)
// stay as they are, their rows neither brought back nor deleted.
bool fill_and_restore(StatCache& sc, WorkTree& tree, const std::unordered_set<std::string_view>* skip = nullptr);
// Queues the digest of every folder not modified within the timestamp
// granularity of the scan whose digest is new (each of its files has a stat
// cache row by then).
void record_folder_digests(StatCache& sc, const WorkTree& tree, const FolderDigests& recorded,
                           std::int64_t scan_started_ns);
// Each built folder's path and hash (WorkTree::build's `folders`).
using FolderHashes = std::vector<std::pair<std::string, std::string>>;
// Queues the hash of each built subfolder under its subtree fingerprint
// (subtree_stats; StatCache::record_tree, skipped within the timestamp
// granularity), so a status after a change elsewhere can stand it in for
// its files. Only for a scan with digests of a tree manifest (version 2).
void record_subtree_hashes(StatCache& sc, const WorkTree& tree, const FolderHashes& built,
                           std::int64_t scan_started_ns);
// For a scan that dropped unchanged folders: puts in tree.subtrees the
// highest subfolders whose recorded hash (record_subtree_hashes) still
// matches their fingerprint and names an object in `cache`, and brings back
// from the stat cache only the files outside them (fill_and_restore).
enum class SubtreeRestore {
  none_known,    // nothing done: every file is needed (fill_and_restore)
  restored,      // files outside tree.subtrees are in tree.files
  rows_changed,  // a dropped folder's rows no longer give its digest: scan
                 // again (tree.files is incomplete; tree.subtrees stays set)
};
SubtreeRestore restore_outside_known_subtrees(StatCache& sc, const Cache& cache, WorkTree& tree);
// Fills hashes the stat cache knows.
void fill_from_stat_cache(StatCache& sc, WorkTree& tree);
// A fingerprint of the cache's object folders (their mtimes): unchanged
// means no object was removed since. Empty when a folder changed too
// recently to trust.
std::string objects_stamp(const Cache& cache);
// Hashes every file whose hash is unknown, in parallel, and records it.
void hash_missing(StatCache& sc, std::vector<WorkTree*> trees, unsigned jobs);

}  // namespace mlo
