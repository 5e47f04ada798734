#include "remote/layout.h"

#include <zstd.h>

#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/parse.h"
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
  size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), level);
  if (ZSTD_isError(n)) throw Error(Exit::input, std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

std::string zstd_decompress(std::string_view data, std::uint64_t expected_size, const std::string& where) {
  unsigned long long frame = ZSTD_getFrameContentSize(data.data(), data.size());
  if (frame == ZSTD_CONTENTSIZE_ERROR || (frame != ZSTD_CONTENTSIZE_UNKNOWN && frame != expected_size))
    throw RemoteError(where + ": corrupt data (not the zstd frame its index describes)",
                      "try again; if it persists, the remote is damaged: push again from a clone that has the data");
  std::string out(expected_size, '\0');
  size_t n = ZSTD_decompress(out.data(), out.size(), data.data(), data.size());
  if (ZSTD_isError(n) || n != expected_size)
    throw RemoteError(where + ": corrupt data (zstd: " + (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong size") + ")",
                      "try again; if it persists, the remote is damaged: push again from a clone that has the data");
  return out;
}

std::string serialize_pack_index(const PackIndex& index) {
  nlohmann::json blobs = nlohmann::json::array();
  for (auto& b : index.blobs)
    blobs.push_back({std::string(1, static_cast<char>(b.kind)), b.hash, b.offset, b.length, b.size});
  nlohmann::json doc = {{"version", 1}, {"pack", index.id}, {"created", index.created}, {"blobs", blobs}};
  return zstd_compress(doc.dump(), 3);
}

namespace {
// mlo writes objects under 2 MiB whole and larger ones as chunks of at most
// 512 KiB; recipes grow with the object (about 80 bytes a chunk). Claims far
// beyond that are damage or an attack (a pull would allocate them).
constexpr std::uint64_t kMaxBlobBytes = 64ull << 20;
constexpr std::uint64_t kMaxRecipeBytes = 1ull << 30;
}  // namespace

PackIndex parse_pack_index(std::string_view bytes, const std::string& where) {
  unsigned long long size = ZSTD_getFrameContentSize(bytes.data(), bytes.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > (1ull << 31))
    throw RemoteError(where + ": corrupt pack index (bad zstd frame)",
                      "try again; if it persists, remove it from the remote ('mlo push' re-sends its data)");
  std::string text = zstd_decompress(bytes, size, where);
  PackIndex idx;
  if (!json_depth_within(text)) throw RemoteError(where + ": malformed pack index (nested too deeply)");
  try {
    auto doc = nlohmann::json::parse(text);
    if (json_u64(doc.at("version")) != std::optional<std::uint64_t>(1))
      throw RemoteError(where + ": pack index version " + doc.at("version").dump() + " is not supported",
                        "upgrade mlo");
    idx.id = doc.at("pack").get<std::string>();
    if (auto c = doc.find("created"); c != doc.end() && c->is_number_integer()) idx.created = c->get<std::int64_t>();
    for (auto& b : doc.at("blobs")) {
      BlobEntry e;
      std::string kind = b.at(0).get<std::string>();
      if (kind != "o" && kind != "c" && kind != "r") throw RemoteError(where + ": unknown blob kind '" + kind + "'");
      e.kind = static_cast<BlobKind>(kind[0]);
      e.hash = b.at(1).get<std::string>();
      if (!is_sha256_hex(e.hash)) throw RemoteError(where + ": bad hash '" + e.hash + "'");
      auto offset = json_u64(b.at(2)), length = json_u64(b.at(3)), size = json_u64(b.at(4));
      if (!offset || !length || !size) throw RemoteError(where + ": blob sizes must be whole numbers");
      // The size is what a pull allocates to decompress: never more than mlo
      // writes (objects under the chunk threshold, chunks, recipes).
      if (*size > (e.kind == BlobKind::recipe ? kMaxRecipeBytes : kMaxBlobBytes))
        throw RemoteError(where + ": blob " + e.hash + " claims " + std::to_string(*size) +
                              " bytes, more than any blob mlo writes",
                          "the pack index is damaged or hostile; remove it from the remote and push again");
      e.offset = *offset;
      e.length = *length;
      e.size = *size;
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
    auto size = json_u64(doc.at("size"));
    if (!size) throw RemoteError(where + ": the recipe's size must be a whole number");
    r.size = *size;
    std::uint64_t total = 0;
    for (auto& c : doc.at("chunks")) {
      auto chunk = json_u64(c.at(1));
      // Each chunk is a blob; their sum must not wrap around 2^64.
      if (!chunk || *chunk > kMaxBlobBytes || *chunk > r.size - total)
        throw RemoteError(where + ": chunk sizes do not add up to the object's size");
      r.chunks.emplace_back(c.at(0).get<std::string>(), *chunk);
      if (!is_sha256_hex(r.chunks.back().first)) throw RemoteError(where + ": bad chunk hash");
      total += r.chunks.back().second;
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

const BlobLocation* RemoteIndex::object(const std::string& hash) const {
  auto it = objects_.find(hash);
  return it == objects_.end() ? nullptr : &it->second;
}
const BlobLocation* RemoteIndex::chunk(const std::string& hash) const {
  auto it = chunks_.find(hash);
  return it == chunks_.end() ? nullptr : &it->second;
}
const BlobLocation* RemoteIndex::recipe(const std::string& hash) const {
  auto it = recipes_.find(hash);
  return it == recipes_.end() ? nullptr : &it->second;
}

void RemoteIndex::add(const std::string& pack, const BlobEntry& e) {
  auto& map = e.kind == BlobKind::object ? objects_ : e.kind == BlobKind::chunk ? chunks_ : recipes_;
  map.try_emplace(e.hash, BlobLocation{pack, e});
}

std::uint64_t RemoteIndex::pack_bytes(const std::string& id) const {
  auto it = pack_sizes.find(id);
  return it == pack_sizes.end() ? 0 : it->second;
}

bool RemoteIndex::cache_intact(Backend& backend, const fs::path& cache_dir) {
  std::set<std::string> listed;
  for (auto& b : backend.list("packs/")) listed.insert(b.key.substr(6));
  std::error_code ec;
  for (auto it = fs::directory_iterator(cache_dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->path().extension() != ".idx") continue;
    std::string stem = it->path().stem().string();
    if (!listed.count(stem + ".idx") || !listed.count(stem + ".pack")) return false;
  }
  return !ec;
}

RemoteIndex RemoteIndex::load(Backend& backend, const fs::path& cache_dir, unsigned jobs) {
  RemoteIndex index;
  std::vector<std::string> ids;
  std::map<std::string, bool> has_pack;
  for (auto& b : backend.list("packs/")) {
    std::string name = b.key.substr(6);
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".idx") == 0) {
      ids.push_back(name.substr(0, name.size() - 4));
    } else if (name.size() > 5 && name.compare(name.size() - 5, 5, ".pack") == 0) {
      index.pack_sizes[name.substr(0, name.size() - 5)] = b.size;
    }
  }
  std::error_code ec;
  fs::create_directories(cache_dir, ec);
  std::vector<PackIndex> parsed(ids.size());
  parallel_for(ids.size(), jobs, [&](std::size_t i) {
    fs::path local = cache_dir / (ids[i] + ".idx");
    std::optional<std::string> bytes = read_file_if_exists(local);
    bool cached = bytes.has_value();
    std::string where = backend.describe() + "/" + index_key(ids[i]);
    if (cached) {
      try {
        parsed[i] = parse_pack_index(*bytes, where);
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
        parsed[i] = parse_pack_index(*bytes, where);
        break;
      } catch (const RemoteError&) {
        if (attempt >= 4) throw;
      }
    }
    parsed[i].id = ids[i];
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
  for (auto& p : parsed) blobs += p.blobs.size();
  index.objects_.reserve(blobs);
  for (auto& p : parsed) {
    if (p.id.empty()) continue;
    if (!index.pack_sizes.count(p.id)) continue;  // index without its pack: ignore (gc in progress)
    for (auto& b : p.blobs) index.add(p.id, b);
    index.packs_.emplace(p.id, std::move(p));
  }
  return index;
}

}  // namespace mlo::remote
