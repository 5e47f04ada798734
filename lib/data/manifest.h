// Directory manifests: the object a directory's pointer names. One JSON
// document, entries sorted by path, one entry a line, so the same folder
// always yields the same bytes (and hash) and `git diff`-style tools can
// compare two manifests line by line. Schema: schemas/manifest.schema.json.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mlo {

struct ManifestEntry {
  std::string path;  // relative to the directory, POSIX separators
  std::string sha256;
  std::uint64_t size = 0;
  bool executable = false;
};

struct Manifest {
  std::vector<ManifestEntry> entries;  // sorted by path (bytewise)

  std::uint64_t total_size() const;
  void sort();
};

// Canonical bytes (sorts a copy first). Throws InputError on a path that is
// not valid UTF-8.
std::string serialize_manifest(const Manifest& m);
// Parses and validates; `where` names the object in errors.
Manifest parse_manifest(const std::string& text, const std::string& where);

}  // namespace mlo
