// The run cache of `mlo run`: finds an earlier run with the same key whose
// outputs are all stored, restores them, backs up outputs about to be
// replaced, and stores a finished stage's outputs. Every write into a tree
// (the work tree or a sweep point's scratch tree) goes through a TreeWriter
// rooted there: paths from run records are untrusted (a teammate pushes
// them), and a committed symlink at an output's path is replaced, never
// written through.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/hashing.h"
#include "pipeline/pipeline.h"
#include "store/cache.h"

namespace mlo {

class Repo;

class RunCache {
 public:
  // `tmp` is a folder on the same file system as the trees written (for
  // atomic placement).
  RunCache(Repo& repo, std::filesystem::path tmp);

  // The latest successful run with this key whose outputs and metrics files
  // are all in the store (a folder's files too). Not thread-safe (the index).
  std::optional<nlohmann::json> lookup(const std::string& key) const;
  // Writes the record's outputs and metrics files under `root`.
  void restore(const std::filesystem::path& root, const nlohmann::json& record) const;
  // Stores the stage's current outputs under `root` that the store lacks.
  void backup(const std::filesystem::path& root, PathHasher& hasher, const StageDef& s) const;
  // Removes the stage's outputs and metrics files and makes their folders.
  void clear_outputs(const std::filesystem::path& root, const StageDef& s) const;
  // Stores one output (a file or a folder) and returns its record entry.
  nlohmann::json store_output(const std::filesystem::path& root, const std::string& rel) const;

 private:
  bool all_stored(const nlohmann::json& record, const char* field) const;
  nlohmann::json store_folder_manifest(const Manifest& m) const;
  void restore_dir(const class TreeWriter& tree, const std::string& rel, const std::string& manifest_hash) const;
  void restore_file(const class TreeWriter& tree, const std::string& rel, const std::string& hash,
                    bool executable = false) const;

  Repo& repo_;
  Cache& cache_;
  std::filesystem::path tmp_;
  std::vector<LinkMode> modes_;
};

}  // namespace mlo
