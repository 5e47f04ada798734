// The strict reader's key check: a YAML document against a JSON Schema from
// schemas/ (built into the binary, so code, tests and users read one schema).
// The shape is checked here: every mapping whose schema closes it
// (additionalProperties: false) may hold only the keys the schema lists, and
// every value must be of the kind its schema's "type" names (a mapping, a
// list, a number, an integer, a boolean; a string takes any scalar). Ranges,
// enums and patterns stay with the module that reads the section.
#pragma once
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mlo {

// The schemas built in: "mlo.schema.json", "mlo-monitors.schema.json", "config.schema.json".
const nlohmann::json& builtin_schema(std::string_view name);

// Throws InputError "FILE:LINE:COL: unknown key 'K' in PATH (did you mean 'X'?)"
// for the first key the schema does not allow, or "FILE:LINE:COL: 'PATH' must
// be a number, not 'abc'" for the first value of the wrong kind.
void check_yaml_keys(const YAML::Node& doc, std::string_view schema_name, const std::string& file);

// mlo.yaml and .mlo/config.yaml, checked.
void check_mlo_yaml(const YAML::Node& doc, const std::string& file);

// Documents that passed their key check before, known by content, so that an
// unchanged mlo.yaml or config is not checked again: parsing the schemas was
// ~15% of a no-op `mlo run` (issue 14). A key is the SHA-256 of the built-in
// schemas, the schema's name and the document's text; FILE
// (.mlo/tmp/schema-checks) keeps the last kKeep keys. Only passes are kept, so
// a memo can only skip a check that would pass. Best effort: a file that can
// not be read or written only means checking again.
class SchemaCheckMemo {
 public:
  static constexpr std::size_t kKeep = 16;
  explicit SchemaCheckMemo(std::filesystem::path file) : file_(std::move(file)) {}
  // check_yaml_keys(DOC, SCHEMA_NAME, FILE_NAME) unless TEXT, DOC's source, passed before.
  void check(const YAML::Node& doc, std::string_view text, std::string_view schema_name, const std::string& file_name);
  // Whether TEXT passed SCHEMA_NAME's check before (check() would skip it).
  bool passed(std::string_view text, std::string_view schema_name);
  // Keeps that TEXT passed NAME, a check the caller made itself (a whole
  // mlo.yaml read, pipeline.cpp).
  void remember(std::string_view text, std::string_view name);

 private:
  std::filesystem::path file_;
  std::optional<std::vector<std::string>> keys_;  // read on first use
  const std::vector<std::string>& keys();
};

}  // namespace mlo
