#include "remote/layout.h"

#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <new>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/hash_set.h"
#include "core/parse.h"
#include "core/log.h"
#include "core/parallel.h"

namespace mlo::remote {

std::string new_pack_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}() ^
                                          static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%010lld-%016llx", static_cast<long long>(now),
                static_cast<unsigned long long>(rng()));
  return buf;
}

bool is_pack_id(std::string_view id) {
  auto dash = id.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash > 20 || id.size() - dash - 1 < 1 || id.size() - dash - 1 > 32)
    return false;
  for (size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    bool ok = i < dash ? (c >= '0' && c <= '9') : i == dash || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    if (!ok) return false;
  }
  return true;
}

std::int64_t pack_time(const std::string& id) {
  auto dash = id.find('-');
  if (dash == std::string::npos) return 0;
  try {
    return std::stoll(id.substr(0, dash));
  } catch (...) {
    return 0;
  }
}

std::string zstd_compress(std::string_view data, int level) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  // One context a thread, kept: ZSTD_compress sets one up each call (16% of
  // pushing 10,000 small files went there).
  static thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  if (!cctx) throw std::bad_alloc();
  size_t n = ZSTD_compressCCtx(cctx.get(), out.data(), out.size(), data.data(), data.size(), level);
  if (ZSTD_isError(n)) throw Error(Exit::input, std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

namespace {

// Whether `size` bytes can come out of `compressed` bytes of zstd, within
// the cap on one blob.
bool plausible_size(std::uint64_t compressed, std::uint64_t size) {
  std::uint64_t most = 0;
  if (__builtin_mul_overflow(compressed, kMaxZstdRatio, &most)) most = UINT64_MAX;
  return size <= kMaxBlobBytes && size <= most;
}

}  // namespace

std::string zstd_decompress(std::string_view data, std::uint64_t expected_size, const std::string& where) {
  // Checked before anything is allocated: the size comes from a remote.
  if (!plausible_size(data.size(), expected_size))
    throw RemoteError(where + ": its index claims " + std::to_string(expected_size) + " bytes from " +
                          std::to_string(data.size()) + " compressed bytes (more than any zstd frame holds)",
                      "the remote's pack index is damaged or hostile: remove it from the remote; 'mlo push' "
                      "from a clone that has the data re-sends it");
  unsigned long long frame = ZSTD_getFrameContentSize(data.data(), data.size());
  if (frame == ZSTD_CONTENTSIZE_ERROR || (frame != ZSTD_CONTENTSIZE_UNKNOWN && frame != expected_size))
    throw RemoteError(where + ": corrupt data (not the zstd frame its index describes)",
                      "try again; if it persists, the remote is damaged: push again from a clone that has the data");
  std::string out(expected_size, '\0');
  // One context a thread, kept: ZSTD_decompress makes (and zeroes) a new one
  // each call, which was 8% of pulling 10,000 small files.
  static thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!dctx) throw std::bad_alloc();
  size_t n = ZSTD_decompressDCtx(dctx.get(), out.data(), out.size(), data.data(), data.size());
  if (ZSTD_isError(n) || n != expected_size)
    throw RemoteError(where + ": corrupt data (zstd: " + (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size") + ")",
                      "try again; if it persists, the remote is damaged: push again from a clone that has the data");
  return out;
}

// Written as text, not through a JSON document (one such document of
// every blob, for every worker's pack at once, was most of a push's memory),
// in the bytes nlohmann::json::dump() gives: keys sorted, no spaces. The
// hashes are hex and the pack id is checked (is_pack_id), so nothing needs
// escaping.
std::string serialize_pack_index(const PackIndex& index) {
  std::string text = "{\"blobs\":[";
  text.reserve(32 + index.blobs.size() * 112);
  for (std::size_t i = 0; i < index.blobs.size(); ++i) {
    const BlobEntry& b = index.blobs[i];
    text += i ? ",[\"" : "[\"";
    text += static_cast<char>(b.kind);
    text += "\",\"" + b.hash + "\"," + std::to_string(b.offset) + "," + std::to_string(b.length) + "," +
            std::to_string(b.size) + "]";
  }
  text += "],\"created\":" + std::to_string(index.created) + ",\"pack\":" + nlohmann::json(index.id).dump() +
          ",\"version\":1}";
  return zstd_compress(text, 3);
}

