// Which folder objects a remote holds in full (the object and everything
// below it), as far as this repository's own pushes saw: a push after a
// small change then walks only the folders that changed, not every file of
// the dataset (issue 24). Kept beside the remote's cached pack index.
//
// Trusted only while the remote still lists every pack, with the same size,
// that it listed when the record was written: a gc that rewrote or removed
// any pack (or a pack cut short) voids the whole record, and the next push
// walks everything again.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "core/hash_set.h"

namespace mlo::app {

using PackListing = std::map<std::string, std::uint64_t>;  // pack id -> bytes (remote::committed_packs)

class PushedTrees {
 public:
  // The record in `index_cache`, or an empty one when there is none, it is
  // unreadable, or `listing` lacks a pack it counted on.
  static PushedTrees load(const std::filesystem::path& index_cache, const PackListing& listing);

  bool holds(const std::string& tree) const { return trees_.contains(tree); }
  // Whether `listing` still has every pack the record counted on (a gc may
  // remove one while a push that trusted the record runs).
  bool still_listed(const PackListing& listing) const;
  std::size_t size() const { return trees_.size(); }
  // Adds `walked` (folder objects a push has just put on the remote with
  // everything below them) and writes the record against `listing`; what
  // was recorded before is kept only if `listing` still has its packs.
  void save(const std::filesystem::path& index_cache, const PackListing& listing, const HashSet& walked);
  // Forgets the record (a push that could not vouch for the remote).
  static void forget(const std::filesystem::path& index_cache);

 private:
  PackListing packs_;  // what the record was written against
  HashSet trees_;
};

// Past this many folder objects the record starts again from one push's.
inline constexpr std::size_t kMaxPushedTrees = std::size_t{1} << 20;

}  // namespace mlo::app
