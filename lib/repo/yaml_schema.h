// The strict reader's key check: a YAML document against a JSON Schema from
// schemas/ (built into the binary, so code, tests and users read one schema).
// Only the shape is checked here: every mapping whose schema closes it
// (additionalProperties: false) may hold only the keys the schema lists.
// Types and values stay with the module that reads the section.
#pragma once
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace mlo {

// The schemas built in: "mlo.schema.json", "mlo-monitors.schema.json", "config.schema.json".
const nlohmann::json& builtin_schema(std::string_view name);

// Throws InputError "FILE:LINE:COL: unknown key 'K' in PATH (did you mean 'X'?)"
// for the first key the schema does not allow.
void check_yaml_keys(const YAML::Node& doc, std::string_view schema_name, const std::string& file);

// mlo.yaml and .mlo/config.yaml, checked.
void check_mlo_yaml(const YAML::Node& doc, const std::string& file);

}  // namespace mlo