namespace {

// A number in a pack index or recipe: a JSON unsigned integer, nothing else
// (a float, a negative or a string would be cast, not checked).
std::uint64_t u64_field(const nlohmann::json& v, const std::string& where, const char* what) {
  if (!v.is_number_unsigned())
    throw RemoteError(where + ": " + what + " is not a whole number (" + v.dump().substr(0, 40) + ")",
                      "the remote's copy is damaged: remove it from the remote; 'mlo push' re-sends its data");
  return v.get<std::uint64_t>();
}

void check_entry(const BlobEntry& e, const std::string& where) {
  std::uint64_t end = 0;
  if (__builtin_add_overflow(e.offset, e.length, &end) || !plausible_size(e.length, e.size))
    throw RemoteError(where + ": blob " + e.hash.substr(0, 12) + " claims offset " + std::to_string(e.offset) +
                          ", length " + std::to_string(e.length) + " and size " + std::to_string(e.size) +
                          " (impossible)",
                      "the pack index is damaged or hostile: remove it from the remote; 'mlo push' re-sends its data");
}

// Reads the canonical text of a pack index (serialize_pack_index's, which is
// what the JSON library wrote before it) without building a JSON document:
// a document held ~250 bytes a blob and took most of a push's time at a
// million objects. Every field gets the checks the JSON path gives it. False
// at the first byte that differs from that form (`idx` then holds part of
// it): the caller parses the text as JSON, which reads another layout of the
// same document, or says what is wrong.
class CanonicalIndexReader {
 public:
  explicit CanonicalIndexReader(std::string_view text) : s_(text) {}

  bool read(PackIndex& idx, const std::string& where) {
    if (!literal("{\"blobs\":[")) return false;
    if (!literal("]")) {
      do {
        BlobEntry e;
        if (!blob(e)) return false;
        check_entry(e, where);
        idx.blobs.push_back(std::move(e));
      } while (literal(","));
      if (!literal("]")) return false;
    }
    return literal(",\"created\":") && int64(idx.created) && literal(",\"pack\":\"") && plain_string(idx.id) &&
           literal(",\"version\":1}") && at_ == s_.size();
  }

 private:
  bool literal(std::string_view text) {
    if (s_.substr(at_, text.size()) != text) return false;
    at_ += text.size();
    return true;
  }
  // ["o","<64 hex>",offset,length,size]
  bool blob(BlobEntry& e) {
    if (!literal("[\"") || at_ >= s_.size()) return false;
    const char kind = s_[at_++];
    if (kind != 'o' && kind != 'c' && kind != 'r') return false;
    e.kind = static_cast<BlobKind>(kind);
    if (!literal("\",\"") || s_.size() - at_ < 64) return false;
    e.hash.assign(s_.substr(at_, 64));
    at_ += 64;
    return is_sha256_hex(e.hash) && literal("\",") && uint64(e.offset) && literal(",") && uint64(e.length) &&
           literal(",") && uint64(e.size) && literal("]");
  }
  // JSON's unsigned integer: digits, no leading zero, within 64 bits.
  bool uint64(std::uint64_t& v) {
    const std::size_t start = at_;
    v = 0;
    for (; at_ < s_.size() && s_[at_] >= '0' && s_[at_] <= '9'; ++at_)
      if (__builtin_mul_overflow(v, 10u, &v) || __builtin_add_overflow(v, unsigned(s_[at_] - '0'), &v)) return false;
    const std::size_t digits = at_ - start;
    return digits > 0 && !(digits > 1 && s_[start] == '0');
  }
  bool int64(std::int64_t& v) {
    const bool negative = literal("-");
    std::uint64_t u = 0;
    if (!uint64(u) || u > std::uint64_t(INT64_MAX)) return false;
    v = negative ? -std::int64_t(u) : std::int64_t(u);
    return true;
  }
  // A string without escapes or control characters, up to its closing quote.
  bool plain_string(std::string& out) {
    const std::size_t end = s_.find('"', at_);
    if (end == std::string_view::npos) return false;
    std::string_view body = s_.substr(at_, end - at_);
    for (char c : body)
      if (c == '\\' || static_cast<unsigned char>(c) < 0x20) return false;
    out.assign(body);
    at_ = end + 1;
    return true;
  }

