// .mlo/config.yaml (tracked, shared) overlaid by .mlo/config.local.yaml
// (ignored: per-user settings). Secrets belong in neither: they come from the
// environment.
#pragma once
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace mlo {

enum class ConfigScope { tracked, local };

class Config {
 public:
  Config() = default;
  // Loads both files; a missing file is an empty one. Throws InputError with
  // file and line on malformed YAML. With CHECK_MEMO (a SchemaCheckMemo file,
  // repo/yaml_schema.h) files that passed the key check before skip it.
  static Config load(const std::filesystem::path& tracked, const std::filesystem::path& local,
                     const std::filesystem::path& check_memo = {});

  // A scalar by dotted key ("cache.link"); the local file wins.
  std::optional<std::string> get(std::string_view dotted_key) const;
  std::string get_or(std::string_view dotted_key, std::string fallback) const;
  // The merged node at a dotted key (maps merged key by key, local wins); Null if absent.
  YAML::Node node(std::string_view dotted_key) const;

  // Sets (or with an empty optional removes) a dotted key in one file, and saves it.
  void set(std::string_view dotted_key, std::optional<std::string> value, ConfigScope scope);
  // Replaces the node at a dotted key in one file, and saves it.
  void set_node(std::string_view dotted_key, const YAML::Node& value, ConfigScope scope);
  void save(ConfigScope scope) const;

  const std::filesystem::path& path(ConfigScope scope) const {
    return scope == ConfigScope::tracked ? tracked_path_ : local_path_;
  }

  // The content of a new repository's config.yaml.
  static std::string default_text();

 private:
  std::filesystem::path tracked_path_, local_path_;
  YAML::Node tracked_, local_;
};

// Loads YAML text, turning parse errors into InputError "FILE:LINE:COL: ...".
YAML::Node load_yaml(const std::string& text, const std::string& filename);
YAML::Node load_yaml_file(const std::filesystem::path& path);

}  // namespace mlo
