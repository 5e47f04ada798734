// mlo's own YAML read without yaml-cpp. mlo.lock, metrics files and the other
// documents mlo writes with json_to_yaml are block mappings and lists of plain
// or quoted scalars; yaml-cpp spends ~1,500 instructions a byte on them (30% of
// a no-op `mlo run`, issue 14). read_block_yaml reads exactly that subset in
// one pass and answers nullopt for anything else (flow collections, anchors,
// tags, escapes, multi-line scalars, tabs...), where the caller falls back to
// yaml-cpp: the fast path never decides what a document means on its own.
// unit/yaml_block_test.cpp checks that both readers agree.
#pragma once
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mlo {

// The document as yaml_to_json(YAML::Load(text)) would give it, or nullopt
// when the text is outside the subset. Bounded: nesting deeper than 64 levels
// is left to the fallback.
std::optional<nlohmann::json> read_block_yaml(std::string_view text);

// Where the block mappings of a document start, as yaml-cpp marks them (line
// and column of the first key, 0-based), by the keys that lead to each one
// joined with '\0' ("" the top level, "stages\0train" a stage). Mappings
// inside lists are left out: their keys name no single node.
using BlockMarks = std::unordered_map<std::string, YAML::Mark>;

// The same subset as yaml-cpp nodes, as YAML::Load(text) builds them (plain
// scalars as their text, quoted ones tagged "!", plain nulls null), but
// without marks: for documents whose errors were reported before (a config
// that passed its check, repo/config.h). A repeated key is declined too.
// MARKS, when given, gets the mappings' marks, for what keeps a location
// after reading (a stage's "mlo.yaml:LINE:COL").
std::optional<YAML::Node> read_block_yaml_node(std::string_view text, BlockMarks* marks = nullptr);

// A plain (unquoted) scalar typed as YAML reads it: "~", "null" -> null,
// "true" -> true, "12" -> 12, "0.5" -> 0.5, anything else a string.
nlohmann::json plain_scalar_json(const std::string& s);

// A yaml-cpp document as JSON, typed as YAML 1.2's core schema reads it (the
// way JSON Schema checks see it): plain scalars through plain_scalar_json
// ("yes" and "on" stay strings), quoted ones strings, keys their text. The
// one conversion for params, metrics, mlo.lock and runner settings, so a run
// record and its runner see the same values.
nlohmann::json yaml_to_json(const YAML::Node& node);

}  // namespace mlo
