// mlo.yaml: the pipeline's stages, their DAG (deps <-> outs) and params.
// Format: schemas/mlo.schema.json, man mlo-run(1). Other top-level keys
// (models, monitors, deployments, ...) belong to other modules and are ignored here.
#pragma once
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "repo/yaml_block.h"
#include "runner/runner.h"

namespace mlo {

class Repo;

struct StageDef {
  std::string name;
  std::vector<std::string> argv;  // cmd as a list: runs as is
  std::string shell;              // cmd as a string: /bin/sh -c, exactly as written
  std::string wdir = ".";         // repo-relative folder the command runs in
  // All paths below are repo-relative (wdir applied), lexically normal.
  std::vector<std::string> deps;
  std::vector<std::string> outs;
  std::vector<std::string> metrics;
  // Param references, normalised to "FILE:KEY" (FILE defaults to params.yaml).
  std::vector<std::string> params;
  std::string runner = "local";
  bool validate = true;  // check deps against their data contracts first (`validate: false` opts out)
  Resources resources;
  std::map<std::string, std::string> env;
  // `environment:` what of the stage's environment joins its cache key:
  // "python" (interpreter version + installed distributions) and/or
  // repo-relative lock files (lib/environment).
  std::vector<std::string> environment;
  std::string image;  // runner: container: NAME[:TAG|@sha256:DIGEST]
  bool pin_digest = false;  // `pin: digest`: refuse an image named by a tag only
  std::string where;  // "mlo.yaml:LINE:COL" of the stage, for messages

  std::string cmd_text() const;  // for humans and the run record
};

struct Pipeline {
  std::vector<StageDef> stages;  // in file order
  const StageDef* find(const std::string& name) const;
  const StageDef& get(const std::string& name) const;  // InputError naming the stages there are
  // Stage whose outs contain `path` (exactly or as a folder above it), or nullptr.
  const StageDef* producer_of(const std::string& path) const;
  // The upstream stages of each stage (those producing one of its deps).
  std::map<std::string, std::vector<std::string>> upstream() const;
  // `targets` and everything upstream of them (all stages when empty), in a
  // dependency order (file order among independent stages).
  std::vector<std::string> order(const std::vector<std::string>& targets = {}) const;
  // The stages downstream of `names` (including them), in dependency order.
  std::vector<std::string> downstream(const std::vector<std::string>& names) const;
};

// Parses mlo.yaml text. Errors name FILE:LINE:COL. Checks the DAG: cycles,
// two stages writing one output, outputs overlapping a dep of the same stage.
Pipeline parse_pipeline(const std::string& text, const std::string& filename);
// Loads ROOT/mlo.yaml; InputError with a hint when it is missing.
Pipeline load_pipeline(const std::filesystem::path& root);

// "4G", "512M", "1.5GiB", "1024" (bytes) -> bytes; "1h", "30m", "90s", "1h30m", "45" -> seconds.
std::optional<std::uint64_t> parse_memory(const std::string& text);
std::optional<double> parse_duration(const std::string& text);

// YAML <-> JSON for params, metrics and mlo.lock: yaml_to_json is in repo/yaml_block.h.
// A YAML scalar typed as YAML would read it: "0.1" -> 0.1, "true" -> true, "abc" -> "abc".
nlohmann::json scalar_to_json(const std::string& text);
std::string json_to_yaml(const nlohmann::json& doc);
// yaml_to_json(load_yaml(TEXT, WHERE)), read without yaml-cpp when TEXT is
// the block YAML json_to_yaml writes (repo/yaml_block.h).
nlohmann::json read_yaml_json(const std::string& text, const std::string& where);
// Nested objects to dotted keys: {"a":{"b":1}} -> {"a.b":1}.
nlohmann::json flatten_json(const nlohmann::json& doc);
// A metrics file's text (JSON when REL ends in .json, else YAML), flattened;
// InputError naming REL when it is not valid JSON.
nlohmann::json parse_metrics_text(const std::string& text, const std::string& rel);

// Param values: reads each referenced file once through `read` (returns
// nullopt when absent) and returns {"FILE:KEY": value} (FILE:KEY as in StageDef::params).
// `overrides` ("FILE:KEY" -> value) win. Errors name the file, line, column.
using FileReader = std::function<std::optional<std::string>(const std::string& rel_path)>;
nlohmann::json resolve_params(const std::vector<std::string>& refs, const FileReader& read,
                              const std::map<std::string, nlohmann::json>& overrides = {});
// "train.lr" -> "params.yaml:train.lr"; "other.yaml:key" unchanged.
std::string normalize_param_ref(const std::string& ref);
// The name people see: "params.yaml:train.lr" -> "train.lr".
std::string display_param(const std::string& ref);

}  // namespace mlo
