// mlo's layout on a remote (man mlo-remote-layout(5), schemas/remote-pack-index.schema.json):
//
//   packs/<id>.pack   zstd frames, one per blob, back to back
//   packs/<id>.idx    zstd-compressed JSON naming each blob in the pack:
//                     kind, SHA-256, offset, compressed length, size
//
// A blob is a whole object ("o"), a chunk of a large object ("c"), or the
// recipe of a large object ("r": the list of its chunks). The .idx is
// written after its pack, so a pack without an index (an interrupted push)
// is invisible; the set of .idx files is the remote's index, cached locally
// (they never change), so a push lists one folder instead of every object.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/hash_set.h"
#include "remote/backend.h"

namespace mlo::remote {

enum class BlobKind : char { object = 'o', chunk = 'c', recipe = 'r' };

struct BlobEntry {
  BlobKind kind = BlobKind::object;
  std::string hash;            // SHA-256 of the uncompressed bytes (the object's hash for a recipe)
  std::uint64_t offset = 0;    // in the pack
  std::uint64_t length = 0;    // compressed bytes in the pack
  std::uint64_t size = 0;      // uncompressed bytes (of the recipe's JSON for a recipe)
};

// Bounds on what a pack index or recipe may claim, so a hostile or damaged
// one cannot make a reader allocate what it names: one blob decompresses to
// at most kMaxBlobBytes, and to at most kMaxZstdRatio times its compressed
// length (zstd's densest block, RLE, is 4 bytes for 128 KiB).
inline constexpr std::uint64_t kMaxBlobBytes = 1ull << 30;
inline constexpr std::uint64_t kMaxZstdRatio = 32768;
inline constexpr std::size_t kMaxRecipeChunks = 1u << 22;

// A pack id as new_pack_id() makes them: decimal seconds, '-', hex. Names
// from a remote listing that do not have this shape are never used (they
// become local file names in the index cache).
bool is_pack_id(std::string_view id);

struct PackIndex {
  std::string id;  // "<unix seconds>-<random hex>"
  std::int64_t created = 0;
  std::vector<BlobEntry> blobs;
};

inline std::string pack_key(const std::string& id) { return "packs/" + id + ".pack"; }
inline std::string index_key(const std::string& id) { return "packs/" + id + ".idx"; }
std::string new_pack_id();
// The creation time encoded in a pack id (0 if it has none).
std::int64_t pack_time(const std::string& id);

std::string serialize_pack_index(const PackIndex& index);   // zstd-compressed JSON
PackIndex parse_pack_index(std::string_view bytes, const std::string& where);

// A large object's chunk list.
struct Recipe {
  std::uint64_t size = 0;
  std::vector<std::pair<std::string, std::uint64_t>> chunks;  // (hash, size) in order
};
std::string serialize_recipe(const Recipe& r);
Recipe parse_recipe(std::string_view json, const std::string& where);

// zstd helpers; decompress throws RemoteError naming `where` on bad input.
std::string zstd_compress(std::string_view data, int level);
std::string zstd_decompress(std::string_view data, std::uint64_t expected_size, const std::string& where);

// Content-defined chunking with a gear rolling hash: boundaries depend on
// the bytes around them, so an edit moves only the chunks it touches.
struct ChunkParams {
  std::uint64_t min_size = 32 * 1024;
  std::uint64_t avg_bits = 16;        // ~64 KiB + min_size average (~96 KiB)
  std::uint64_t max_size = 512 * 1024;
};
// Splits a buffer; returns chunk lengths (sum = data.size()).
std::vector<std::uint64_t> cdc_split(std::string_view data, const ChunkParams& params = {});

// The committed packs a listing of packs/ shows (an index and its pack both
// there), with each pack's size: what a record of the remote's contents can be
// checked against later (a pack gone or of another size voids it).
std::map<std::string, std::uint64_t> committed_packs(Backend& backend);

// Where a blob lives on the remote.
struct BlobLocation {
  std::string pack;  // pack id
  BlobEntry entry;
};

// The remote's index: every committed pack's blobs. Held compactly (a
// 64-byte slot a blob, hashes in binary, sorted for binary search), because
// a pull or a second push of N files holds the whole remote's index: N slots.
// Loaded for a set of objects, those are 24-byte places beside the set.
class RemoteIndex {
 public:
  // Lists packs/ and reads each .idx (from `cache_dir` when already there,
  // else from the remote, in parallel with `jobs` threads, then cached).
  // With `only_objects`, whole objects ("o") outside that set are left out
  // (chunks and recipes are all kept): a push or fetch of a few objects then
  // holds a few slots, not one for every object on the remote. The set must
  // outlive the index and not change while it is used.
  static RemoteIndex load(Backend& backend, const std::filesystem::path& cache_dir, unsigned jobs,
                          const HashSet* only_objects = nullptr);
  // True when every pack whose index is cached in `cache_dir` is still in
  // `listing` (committed_packs: one listing, nothing parsed): a load would
  // find them all.
  static bool cache_intact(const std::map<std::string, std::uint64_t>& listing, const std::filesystem::path& cache_dir);

