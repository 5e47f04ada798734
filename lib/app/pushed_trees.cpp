#include "app/pushed_trees.h"

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"

namespace mlo::app {

namespace {

const char* const kHeader = "mlo pushed-trees 1";

std::filesystem::path record_path(const std::filesystem::path& index_cache) { return index_cache / "pushed-trees"; }

bool listing_has(const PackListing& listing, const PackListing& needed) {
  for (const auto& [id, bytes] : needed) {
    auto it = listing.find(id);
    if (it == listing.end() || it->second != bytes) return false;
  }
  return true;
}

}  // namespace

// Format: the header line; "pack <id> <bytes>" lines; then one tree hash a
// line. Anything else (a damaged or foreign file) reads as no record.
PushedTrees PushedTrees::load(const std::filesystem::path& index_cache, const PackListing& listing) {
  PushedTrees out;
  std::ifstream in(record_path(index_cache));  // line by line: it holds a line a folder
  std::string line;
  if (!std::getline(in, line) || line != kHeader) return out;
  PushedTrees read;
  std::size_t trees = 0;  // counted here: HashSet::size() sorts
  while (std::getline(in, line)) {
    if (line.rfind("pack ", 0) == 0) {
      std::istringstream fields(line.substr(5));
      std::string id;
      std::uint64_t bytes = 0;
      if (!(fields >> id >> bytes)) return out;
      read.packs_[id] = bytes;
      continue;
    }
    Sha256Bytes b;
    if (!sha256_from_hex(line, b) || ++trees > kMaxPushedTrees) return out;
    read.trees_.insert(line);
  }
  if (!listing_has(listing, read.packs_)) return out;
  return read;
}

bool PushedTrees::still_listed(const PackListing& listing) const { return listing_has(listing, packs_); }

void PushedTrees::save(const std::filesystem::path& index_cache, const PackListing& listing, const HashSet& walked) {
  HashSet trees;
  if (still_listed(listing) && trees_.size() + walked.size() <= kMaxPushedTrees)
    trees_.for_each([&](const std::string& h) { trees.insert(h); });
  walked.for_each([&](const std::string& h) { trees.insert(h); });
  std::string text = kHeader;
  text += '\n';
  for (const auto& [id, bytes] : listing) text += "pack " + id + " " + std::to_string(bytes) + "\n";
  trees.for_each([&](const std::string& h) { text += h + "\n"; });
  std::error_code ec;
  std::filesystem::create_directories(index_cache, ec);
  try {
    write_file_atomic(record_path(index_cache), text, false);
  } catch (const Error&) {
    return;  // only a cache: the next push walks everything
  }
  packs_ = listing;
  trees_ = std::move(trees);
}

void PushedTrees::forget(const std::filesystem::path& index_cache) {
  std::error_code ec;
  std::filesystem::remove(record_path(index_cache), ec);
}

}  // namespace mlo::app