  std::string_view s_;
  std::size_t at_ = 0;
};

}  // namespace

PackIndex parse_pack_index(std::string_view bytes, const std::string& where) {
  unsigned long long size = ZSTD_getFrameContentSize(bytes.data(), bytes.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > (1ull << 31))
    throw RemoteError(where + ": corrupt pack index (bad zstd frame)",
                      "try again; if it persists, remove it from the remote ('mlo push' re-sends its data)");
  std::string text = zstd_decompress(bytes, size, where);
  PackIndex idx;
  if (CanonicalIndexReader(text).read(idx, where)) return idx;
  idx = PackIndex();
  if (!json_depth_within(text)) throw RemoteError(where + ": malformed pack index (nested too deeply)");
  try {
    auto doc = nlohmann::json::parse(text);
    if (!doc.is_object() || !doc.at("version").is_number_integer() || doc.at("version").get<std::int64_t>() != 1)
      throw RemoteError(where + ": pack index version " + doc.at("version").dump() + " is not supported",
                        "upgrade mlo");
    idx.id = doc.at("pack").get<std::string>();
    idx.created = doc.contains("created") && doc["created"].is_number_integer() ? doc["created"].get<std::int64_t>() : 0;
    for (auto& b : doc.at("blobs")) {
      BlobEntry e;
      std::string kind = b.at(0).get<std::string>();
      if (kind != "o" && kind != "c" && kind != "r") throw RemoteError(where + ": unknown blob kind '" + kind + "'");
      e.kind = static_cast<BlobKind>(kind[0]);
      e.hash = b.at(1).get<std::string>();
      if (!is_sha256_hex(e.hash)) throw RemoteError(where + ": bad hash '" + e.hash + "'");
      e.offset = u64_field(b.at(2), where, "an offset");
      e.length = u64_field(b.at(3), where, "a length");
      e.size = u64_field(b.at(4), where, "a size");
      check_entry(e, where);
      idx.blobs.push_back(std::move(e));
    }
  } catch (const nlohmann::json::exception& e) {
    throw RemoteError(where + ": malformed pack index: " + e.what(),
                      "remove it from the remote; 'mlo push' re-sends its data");
  }
  return idx;
}

std::string serialize_recipe(const Recipe& r) {
  nlohmann::json chunks = nlohmann::json::array();
  for (auto& [h, s] : r.chunks) chunks.push_back({h, s});
  return nlohmann::json({{"version", 1}, {"size", r.size}, {"chunks", chunks}}).dump();
}

Recipe parse_recipe(std::string_view json, const std::string& where) {
  Recipe r;
  if (!json_depth_within(json)) throw RemoteError(where + ": malformed recipe (nested too deeply)");
  try {
    auto doc = nlohmann::json::parse(json);
    r.size = u64_field(doc.at("size"), where, "the size");
    const auto& chunks = doc.at("chunks");
    if (!chunks.is_array() || chunks.size() > kMaxRecipeChunks)
      throw RemoteError(where + ": malformed recipe (chunks is not a list of at most " +
                        std::to_string(kMaxRecipeChunks) + " entries)");
    std::uint64_t total = 0;
    for (auto& c : chunks) {
      std::uint64_t len = u64_field(c.at(1), where, "a chunk size");
      r.chunks.emplace_back(c.at(0).get<std::string>(), len);
      if (!is_sha256_hex(r.chunks.back().first)) throw RemoteError(where + ": bad chunk hash");
      // Refused, not wrapped: sizes that overflow would place chunks anywhere.
      if (len == 0 || len > kMaxBlobBytes || __builtin_add_overflow(total, len, &total))
        throw RemoteError(where + ": chunk sizes overflow or are out of range");
    }
    if (total != r.size) throw RemoteError(where + ": chunk sizes do not add up to the object's size");
  } catch (const nlohmann::json::exception& e) {
    throw RemoteError(where + ": malformed recipe: " + e.what());
  }
  return r;
}