  std::optional<BlobLocation> object(const std::string& hash) const;  // kind o
  std::optional<BlobLocation> chunk(const std::string& hash) const;   // kind c
  std::optional<BlobLocation> recipe(const std::string& hash) const;  // kind r
  // Present means every byte is reachable: a whole object, or a recipe
  // whose every chunk is in a committed pack with the size the recipe says
  // (packs are listed with their sizes; a blob past its pack's end is absent).
  bool has_object(const std::string& hash) const { return lookup(BlobKind::object, hash) || complete_recipe(hash); }
  bool has_chunk(const std::string& hash) const { return find(BlobKind::chunk, hash) != nullptr; }
  bool complete_recipe(const std::string& hash) const;
  // The chunk list of a large object (read by load()); nullptr when unknown.
  const Recipe* recipe_content(const std::string& hash) const;
  // Chunks a recipe names that the remote lacks (or holds with another size).
  std::vector<std::string> lacking_chunks(const std::string& hash) const;
  void add_recipe(const std::string& hash, Recipe recipe) { recipe_contents_[hash] = std::move(recipe); }

  // Every pack's blobs (those past the pack's listed end too), in offset
  // order: built on each call, for remote gc, which visits them all (an index
  // loaded with only_objects lists no whole objects here).
  std::map<std::string, PackIndex> packs() const;
  std::uint64_t pack_bytes(const std::string& id) const;  // from the listing
  std::map<std::string, std::uint64_t> pack_sizes;         // pack id -> bytes, from the listing

 private:
  struct Slot {
    std::array<unsigned char, 32> hash{};
    std::uint64_t offset = 0, length = 0, size = 0;
    std::uint32_t pack = 0;  // into pack_ids_
    BlobKind kind = BlobKind::object;
    bool present = false;    // inside its pack's listed size
  };
  const Slot* find(BlobKind kind, const std::string& hash) const;
  std::optional<BlobLocation> location(BlobKind kind, const std::string& hash) const;
  BlobEntry entry_of(const Slot& s) const;
  // Where a whole object of `only_objects` lies, kept by its position in
  // only_objects->sorted() (its hash is not held twice): 24 bytes an object
  // a fetch or push names, not a 64-byte slot (none at all when the remote
  // holds none of them). Only present copies count.
  struct Place {
    std::uint64_t offset = 0, length = 0;
    std::uint32_t size = 0;           // <= kMaxBlobBytes
    std::uint32_t pack = kNoPlace;    // into pack_ids_; kNoPlace: not on the remote
  };
  static constexpr std::uint32_t kNoPlace = UINT32_MAX;
  // One pack's present copies of `only_objects`, before load() numbers the pack.
  struct PlaceFound {
    std::uint32_t position = 0;  // in only_objects->sorted()
    std::uint32_t size = 0;
    std::uint64_t offset = 0, length = 0;
  };
  // find() for any kind, objects of only_objects_ included (by value: those have no slot).
  std::optional<Slot> lookup(BlobKind kind, const std::string& hash) const;
  static std::vector<Slot> slots_of(const PackIndex& pack, std::uint64_t stored, const HashSet* only_objects,
                                    std::vector<PlaceFound>* places);
  void load_recipes(Backend& backend, const std::filesystem::path& cache_dir, unsigned jobs);

  std::vector<std::string> pack_ids_;
  std::vector<std::int64_t> pack_created_;
  std::vector<Slot> slots_;  // sorted by (kind, hash, load order) once loaded
  const HashSet* only_objects_ = nullptr;  // the caller's; outlives this index
  std::vector<Place> places_;              // with only_objects_: one per hash in it
  std::unordered_map<std::string, Recipe> recipe_contents_;
};

}  // namespace mlo::remote
