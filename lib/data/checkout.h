// `mlo data checkout` in two parts: a pure plan (what to write, delete and
// replace, and what would lose unsaved changes) computed from the pointers,
// the manifests and a scan of the work tree; then an apply step that changes
// the work tree only through a TreeWriter rooted at the repository, so that
// no symbolic link (a teammate may commit one) leads a write or a delete out
// of it. Internal to lib/data; the public entry point is data_checkout().
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/pointer.h"
#include "data/scan.h"

namespace mlo {

// A wanted file's content, as 32 raw bytes: a pull plans one per file (a hex
// string would be 80 more bytes of heap each).
struct WantedFile {
  Sha256Bytes hash{};
  bool executable = false;
  bool replaces = false;  // set by the plan: a file stands at this name now
  std::string sha256() const { return sha256_to_hex(hash); }
};
// From a hash in hex; anything else is an InputError naming `where` (hashes
// are checked when pointers and manifests are read, so this is a backstop).
WantedFile wanted_file(std::string_view hex, bool executable, const std::string& where);

// What one pointer asks for: rel ("" for a tracked file itself) -> content.
struct CheckoutTarget {
  std::string data_rel;
  EntryType type = EntryType::file;
  // In any order (a manifest walk gives them sorted); planning sorts them,
  // and of two entries for one rel the later wins. A vector, not a map: a
  // pull holds one per file, and a map node costs ~50 bytes more.
  std::vector<std::pair<std::string, WantedFile>> want;
  bool ignore = true;  // add it to its folder's .gitignore (stage outputs: mlo run does)
  // A folder's manifest object, set (with `want` empty) while its files are
  // not listed: when the work tree holds nothing of the folder to compare,
  // its files are read from the manifest as they are checked and written,
  // never held (a checkout of a million files holds one batch of them).
  std::string streamed_manifest;
  std::uint64_t streamed_files = 0;  // the pointer's count, for progress only
  bool tree_manifest = false;         // the pointer names a tree (version 2)
  // Files of subfolders the work tree already holds as wanted, left out of
  // `want` and of the scan (counted as unchanged).
  std::uint64_t unchanged_below = 0;
};

struct EntryPlan {
  std::string data_rel;
  EntryType type = EntryType::file;
  bool replace_whole = false;          // the work tree holds the other type: remove it first
  std::vector<std::string> remove;     // rels inside the folder not wanted any more
  std::vector<std::pair<std::string, WantedFile>> write;  // rels to (re)write
  std::vector<std::string> stale_temps;  // temp files of dead processes to clear
  bool make_empty_dir = false;         // an empty tracked folder
  bool ignore = true;
  std::string streamed_manifest;       // as CheckoutTarget's: every file of it is written
  std::uint64_t streamed_files = 0;
};

struct CheckoutPlan {
  std::vector<EntryPlan> entries;
  std::vector<std::string> conflicts;          // repo-relative paths holding unsaved changes
  std::uint64_t unchanged = 0;
};

// Pure: compares each target with its scanned tree. `saved(hash)` says
// whether content may be replaced without losing it (in the cache, or --force).
// The targets' wanted files move into the plan (one copy of a pull's list).
CheckoutPlan plan_checkout(std::vector<CheckoutTarget> targets, const std::vector<const WorkTree*>& trees,
                           const std::function<bool(const std::string&)>& saved);

}  // namespace mlo