namespace {

const std::uint64_t* gear_table() {
  static std::uint64_t table[256];
  static bool init = [] {
    std::uint64_t x = 0x6d6c6f2d67656172ull;  // fixed seed: boundaries must be stable forever
    for (auto& t : table) {
      x += 0x9e3779b97f4a7c15ull;
      std::uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      t = z ^ (z >> 31);
    }
    return true;
  }();
  (void)init;
  return table;
}

}  // namespace

std::vector<std::uint64_t> cdc_split(std::string_view data, const ChunkParams& p) {
  const std::uint64_t* gear = gear_table();
  // The mask tests the top bits, which mix in the most recent ~64 bytes.
  const std::uint64_t mask = ((1ull << p.avg_bits) - 1) << (64 - p.avg_bits);
  std::vector<std::uint64_t> out;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  std::uint64_t n = data.size(), start = 0;
  while (start < n) {
    std::uint64_t remaining = n - start;
    if (remaining <= p.min_size) {
      out.push_back(remaining);
      break;
    }
    std::uint64_t end = std::min(remaining, p.max_size);
    std::uint64_t h = 0, i = p.min_size;
    // Warm the hash over the 64 bytes before min_size so a boundary depends
    // only on local content.
    for (std::uint64_t j = p.min_size - 64; j < p.min_size; ++j) h = (h << 1) + gear[bytes[start + j]];
    std::uint64_t cut = end;
    for (; i < end; ++i) {
      h = (h << 1) + gear[bytes[start + i]];
      if ((h & mask) == 0) {
        cut = i + 1;
        break;
      }
    }
    out.push_back(cut);
    start += cut;
  }
  return out;
}

namespace {

// Hashes here were checked by is_sha256_hex where they were read.
std::array<unsigned char, 32> binary_hash(std::string_view hex) {
  Sha256Bytes out{};
  sha256_from_hex(hex, out);
  return out;
}

std::string hex_hash(const Sha256Bytes& h) { return sha256_to_hex(h); }

// Where `key` stands in a HashSet's sorted hashes; npos when it is not there.
std::size_t position_in(const std::vector<Sha256Bytes>& sorted, const Sha256Bytes& key) {
  auto it = std::lower_bound(sorted.begin(), sorted.end(), key);
  return it != sorted.end() && *it == key ? static_cast<std::size_t>(it - sorted.begin()) : std::string::npos;
}

}  // namespace

const RemoteIndex::Slot* RemoteIndex::find(BlobKind kind, const std::string& hash) const {
  if (!is_sha256_hex(hash)) return nullptr;
  auto key = binary_hash(hash);
  auto it = std::lower_bound(slots_.begin(), slots_.end(), std::make_pair(kind, key), [](const Slot& s, const auto& k) {
    return std::tie(s.kind, s.hash) < std::tie(k.first, k.second);
  });
  // The first present copy, in load order (a blob in two packs: either serves).
  for (; it != slots_.end() && it->kind == kind && it->hash == key; ++it)
    if (it->present) return &*it;
  return nullptr;
}

BlobEntry RemoteIndex::entry_of(const Slot& s) const { return {s.kind, hex_hash(s.hash), s.offset, s.length, s.size}; }

std::optional<RemoteIndex::Slot> RemoteIndex::lookup(BlobKind kind, const std::string& hash) const {
  if (kind != BlobKind::object || !only_objects_) {
    const Slot* s = find(kind, hash);
    return s ? std::optional<Slot>(*s) : std::nullopt;
  }
  if (!is_sha256_hex(hash)) return std::nullopt;
  if (places_.empty()) return std::nullopt;  // the remote holds none of them
  auto key = binary_hash(hash);
  std::size_t at = position_in(only_objects_->sorted(), key);
  if (at == std::string::npos) return std::nullopt;  // left out by load()
  const Place& p = places_[at];
  if (p.pack == kNoPlace) return std::nullopt;
  return Slot{key, p.offset, p.length, p.size, p.pack, BlobKind::object, true};
}

std::optional<BlobLocation> RemoteIndex::location(BlobKind kind, const std::string& hash) const {
  std::optional<Slot> s = lookup(kind, hash);
  if (!s) return std::nullopt;
  return BlobLocation{pack_ids_[s->pack], entry_of(*s)};
}

