#include "repo/yaml_schema.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <mutex>
#include <stdexcept>

#include "core/error.h"
#include "core/format.h"
#include "core/fs.h"
#include "core/hash.h"

namespace mlo {

// Defined in the generated schemas.cpp (CMakeLists.txt embeds schemas/*.json).
const char* builtin_schema_text(std::string_view name);
const char* builtin_schemas_id();  // SHA-256 of them all

const nlohmann::json& builtin_schema(std::string_view name) {
  static std::map<std::string, nlohmann::json, std::less<>> cache;
  static std::mutex mu;  // mlo ui renders pages on several threads
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  const char* text = builtin_schema_text(name);
  if (!text) throw std::logic_error("no built-in schema " + std::string(name));  // a build bug
  return cache.emplace(std::string(name), nlohmann::json::parse(text)).first->second;
}

namespace {

struct SchemaWalk {
  std::string file;
  std::string schema_name;  // the document `$ref`s without a file resolve in
};

std::string mark(const std::string& file, const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  if (m.line < 0) return file;
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

// Follows "$ref" ("#/$defs/x", "other.schema.json", "other.schema.json#/$defs/x").
const nlohmann::json& resolve(const nlohmann::json& s, std::string& doc) {
  const nlohmann::json* cur = &s;
  for (int hops = 0; cur->is_object() && cur->contains("$ref") && hops < 32; ++hops) {
    std::string ref = (*cur)["$ref"].get<std::string>();
    std::size_t hash = ref.find('#');
    if (hash != 0) doc = ref.substr(0, hash);
    const nlohmann::json* at = &builtin_schema(doc);
    if (hash != std::string::npos && hash + 1 < ref.size())
      at = &at->at(nlohmann::json::json_pointer(ref.substr(hash + 1)));
    cur = at;
  }
  return *cur;
}

// A scalar's YAML reading against a scalar type (a string takes any scalar:
// YAML writes 1.0 or yes unquoted for strings too).
bool scalar_is(const YAML::Node& n, const std::string& type) {
  if (type == "string") return true;
  if (type == "boolean") {
    bool b;
    return YAML::convert<bool>::decode(n, b);
  }
  if (type == "null") return false;
  const std::string& t = n.Scalar();
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  if (t.empty() || *end != '\0') return false;
  if (type == "number") return true;
  // Only a value inside long long's range may be cast (outside it, and NaN, the cast is undefined).
  return std::fabs(v) < 9.2e18 && v == static_cast<double>(static_cast<long long>(v));
}

bool accepts_kind(const nlohmann::json& s, const YAML::Node& n, std::string doc) {
  for (const char* k : {"oneOf", "anyOf"}) {
    if (!s.contains(k)) continue;
    for (const auto& b : s[k])
      if (std::string d = doc; accepts_kind(resolve(b, d), n, d)) return true;
    return false;
  }
  if (s.contains("properties") || s.contains("additionalProperties")) return n.IsMap();
  if (s.contains("items")) return n.IsSequence();
  if (!s.contains("type")) return true;
  auto is = [&](const std::string& t) {
    if (t == "object") return n.IsMap();
    if (t == "array") return n.IsSequence();
    if (t == "null") return n.IsNull();
    return n.IsScalar() && scalar_is(n, t);
  };
  if (s["type"].is_string()) return is(s["type"].get<std::string>());
  for (const auto& t : s["type"])
    if (is(t.get<std::string>())) return true;
  return false;
}

void walk(const SchemaWalk& w, const YAML::Node& n, const nlohmann::json& schema, std::string doc,
          const std::string& path);

// oneOf/anyOf: the branch that takes this kind of node (a mapping, a list, a scalar).
const nlohmann::json* pick_branch(const nlohmann::json& s, const YAML::Node& n, std::string& doc) {
  for (const char* k : {"oneOf", "anyOf"}) {
    if (!s.contains(k)) continue;
    for (const auto& b : s[k]) {
      std::string d = doc;
      const nlohmann::json& r = resolve(b, d);
      if (accepts_kind(r, n, d)) {
        doc = d;
        return &r;
      }
    }
    return nullptr;
  }
  return &s;
}

[[noreturn]] void unknown_key(const SchemaWalk& w, const YAML::Node& key, const std::string& path,
                              const nlohmann::json& schema) {
  static const nlohmann::json none = nlohmann::json::object();
  const nlohmann::json& props = schema.contains("properties") ? schema["properties"] : none;
  std::vector<std::string> names;
  for (const auto& [k, v] : props.items()) names.push_back(k);
  std::string k = key.Scalar();
  std::string near = closest_match(k, names);
  // A schema's title names what it describes: "in stage 'train'" reads better than "in stages.train".
  std::string last = path.substr(path.rfind('.') == std::string::npos ? 0 : path.rfind('.') + 1);
  std::string where = path.empty()                ? "at the top level"
                      : schema.contains("title") ? "in " + schema["title"].get<std::string>() + " '" + last + "'"
                                                  : "in " + path;
  std::string list;
  for (const auto& x : names) list += (list.empty() ? "" : ", ") + x;
  throw InputError(mark(w.file, key) + ": unknown key '" + k + "' " + where +
                       (near.empty() ? "" : " (did you mean '" + near + "'?)"),
                   "keys allowed here: " + list + " (schemas/" + w.schema_name + ")");
}

void walk_map(const SchemaWalk& w, const YAML::Node& n, const nlohmann::json& s, const std::string& doc,
              const std::string& path) {
  static const nlohmann::json none = nlohmann::json::object();
  const nlohmann::json& props = s.contains("properties") ? s["properties"] : none;
  for (const auto& kv : n) {
    std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
    std::string sub = path.empty() ? key : path + "." + key;
    if (props.contains(key)) {
      walk(w, kv.second, props[key], doc, sub);
    } else if (s.contains("additionalProperties") && s["additionalProperties"].is_object()) {
      walk(w, kv.second, s["additionalProperties"], doc, sub);
    } else if (s.contains("additionalProperties") && s["additionalProperties"] == false) {
      unknown_key(w, kv.first, path, s);
    }
  }
}

// What a schema accepts, for messages: "a number", "a string or a list".
std::string expected_kinds(const nlohmann::json& s, std::string doc) {
  static const std::map<std::string, std::string> words = {
      {"object", "a mapping"}, {"array", "a list"},     {"string", "a string"}, {"number", "a number"},
      {"integer", "an integer"}, {"boolean", "true or false"}, {"null", "nothing"}};
  std::vector<std::string> kinds;
  auto add = [&](const std::string& k) {
    if (std::find(kinds.begin(), kinds.end(), k) == kinds.end()) kinds.push_back(k);
  };
  for (const char* k : {"oneOf", "anyOf"})
    if (s.contains(k))
      for (const auto& b : s[k]) {
        std::string d = doc;
        add(expected_kinds(resolve(b, d), d));
      }
  if (s.contains("type")) {
    for (const auto& t : s["type"].is_array() ? s["type"] : nlohmann::json::array({s["type"]}))
      if (auto it = words.find(t.get<std::string>()); it != words.end()) add(it->second);
  } else if (s.contains("properties") || s.contains("additionalProperties")) {
    add("a mapping");
  } else if (s.contains("items")) {
    add("a list");
  }
  std::string out;
  for (std::size_t i = 0; i < kinds.size(); ++i) out += (i == 0 ? "" : i + 1 == kinds.size() ? " or " : ", ") + kinds[i];
  return out;
}

std::string node_kind(const YAML::Node& n) {
  if (n.IsMap()) return "a mapping";
  if (n.IsSequence()) return "a list";
  return "'" + n.Scalar() + "'";
}

bool type_accepts(const nlohmann::json& s, const YAML::Node& n) {
  if (!s.contains("type")) return true;
  for (const auto& t : s["type"].is_array() ? s["type"] : nlohmann::json::array({s["type"]})) {
    std::string type = t.get<std::string>();
    if (type == "object" ? n.IsMap() : type == "array" ? n.IsSequence() : n.IsScalar() && scalar_is(n, type)) return true;
  }
  return false;
}

[[noreturn]] void wrong_type(const SchemaWalk& w, const YAML::Node& n, const std::string& path, const std::string& expected) {
  throw InputError(mark(w.file, n) + ": '" + (path.empty() ? "(top level)" : path) + "' must be " + expected + ", not " +
                       node_kind(n),
                   "fix the value; what each key takes is in schemas/" + w.schema_name);
}

void walk(const SchemaWalk& w, const YAML::Node& n, const nlohmann::json& schema, std::string doc,
          const std::string& path) {
  if (!n || n.IsNull()) return;
  const nlohmann::json* s = &resolve(schema, doc);
  // A branch may itself be a oneOf (a $ref to one): pick until none is left.
  for (int depth = 0; s && (s->contains("oneOf") || s->contains("anyOf")) && depth < 8; ++depth) {
    const nlohmann::json* branch = pick_branch(*s, n, doc);
    if (!branch) wrong_type(w, n, path, expected_kinds(*s, doc));
    s = &resolve(*branch, doc);
  }
  if (!s->is_object()) return;
  if (!type_accepts(*s, n)) wrong_type(w, n, path, expected_kinds(*s, doc));
  if (n.IsMap()) {
    walk_map(w, n, *s, doc, path);
  } else if (n.IsSequence() && s->contains("items")) {
    for (std::size_t i = 0; i < n.size(); ++i) walk(w, n[i], (*s)["items"], doc, path + "[" + std::to_string(i) + "]");
  }
}

}  // namespace

void check_yaml_keys(const YAML::Node& doc, std::string_view schema_name, const std::string& file) {
  SchemaWalk w{file, std::string(schema_name)};
  walk(w, doc, builtin_schema(schema_name), std::string(schema_name), "");
}

void check_mlo_yaml(const YAML::Node& doc, const std::string& file) { check_yaml_keys(doc, "mlo.schema.json", file); }

namespace {
std::string memo_key(std::string_view text, std::string_view schema_name) {
  Sha256 h;
  h.update(builtin_schemas_id());
  h.update(std::string_view("\0", 1));
  h.update(schema_name);
  h.update(std::string_view("\0", 1));
  h.update(text);
  return h.hex_digest();
}
}  // namespace

const std::vector<std::string>& SchemaCheckMemo::keys() {
  if (!keys_) {
    keys_.emplace();
    try {
      if (auto saved = read_file_if_exists(file_)) {
        std::string_view rest = *saved;
        while (!rest.empty() && keys_->size() < kKeep) {
          std::size_t end = std::min(rest.find('\n'), rest.size());
          if (is_sha256_hex(rest.substr(0, end))) keys_->emplace_back(rest.substr(0, end));
          rest.remove_prefix(std::min(end + 1, rest.size()));
        }
      }
    } catch (const std::exception&) {
      // unreadable: check again
    }
  }
  return *keys_;
}

bool SchemaCheckMemo::passed(std::string_view text, std::string_view schema_name) {
  const auto& known = keys();
  return std::find(known.begin(), known.end(), memo_key(text, schema_name)) != known.end();
}

void SchemaCheckMemo::check(const YAML::Node& doc, std::string_view text, std::string_view schema_name,
                            const std::string& file_name) {
  if (passed(text, schema_name)) return;
  check_yaml_keys(doc, schema_name, file_name);  // throws when it fails: nothing is kept
  remember(text, schema_name);
}

void SchemaCheckMemo::remember(std::string_view text, std::string_view name) {
  std::string key = memo_key(text, name);
  keys();
  if (std::find(keys_->begin(), keys_->end(), key) != keys_->end()) return;
  keys_->insert(keys_->begin(), key);
  if (keys_->size() > kKeep) keys_->resize(kKeep);
  std::string out;
  for (const auto& k : *keys_) out += k + "\n";
  try {
    write_file_atomic(file_, out, /*durable=*/false);
  } catch (const std::exception&) {
    // no .mlo/tmp (or read-only): the next command checks again
  }
}

}  // namespace mlo
