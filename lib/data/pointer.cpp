#include "data/pointer.h"

#include <yaml-cpp/yaml.h>

#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/parse.h"
#include "repo/config.h"
#include "repo/yaml_block.h"

namespace mlo {

namespace {
std::string at_line(const std::string& where, const YAML::Node& node) {
  const YAML::Mark m = node.Mark();
  return m.line >= 0 ? where + ":" + std::to_string(m.line + 1) : where;
}

[[noreturn]] void bad(const std::string& where, const std::string& what) {
  throw InputError(where + ": " + what,
                   "the pointer file looks hand-edited or damaged; restore it with 'git checkout -- FILE', "
                   "or re-add the data with 'mlo data add'");
}

std::uint64_t as_count(const YAML::Node& n, const std::string& where, const char* key) {
  try {
    long long v = n.as<long long>();
    if (v < 0) bad(at_line(where, n), std::string(key) + " must not be negative");
    return static_cast<std::uint64_t>(v);
  } catch (const YAML::Exception&) {
    bad(at_line(where, n), std::string(key) + " must be a whole number");
  }
}

// The pointer in a document read from `where` (parse_pointer).

Pointer pointer_from(const YAML::Node& root, const std::string& where) {
  if (!root.IsMap()) bad(where, "expected a mapping with version, path, type, sha256 and size");
  Pointer p;
  const YAML::Node& version = root["version"];
  if (!version) bad(where, "missing 'version'");
  p.version = static_cast<int>(as_count(version, where, "version"));
  if (p.version != 1 && p.version != 2)
    throw InputError(at_line(where, version) + ": pointer version " + std::to_string(p.version) +
                         " is not supported by this mlo",
                     "upgrade mlo");
  const YAML::Node& path = root["path"];
  if (!path) bad(where, "missing 'path'");
  if (!path.IsScalar()) bad(at_line(where, path), "path must be the name of the tracked file or folder, not a list or mapping");
  p.path = path.as<std::string>();
  // add refuses such names: a hand-written one would not survive a rewrite.
  if (!is_valid_utf8(p.path))
    bad(at_line(where, path), "path '" + printable(p.path) + "' is not valid UTF-8 (rename the file and add it again)");
  if (!is_safe_relative(p.path) || p.path.find('/') != std::string::npos)
    bad(at_line(where, path), "path '" + p.path + "' must be the plain name of the tracked file or folder "
                              "(no '/', '..', or absolute path)");
  const YAML::Node& type = root["type"];
  std::string t = type && type.IsScalar() ? type.as<std::string>() : "";
  if (t == "file") p.type = EntryType::file;
  else if (t == "dir") p.type = EntryType::dir;
  else bad(type ? at_line(where, type) : where, "type must be 'file' or 'dir'");
  const YAML::Node& sha = root["sha256"];
  p.sha256 = sha && sha.IsScalar() ? sha.as<std::string>() : "";
  if (!is_sha256_hex(p.sha256)) bad(sha ? at_line(where, sha) : where, "sha256 must be 64 lower-case hex digits");
  const YAML::Node& size = root["size"];
  if (!size) bad(where, "missing 'size'");
  p.size = as_count(size, where, "size");
  if (p.type == EntryType::dir) {
    const YAML::Node& files = root["files"];
    if (!files) bad(where, "missing 'files' (number of files in the folder)");
    p.files = as_count(files, where, "files");
  }
  if (const YAML::Node& x = root["executable"]) {
    try {
      p.executable = x.as<bool>();
    } catch (const YAML::Exception&) {
      bad(at_line(where, x), "executable must be true or false");
    }
  }
  if (const YAML::Node& d = root["description"]; d && d.IsScalar()) p.description = d.as<std::string>();
  return p;
}
}  // namespace

Pointer parse_pointer(const std::string& text, const std::string& where) {
  // Pointer files are block YAML that mlo wrote: read without yaml-cpp's
  // scanner (a fifth of `mlo data status` on one file, issue 14). Its nodes
  // carry no lines, so a pointer that fails is read again by yaml-cpp, and
  // that reading's error, with its line, is the one reported.
  if (auto fast = read_block_yaml_node(text)) {
    try {
      return pointer_from(*fast, where);
    } catch (const InputError&) {
    }
  }
  return pointer_from(load_yaml(text, where), where);
}

std::string serialize_pointer(const Pointer& p) {
  YAML::Emitter e;
  e << YAML::BeginMap;
  e << YAML::Key << "version" << YAML::Value << p.version;
  e << YAML::Key << "path" << YAML::Value << p.path;
  e << YAML::Key << "type" << YAML::Value << (p.type == EntryType::dir ? "dir" : "file");
  e << YAML::Key << "sha256" << YAML::Value << p.sha256;
  e << YAML::Key << "size" << YAML::Value << p.size;
  if (p.type == EntryType::dir) e << YAML::Key << "files" << YAML::Value << p.files;
  if (p.executable) e << YAML::Key << "executable" << YAML::Value << true;
  if (!p.description.empty()) e << YAML::Key << "description" << YAML::Value << p.description;
  e << YAML::EndMap;
  return "# Tracked by mlo: the data lives in the mlo cache and remotes.\n"
         "# 'mlo data checkout' restores it; do not edit this file by hand.\n" +
         std::string(e.c_str()) + "\n";
}

std::string pointer_path_for(const std::string& data_path) { return data_path + kPointerSuffix; }

std::optional<std::string> data_path_for(const std::string& pointer_path) {
  std::string suffix = kPointerSuffix;
  if (pointer_path.size() <= suffix.size() ||
      pointer_path.compare(pointer_path.size() - suffix.size(), suffix.size(), suffix) != 0)
    return std::nullopt;
  std::string data = pointer_path.substr(0, pointer_path.size() - suffix.size());
  if (data.empty() || data.back() == '/') return std::nullopt;
  return data;
}

}  // namespace mlo