std::optional<BlobLocation> RemoteIndex::object(const std::string& hash) const { return location(BlobKind::object, hash); }
std::optional<BlobLocation> RemoteIndex::chunk(const std::string& hash) const { return location(BlobKind::chunk, hash); }
std::optional<BlobLocation> RemoteIndex::recipe(const std::string& hash) const { return location(BlobKind::recipe, hash); }

const Recipe* RemoteIndex::recipe_content(const std::string& hash) const {
  auto it = recipe_contents_.find(hash);
  return it == recipe_contents_.end() ? nullptr : &it->second;
}

std::vector<std::string> RemoteIndex::lacking_chunks(const std::string& hash) const {
  std::vector<std::string> out;
  const Recipe* r = recipe_content(hash);
  if (!r) return out;
  for (auto& [ch, len] : r->chunks) {
    const Slot* c = find(BlobKind::chunk, ch);
    if (!c || c->size != len) out.push_back(ch);
  }
  return out;
}

bool RemoteIndex::complete_recipe(const std::string& hash) const {
  const Recipe* r = find(BlobKind::recipe, hash) ? recipe_content(hash) : nullptr;
  if (!r) return false;
  for (auto& [ch, len] : r->chunks) {
    const Slot* c = find(BlobKind::chunk, ch);
    if (!c || c->size != len) return false;
  }
  return true;
}

// One pack's blobs as slots (load() numbers the pack and sorts them all).
std::vector<RemoteIndex::Slot> RemoteIndex::slots_of(const PackIndex& pack, std::uint64_t stored,
                                                     const HashSet* only_objects, std::vector<PlaceFound>* places) {
  std::vector<Slot> out;
  out.reserve(only_objects ? 0 : pack.blobs.size());
  const std::vector<Sha256Bytes>* wanted = only_objects ? &only_objects->sorted() : nullptr;
  for (const auto& b : pack.blobs) {
    if (wanted && b.kind == BlobKind::object) {
      std::size_t at = position_in(*wanted, binary_hash(b.hash));
      // A copy past the pack's listed end is absent (as below): not a place.
      if (at != std::string::npos && b.offset + b.length <= stored)
        places->push_back({static_cast<std::uint32_t>(at), static_cast<std::uint32_t>(b.size), b.offset, b.length});
      continue;
    }
    Slot s;
    s.hash = binary_hash(b.hash);
    s.offset = b.offset;
    s.length = b.length;
    s.size = b.size;
    s.kind = b.kind;
    // A pack shorter than its index says (a store that kept part of a PUT):
    // the blobs past its end are absent, so push sends them again.
    s.present = b.offset + b.length <= stored;
    out.push_back(s);
  }
  if (places) places->shrink_to_fit();  // held until every pack is read
  return out;
}

std::map<std::string, PackIndex> RemoteIndex::packs() const {
  std::map<std::string, PackIndex> out;
  for (std::size_t i = 0; i < pack_ids_.size(); ++i) out[pack_ids_[i]] = PackIndex{pack_ids_[i], pack_created_[i], {}};
  for (const Slot& s : slots_) out[pack_ids_[s.pack]].blobs.push_back(entry_of(s));
  for (auto& [id, p] : out)
    std::sort(p.blobs.begin(), p.blobs.end(), [](const BlobEntry& a, const BlobEntry& b) { return a.offset < b.offset; });
  return out;
}

std::uint64_t RemoteIndex::pack_bytes(const std::string& id) const {
  auto it = pack_sizes.find(id);
  return it == pack_sizes.end() ? 0 : it->second;
}

std::map<std::string, std::uint64_t> committed_packs(Backend& backend) {
  std::map<std::string, std::uint64_t> packs;
  std::set<std::string> indexed;
  for (auto& b : backend.list("packs/")) {
    std::string name = b.key.substr(6);
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".pack") == 0) packs[name.substr(0, name.size() - 5)] = b.size;
    else if (name.size() > 4 && name.compare(name.size() - 4, 4, ".idx") == 0) indexed.insert(name.substr(0, name.size() - 4));
  }
  for (auto it = packs.begin(); it != packs.end();)
    it = indexed.count(it->first) && is_pack_id(it->first) ? std::next(it) : packs.erase(it);
  return packs;
}

