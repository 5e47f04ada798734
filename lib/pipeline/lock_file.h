// mlo.lock: {"version":1,"stages":{NAME:{cmd,key,run,record,deps,params,outs,metrics}}},
// read once per `mlo run` and written once at its end, only when it changed.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "data/data.h"
#include "pipeline/pipeline.h"

namespace mlo {

nlohmann::json parse_lock(const std::string& text, const std::string& where);
std::string serialize_lock(const nlohmann::json& lock);

// The stage outputs ROOT/mlo.lock records (for mlo data status/checkout and
// mlo pull). A path that is not a safe relative path is an InputError naming
// mlo.lock; entries without a hash are skipped (the stage never finished).
std::vector<TrackedOutput> lock_outputs(const std::filesystem::path& root);

class LockFile {
 public:
  // Reads ROOT/mlo.lock (an empty lock when there is none).
  static LockFile load(const std::filesystem::path& root);
  // The stages it has entries for, by name.
  std::vector<std::string> stage_names() const;
  // The stage's entry; null when it has none (or a malformed one).
  nlohmann::json entry(const std::string& stage) const;
  // Records a stage's successful (or restored) run.
  void set(const StageDef& s, const std::string& key, const nlohmann::json& deps, const nlohmann::json& params,
           const nlohmann::json& record);
  bool dirty() const { return dirty_; }
  // Writes ROOT/mlo.lock with the entries of the pipeline's stages, in file
  // order, when anything was set. Returns true when its bytes changed.
  bool write(const std::filesystem::path& root, const Pipeline& p);

 private:
  nlohmann::json doc_;
  bool dirty_ = false;
};

}  // namespace mlo
