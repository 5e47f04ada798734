// Pointer files (PATH.mlo): the small YAML files git tracks in place of data.
// Format and rules: schemas/pointer.schema.json, man mlo-data(1).
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace mlo {

enum class EntryType { file, dir };

struct Pointer {
  // 1: a folder's sha256 names a flat manifest; 2: a tree manifest
  // (data/tree.h). Files are always written as 1.
  int version = 1;
  // The tracked path relative to the pointer file's folder: always the
  // pointer's own name without ".mlo" (a pointer never points elsewhere).
  std::string path;
  EntryType type = EntryType::file;
  std::string sha256;            // of the file, or of the directory's manifest object
  std::uint64_t size = 0;        // bytes (all files for a directory)
  std::uint64_t files = 0;       // number of files, directories only
  bool executable = false;       // files only
  std::string description;       // optional, free text kept across commits
};

inline constexpr const char* kPointerSuffix = ".mlo";

// Parses and validates a pointer file's text; `where` names it in errors
// (file and line). Rejects unknown versions, bad hashes, absolute paths and
// ".." — a hand-edited pointer must never make mlo write outside the repo.
Pointer parse_pointer(const std::string& text, const std::string& where);
std::string serialize_pointer(const Pointer& p);

// "data/train.csv" -> "data/train.csv.mlo"
std::string pointer_path_for(const std::string& data_path);
// "data/train.csv.mlo" -> "data/train.csv"; nullopt if not a pointer name.
std::optional<std::string> data_path_for(const std::string& pointer_path);

}  // namespace mlo
