#include "repo/config.h"

#include <sstream>
#include <vector>

#include "core/error.h"
#include "core/fs.h"
#include "repo/yaml_block.h"
#include "repo/yaml_read.h"
#include "repo/yaml_schema.h"

namespace mlo {

namespace {

// Aliases (*NAME) share nodes, so a small file can stand for a huge or cyclic
// tree that every reader would walk: bounded far above any real file.
constexpr std::size_t kMaxYamlNodes = 1'000'000;

// Every file mlo reads is also written by hand or by a teammate: mapping keys
// must be plain scalars (readers turn keys into names; a list or mapping as a
// key would escape them as a raw exception), and the tree must stay small.
// Iterative: an alias cycle must not recurse.
void check_yaml_shape(const YAML::Node& root, const std::string& filename) {
  std::vector<YAML::Node> pending{root};
  std::size_t seen = 0;
  while (!pending.empty()) {
    YAML::Node n = pending.back();
    pending.pop_back();
    if (++seen > kMaxYamlNodes)
      throw InputError(filename + ": the YAML document expands to more than " + std::to_string(kMaxYamlNodes) +
                           " values (through aliases)",
                       "write the values out instead of repeating aliases (*NAME)");
    if (n.IsSequence()) {
      for (const auto& item : n) pending.push_back(item);
    } else if (n.IsMap()) {
      for (const auto& kv : n) {
        if (!kv.first.IsScalar() && !kv.first.IsNull())
          throw InputError(filename + ":" + std::to_string(kv.first.Mark().line + 1) + ":" +
                               std::to_string(kv.first.Mark().column + 1) + ": a key must be a plain name, not a " +
                               (kv.first.IsSequence() ? "list" : "mapping"),
                           "fix the file and run the command again");
        pending.push_back(kv.second);
      }
    }
  }
}

}  // namespace

YAML::Node load_yaml(const std::string& text, const std::string& filename) {
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw InputError(filename + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                         ": invalid YAML: " + e.msg,
                     "fix the file and run the command again");
  }
  check_yaml_shape(doc, filename);
  return doc;
}

YAML::Node load_yaml_file(const std::filesystem::path& path) {
  auto text = read_file_if_exists(path);
  if (!text) return YAML::Node(YAML::NodeType::Null);
  return load_yaml(*text, path.string());
}

InputError yaml_kind_error(const YAML::Exception& e, const std::string& file) {
  // yaml-cpp knows the line only of a node that exists; an absent key's
  // InvalidNode carries none, and then its message names the key.
  std::string where = file;
  if (!e.mark.is_null())
    where += ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1);
  return InputError(where + ": a value of the wrong kind (" + e.msg +
                        "): a list or mapping where one value belongs, or a value that is not of the key's type",
                    "fix that value in " + file + " and run the command again");
}

namespace {

std::vector<std::string> split_key(std::string_view key) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= key.size()) {
    size_t dot = key.find('.', start);
    if (dot == std::string_view::npos) dot = key.size();
    parts.emplace_back(key.substr(start, dot - start));
    start = dot + 1;
  }
  return parts;
}

// yaml-cpp's Node assignment rebinds shared state, so these walk by
// recursion and never assign one existing Node to another.
YAML::Node lookup_from(const YAML::Node& node, const std::vector<std::string>& parts, size_t i) {
  if (i == parts.size()) return node;
  if (!node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node child = node[parts[i]];
  if (!child) return YAML::Node(YAML::NodeType::Undefined);
  return lookup_from(child, parts, i + 1);
}

YAML::Node lookup(const YAML::Node& root, std::string_view key) { return lookup_from(root, split_key(key), 0); }

YAML::Node merge(const YAML::Node& base, const YAML::Node& over) {
  if (!over.IsDefined() || over.IsNull()) return base.IsDefined() ? YAML::Clone(base) : YAML::Node();
  if (!base.IsDefined() || !base.IsMap() || !over.IsMap()) return YAML::Clone(over);
  YAML::Node out = YAML::Clone(base);
  for (auto it = over.begin(); it != over.end(); ++it) {
    std::string k = it->first.as<std::string>();
    const YAML::Node& cbase = base;
    out[k] = merge(cbase[k], it->second);
  }
  return out;
}

void assign_from(YAML::Node node, const std::vector<std::string>& parts, size_t i,
                 const std::optional<YAML::Node>& value) {
  if (i + 1 == parts.size()) {
    if (value) node[parts[i]] = *value;
    else node.remove(parts[i]);
    return;
  }
  if (!node[parts[i]].IsMap()) {
    if (!value) return;
    node[parts[i]] = YAML::Node(YAML::NodeType::Map);
  }
  assign_from(node[parts[i]], parts, i + 1, value);
}

void assign(YAML::Node& root, std::string_view key, const std::optional<YAML::Node>& value) {
  if (!root.IsMap()) root = YAML::Node(YAML::NodeType::Map);
  assign_from(root, split_key(key), 0, value);
}

}  // namespace

