// What a scan of a tracked folder would record of it, gathered while a
// checkout writes the folder from nothing (a pull into a fresh clone), so
// the first status after the pull finds every folder as recorded and holds
// no file: it held every one (1,000,000 files: 122 MB, 11 s), since only a
// scan recorded folder digests. Internal to lib/data.
#pragma once
#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/hash.h"
#include "data/scan.h"

namespace mlo {

class StatCache;

// Files come in the manifest walk's order (by path, a folder's subtree in
// one run); each folder's digest (FolderDigest::digest, as scan_tree takes
// it) is taken as its files come and finished when the walk leaves it, so
// only the folders on the current path are open.
class WrittenTree {
 public:
  // The next file written, `rel` inside the tracked folder, with its stat
  // after the write; nullopt when it is not a regular file (a link into the
  // cache), which leaves nothing to record.
  void add(std::string_view rel, const std::optional<struct stat>& st);
  // Queues in `sc` each folder's digest and the whole folder's stat
  // fingerprint under `hash` (its manifest), as a status scan records them
  // (record_folder_digests, StatCache::record_tree: folders with a file
  // modified within the racy window of `now_ns` are left out). Call once
  // every file's stat cache row is queued; the digests are only trusted
  // with them. False when nothing could be recorded.
  bool record(StatCache& sc, const std::string& data_rel, const std::string& hash, std::int64_t now_ns);

 private:
  struct Open {
    FolderDigest summary;  // its prefix, files, bytes and newest mtime so far
    std::unique_ptr<Sha256> digest = std::make_unique<Sha256>();
  };
  void close_to(std::string_view folder);
  void close_top();

  std::vector<Open> open_;          // the folders on the current path, outermost first
  std::vector<FolderDigest> done_;  // in the order they were left
  std::string last_rel_;
  std::string chunk_;
  bool any_ = false;
  bool broken_ = false;  // out of order, or not a regular file: record nothing
};

}  // namespace mlo
