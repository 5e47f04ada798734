// Fuzz target: what a pull reads from a remote's packs/ folder
// (remote/layout.h). The first byte picks the reader:
//   0: a pack index as stored (zstd-compressed JSON)
//   1: a pack index's JSON (compressed here, so the fuzzer explores the JSON)
//   2: a recipe (a large object's chunk list)
//   3: one zstd frame, expected size in the next 2 bytes
//   4: an index's JSON, a NUL, then the pack: every blob the index names is
//      cut out of the pack and decompressed, as a pull does
// A bad input must end in mlo::Error, never another exception, a crash, or an
// allocation the input only claims.
#include <cstddef>
#include <cstdint>
#include <string>

#include "remote/layout.h"
#include "scratch.h"

using mlo::fuzz::expect_mlo_errors_only;
namespace r = mlo::remote;

namespace {

void read_pack(std::string_view index_json, std::string_view pack) {
  r::PackIndex index = r::parse_pack_index(r::zstd_compress(index_json, 1), "fuzz.idx");
  for (const auto& b : index.blobs) {
    if (b.offset > pack.size() || b.length > pack.size() - b.offset) continue;
    std::string bytes = r::zstd_decompress(pack.substr(b.offset, b.length), b.size, "fuzz.pack");
    if (bytes.size() != b.size) __builtin_trap();  // a short frame must be an error
    if (b.kind == r::BlobKind::recipe) r::parse_recipe(bytes, "fuzz recipe");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view rest = mlo::fuzz::as_text(data + 1, size - 1);
  expect_mlo_errors_only([&] {
    switch (data[0] % 5) {
      case 0: r::parse_pack_index(rest, "fuzz.idx"); break;
      case 1: r::serialize_pack_index(r::parse_pack_index(r::zstd_compress(rest, 1), "fuzz.idx")); break;
      case 2: r::serialize_recipe(r::parse_recipe(rest, "fuzz recipe")); break;
      case 3:
        if (rest.size() >= 2) r::zstd_decompress(rest.substr(2), std::uint64_t(std::uint8_t(rest[0])) << 8 | std::uint8_t(rest[1]), "fuzz frame");
        break;
      default: {
        std::size_t nul = rest.find('\0');
        if (nul != std::string_view::npos) read_pack(rest.substr(0, nul), rest.substr(nul + 1));
      }
    }
  });
  return 0;
}
