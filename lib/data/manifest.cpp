#include "data/manifest.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/parse.h"
#include "core/safe_path.h"

namespace mlo {

std::uint64_t Manifest::total_size() const {
  std::uint64_t total = 0;
  for (const auto& e : entries) total += e.size;
  return total;
}

void Manifest::sort() {
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
}

void append_json_name(std::string& out, const std::string& name) {
  // Plain ASCII names (nearly all) need no escaping; the rest go through
  // the JSON library, which escapes and checks UTF-8. Same bytes either way.
  bool plain = std::all_of(name.begin(), name.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f && c != '"' && c != '\\';
  });
  if (plain) {
    out += '"';
    out += name;
    out += '"';
    return;
  }
  try {
    out += nlohmann::json(name).dump();
  } catch (const nlohmann::json::exception&) {
    throw InputError("file name is not valid UTF-8: " + printable(name),
                     "rename the file; mlo manifests store UTF-8 names");
  }
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
    append_json_name(out, e.path);
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

namespace {

[[noreturn]] void bad_manifest(const std::string& where, const std::string& what) {
  throw InputError(where + ": " + what, "the manifest is damaged or hostile; run 'mlo fsck' to check the cache");
}

ManifestEntry parse_entry(const nlohmann::json& f, const std::string& where, std::size_t index) {
  const std::string at = where + ": entry " + std::to_string(index + 1);
  if (!f.is_object()) bad_manifest(at, "is not an object");
  auto path = f.find("path"), sha = f.find("sha256"), size = f.find("size"), exec = f.find("exec");
  if (path == f.end() || !path->is_string()) bad_manifest(at, "has no 'path' string");
  if (sha == f.end() || !sha->is_string()) bad_manifest(at, "has no 'sha256' string");
  std::optional<std::uint64_t> bytes = size == f.end() ? std::nullopt : json_u64(*size);
  if (!bytes) bad_manifest(at, "'size' must be a whole number from 0 to 2^64-1");
  if (exec != f.end() && !exec->is_boolean()) bad_manifest(at, "'exec' must be true or false");
  ManifestEntry e;
  e.path = path->get<std::string>();
  e.sha256 = sha->get<std::string>();
  e.size = *bytes;
  e.executable = exec != f.end() && exec->get<bool>();
  std::string why;
  if (!is_checked_relative(e.path, &why)) bad_manifest(at, "unsafe path (" + why + ")");
  if (!is_sha256_hex(e.sha256)) bad_manifest(at, "bad hash for " + e.path);
  return e;
}

}  // namespace

Manifest parse_manifest(const std::string& text, const std::string& where) {
  nlohmann::json doc;
  try {
    doc = parse_json_checked(text, where);
  } catch (const InputError& e) {
    throw InputError(e.what(), "the manifest is damaged or hostile; run 'mlo fsck' to check the cache");
  }
  return parse_manifest_json(doc, where);
}

Manifest parse_manifest_json(const nlohmann::json& doc, const std::string& where) {
  if (!doc.is_object()) bad_manifest(where, "not a manifest (expected a JSON object)");
  auto version = doc.find("version");
  if (version == doc.end() || json_u64(*version) != std::optional<std::uint64_t>(1))
    bad_manifest(where, "not a version 1 manifest ('version' must be the whole number 1)");
  auto files = doc.find("files");
  if (files == doc.end() || !files->is_array()) bad_manifest(where, "has no 'files' list");
  Manifest m;
  m.entries.reserve(files->size());
  for (std::size_t i = 0; i < files->size(); ++i) m.entries.push_back(parse_entry((*files)[i], where, i));
  m.sort();
  return m;
}

}  // namespace mlo