bool RemoteIndex::cache_intact(const std::map<std::string, std::uint64_t>& listing, const fs::path& cache_dir) {
  std::error_code ec;
  for (auto it = fs::directory_iterator(cache_dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->path().extension() != ".idx") continue;
    if (!listing.count(it->path().stem().string())) return false;
  }
  return !ec;
}

RemoteIndex RemoteIndex::load(Backend& backend, const fs::path& cache_dir, unsigned jobs, const HashSet* only_objects) {
  if (only_objects) only_objects->sorted();  // sorted here, once: the threads below only read it
  RemoteIndex index;
  std::vector<std::string> ids;
  std::map<std::string, bool> has_pack;
  for (auto& b : backend.list("packs/")) {
    std::string name = b.key.substr(6);
    bool idx = name.size() > 4 && name.compare(name.size() - 4, 4, ".idx") == 0;
    bool pack = name.size() > 5 && name.compare(name.size() - 5, 5, ".pack") == 0;
    if (!idx && !pack) continue;  // temp files, debris
    std::string id = name.substr(0, name.size() - (idx ? 4 : 5));
    // The id names a local file (the cached index): only mlo's own shape.
    if (!is_pack_id(id)) {
      log::warn(backend.describe() + ": ignoring packs/" + (id.size() > 80 ? id.substr(0, 80) + "..." : id) +
                (idx ? ".idx" : ".pack") + " (not a pack name mlo writes)");
      continue;
    }
    if (idx) ids.push_back(id);
    else index.pack_sizes[id] = b.size;
  }
  std::error_code ec;
  fs::create_directories(cache_dir, ec);
  // Each index is parsed and made compact on its own thread, so only `jobs`
  // parsed indexes exist at once.
  std::vector<std::vector<Slot>> parsed(ids.size());
  std::vector<std::vector<PlaceFound>> found_places(only_objects ? ids.size() : 0);
  std::vector<std::int64_t> created(ids.size());
  std::vector<char> found(ids.size(), 0);
  parallel_for(ids.size(), jobs, [&](std::size_t i) {
    PackIndex pack;
    fs::path local = cache_dir / (ids[i] + ".idx");
    std::optional<std::string> bytes = read_file_if_exists(local);
    bool cached = bytes.has_value();
    std::string where = backend.describe() + "/" + index_key(ids[i]);
    if (cached) {
      try {
        pack = parse_pack_index(*bytes, where);
      } catch (const RemoteError&) {
        cached = false;  // a damaged local copy: read the remote's again
      }
    }
    // A damaged answer (bad frame, bad JSON) is downloaded again a few times
    // before it is reported.
    for (int attempt = 1; !cached; ++attempt) {
      bytes = backend.get(index_key(ids[i]));
      if (!bytes) return;  // removed by gc since the listing
      try {
        pack = parse_pack_index(*bytes, where);
        break;
      } catch (const RemoteError&) {
        if (attempt >= 4) throw;
      }
    }
    auto size = index.pack_sizes.find(ids[i]);
    if (size == index.pack_sizes.end()) return;  // index without its pack: ignore (gc in progress)
    parsed[i] = slots_of(pack, size->second, only_objects, only_objects ? &found_places[i] : nullptr);
    created[i] = pack.created;
    found[i] = 1;
    if (!cached) {
      try {
        write_file_atomic(local, *bytes, false);
      } catch (const Error&) {
        // The local copy is only a cache.
      }
    }
  });
  // Drop cached indexes of packs that are gone from the remote.
  for (auto it = fs::directory_iterator(cache_dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string stem = it->path().stem().string();
    if (it->path().extension() == ".idx" && std::find(ids.begin(), ids.end(), stem) == ids.end())
      fs::remove(it->path(), ec);
  }
  std::size_t blobs = 0;
  for (auto& p : parsed) blobs += p.size();
  index.slots_.reserve(blobs);
  std::size_t places_found = 0;
  for (auto& f : found_places) places_found += f.size();
  if (only_objects) {
    index.only_objects_ = only_objects;
    // None found (a first push to an empty remote): no table at all.
    if (places_found > 0) index.places_.assign(only_objects->sorted().size(), Place{});
  }
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (!found[i]) continue;
    auto number = static_cast<std::uint32_t>(index.pack_ids_.size());
    index.pack_ids_.push_back(ids[i]);
    index.pack_created_.push_back(created[i]);
    for (Slot& slot : parsed[i]) slot.pack = number;
    index.slots_.insert(index.slots_.end(), parsed[i].begin(), parsed[i].end());
    std::vector<Slot>().swap(parsed[i]);
    if (!only_objects) continue;
    // In load order, the first present copy is kept (as find() does for slots).
    for (const PlaceFound& f : found_places[i]) {
      Place& p = index.places_[f.position];
      if (p.pack == kNoPlace) p = Place{f.offset, f.length, f.size, number};
    }
    std::vector<PlaceFound>().swap(found_places[i]);
  }
  // In place (no second copy); equal hashes stay in load order.
  std::sort(index.slots_.begin(), index.slots_.end(), [](const Slot& a, const Slot& b) {
    return std::tie(a.kind, a.hash, a.pack, a.offset) < std::tie(b.kind, b.hash, b.pack, b.offset);
  });
  index.load_recipes(backend, cache_dir, jobs);
  return index;
}

}  // namespace mlo::remote

