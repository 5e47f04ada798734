#include "data/manifest.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"

namespace mlo {

std::uint64_t Manifest::total_size() const {
  std::uint64_t total = 0;
  for (const auto& e : entries) total += e.size;
  return total;
}

void Manifest::sort() {
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
}

std::string serialize_manifest(const Manifest& m) {
  const std::vector<ManifestEntry>* entries = &m.entries;
  std::vector<ManifestEntry> sorted;
  if (!std::is_sorted(m.entries.begin(), m.entries.end(), [](auto& a, auto& b) { return a.path < b.path; })) {
    sorted = m.entries;
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
    entries = &sorted;
  }
  std::string out = "{\"version\":1,\"files\":[\n";
  out.reserve(out.size() + entries->size() * 120);
  bool first = true;
  for (const auto& e : *entries) {
    if (!first) out += ",\n";
    first = false;
    out += "{\"path\":";
    // Plain ASCII names (nearly all) need no escaping; the rest go through
    // the JSON library, which escapes and checks UTF-8. Same bytes either way.
    bool plain = std::all_of(e.path.begin(), e.path.end(), [](char c) {
      auto u = static_cast<unsigned char>(c);
      return u >= 0x20 && u < 0x7f && c != '"' && c != '\\';
    });
    if (plain) {
      out += '"';
      out += e.path;
      out += '"';
    } else {
      try {
        out += nlohmann::json(e.path).dump();
      } catch (const nlohmann::json::exception&) {
        throw InputError("file name is not valid UTF-8: " + e.path, "rename the file; mlo manifests store UTF-8 names");
      }
    }
    out += ",\"sha256\":\"";
    out += e.sha256;
    out += "\",\"size\":";
    out += std::to_string(e.size);
    if (e.executable) out += ",\"exec\":true";
    out += "}";
  }
  out += "\n]}\n";
  return out;
}

Manifest parse_manifest(const std::string& text, const std::string& where) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(where + ": not a valid manifest: " + e.what(), "run 'mlo fsck' to check the cache");
  }
  if (!doc.is_object() || doc.value("version", 0) != 1 || !doc.contains("files") || !doc["files"].is_array())
    throw InputError(where + ": not a version 1 manifest", "run 'mlo fsck' to check the cache");
  Manifest m;
  m.entries.reserve(doc["files"].size());
  for (const auto& f : doc["files"]) {
    ManifestEntry e;
    if (!f.is_object() || !f.contains("path") || !f["path"].is_string() || !f.contains("sha256") ||
        !f["sha256"].is_string() || !f.contains("size") || !f["size"].is_number_unsigned())
      throw InputError(where + ": malformed manifest entry " + f.dump());
    e.path = f["path"].get<std::string>();
    e.sha256 = f["sha256"].get<std::string>();
    e.size = f["size"].get<std::uint64_t>();
    e.executable = f.value("exec", false);
    if (!is_safe_relative(e.path))
      throw InputError(where + ": manifest entry path '" + e.path + "' leaves its folder",
                       "the manifest is damaged or hostile; run 'mlo fsck'");
    if (!is_sha256_hex(e.sha256)) throw InputError(where + ": bad hash in manifest entry " + e.path);
    m.entries.push_back(std::move(e));
  }
  m.sort();
  return m;
}

}  // namespace mlo