namespace {

// One config file's mapping (empty when the file is), checked against the
// schema. A text that passed before is read without yaml-cpp's scanner when it
// is in the block subset (repo/yaml_block.h): its errors, with their lines,
// were reported when it was first read. yaml-cpp was a fifth of
// `mlo data status` in an empty repository (issue 14).
YAML::Node read_config_file(const std::string& text, const std::filesystem::path& path, SchemaCheckMemo* memo) {
  static constexpr std::string_view kSchema = "config.schema.json";
  const bool passed_before = memo && memo->passed(text, kSchema);
  std::optional<YAML::Node> fast;
  if (passed_before) fast = read_block_yaml_node(text);
  YAML::Node node = fast ? *fast : load_yaml(text, path.string());
  if (node.IsNull() || !node.IsDefined()) node = YAML::Node(YAML::NodeType::Map);
  if (!node.IsMap()) throw InputError(path.string() + ": expected a mapping at the top level", "see 'man mlo-config'");
  if (memo && !passed_before) memo->check(node, text, kSchema, path.string());
  if (!memo) check_yaml_keys(node, kSchema, path.string());
  return node;
}

}  // namespace

Config Config::load(const std::filesystem::path& tracked, const std::filesystem::path& local,
                    const std::filesystem::path& check_memo) {
  Config c;
  c.tracked_path_ = tracked;
  c.local_path_ = local;
  std::optional<SchemaCheckMemo> memo;
  if (!check_memo.empty()) memo.emplace(check_memo);
  SchemaCheckMemo* m = memo ? &*memo : nullptr;
  c.tracked_ = read_config_file(read_file_if_exists(tracked).value_or(""), tracked, m);
  c.local_ = read_config_file(read_file_if_exists(local).value_or(""), local, m);
  return c;
}

YAML::Node Config::node(std::string_view key) const { return merge(lookup(tracked_, key), lookup(local_, key)); }

std::optional<std::string> Config::get(std::string_view key) const {
  YAML::Node n = node(key);
  if (!n || !n.IsScalar()) return std::nullopt;
  return n.as<std::string>();
}

std::string Config::get_or(std::string_view key, std::string fallback) const {
  auto v = get(key);
  return v ? *v : std::move(fallback);
}

void Config::set(std::string_view key, std::optional<std::string> value, ConfigScope scope) {
  YAML::Node& root = scope == ConfigScope::tracked ? tracked_ : local_;
  assign(root, key, value ? std::optional<YAML::Node>(YAML::Node(*value)) : std::nullopt);
  save(scope);
}

void Config::set_node(std::string_view key, const YAML::Node& value, ConfigScope scope) {
  YAML::Node& root = scope == ConfigScope::tracked ? tracked_ : local_;
  assign(root, key, value);
  save(scope);
}

void Config::save(ConfigScope scope) const {
  const YAML::Node& root = scope == ConfigScope::tracked ? tracked_ : local_;
  YAML::Emitter out;
  out << root;
  std::string text = out.c_str();
  text += "\n";
  write_file_atomic(path(scope), text);
}

std::string Config::default_text() {
  return "# mlo configuration, shared through git. Per-user settings go in\n"
         "# .mlo/config.local.yaml (ignored); secrets come from the environment.\n"
         "version: 1\n"
         "cache:\n"
         "  # How workspace files share bytes with .mlo/cache: reflink, hardlink,\n"
         "  # symlink or copy, tried in order. The default never lets an edit in\n"
         "  # the workspace change a cached object.\n"
         "  link: reflink,copy\n";
}

}  // namespace mlo
