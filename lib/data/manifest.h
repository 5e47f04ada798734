// Directory manifests: the object a directory's pointer names. One JSON
// document, entries sorted by path, one entry a line, so the same folder
// always yields the same bytes (and hash) and `git diff`-style tools can
// compare two manifests line by line. Schema: schemas/manifest.schema.json.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace mlo {

struct ManifestEntry {
  std::string path;  // relative to the directory, POSIX separators
  std::string sha256;
  std::uint64_t size = 0;
  bool executable = false;
};

struct Manifest {
  std::vector<ManifestEntry> entries;  // sorted by path (bytewise)
  // Read from a tree (version 2): the hashes of its folder objects below the
  // root, which need keeping and moving like the files (data/tree.h).
  std::vector<std::string> trees;

  std::uint64_t total_size() const;
  void sort();
};

// Canonical bytes (sorts a copy first). Throws InputError on a path that is
// not valid UTF-8.
std::string serialize_manifest(const Manifest& m);
// Parses and validates; `where` names the object in errors.
Manifest parse_manifest(const std::string& text, const std::string& where);
// The same for an already parsed version 1 document.
Manifest parse_manifest_json(const nlohmann::json& doc, const std::string& where);
// Appends `name` as a JSON string (as serialize_manifest writes it); throws
// InputError when it is not valid UTF-8.
void append_json_name(std::string& out, const std::string& name);

}  // namespace mlo