namespace mlo::remote {

// Every recipe's chunk list, from `cache_dir/recipes/HASH` when read before
// (they never change), else from the remote: all of one pack's recipes in
// one range read when they lie close together (push writes them together).
void RemoteIndex::load_recipes(Backend& backend, const fs::path& cache_dir, unsigned jobs) {
  fs::path dir = cache_dir / "recipes";
  std::map<std::string, std::vector<BlobLocation>> wanted;  // pack -> recipes to read
  for (const Slot& s : slots_) {
    if (s.kind != BlobKind::recipe || !s.present) continue;
    std::string hash = hex_hash(s.hash);
    if (recipe_contents_.count(hash) || find(BlobKind::recipe, hash) != &s) continue;  // a second copy
    BlobLocation loc{pack_ids_[s.pack], entry_of(s)};
    if (auto text = read_file_if_exists(dir / hash)) {
      try {
        recipe_contents_[hash] = parse_recipe(*text, (dir / hash).string());
        continue;
      } catch (const RemoteError&) {
        // A damaged local copy: read the remote's.
      }
    }
    wanted[loc.pack].push_back(std::move(loc));
  }
  if (wanted.empty()) return;
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::vector<std::pair<std::string, std::vector<BlobLocation>>> packs(wanted.begin(), wanted.end());
  std::mutex mutex;
  parallel_for(packs.size(), std::max(1u, jobs), [&](std::size_t i) {
    auto& [pack, locs] = packs[i];
    std::uint64_t start = UINT64_MAX, end = 0;
    for (const BlobLocation& loc : locs) {
      start = std::min(start, loc.entry.offset);
      end = std::max(end, loc.entry.offset + loc.entry.length);
    }
    std::optional<std::string> span;
    if (end - start <= (8ull << 20)) span = backend.get_range(pack_key(pack), start, end - start);
    for (const BlobLocation& loc : locs) {
      std::string where = backend.describe() + "/" + pack_key(pack) + " (recipe of " + loc.entry.hash.substr(0, 12) + ")";
      std::string z = span ? span->substr(loc.entry.offset - start, loc.entry.length)
                           : backend.get_range(pack_key(pack), loc.entry.offset, loc.entry.length);
      try {
        std::string text = zstd_decompress(z, loc.entry.size, where);
        Recipe r = parse_recipe(text, where);
        try {
          write_file_atomic(dir / loc.entry.hash, text, false);
        } catch (const Error&) {
          // Only a cache.
        }
        std::lock_guard lock(mutex);
        recipe_contents_[loc.entry.hash] = std::move(r);
      } catch (const RemoteError& e) {
        // Unreadable: the object counts as absent, so push sends it again.
        log::warn(std::string(e.what()) + "; the object counts as not on the remote");
      }
    }
  });
}

}  // namespace mlo::remote
