#include "pipeline/pipeline.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>

#include "core/error.h"
#include "core/format.h"
#include "core/fs.h"
#include "repo/config.h"
#include "repo/yaml_read.h"
#include "repo/yaml_block.h"
#include "repo/yaml_schema.h"

namespace mlo {

namespace {

// "FILE:LINE:COL" (1-based), or FILE for a null mark.
std::string mark_text(const std::string& file, const YAML::Mark& m) {
  if (m.line < 0) return file;
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

std::string mark_of(const std::string& file, const YAML::Node& node) { return mark_text(file, node.Mark()); }

[[noreturn]] void bad(const std::string& where, const std::string& what, const std::string& hint = {}) {
  throw InputError(where + ": " + what, hint.empty() ? "see 'man mlo-run' for the mlo.yaml format" : hint);
}

std::string scalar(const std::string& file, const YAML::Node& n, const std::string& what) {
  if (!n.IsScalar()) bad(mark_of(file, n), what + " must be a string");
  return n.Scalar();
}

std::vector<std::string> string_list(const std::string& file, const YAML::Node& n, const std::string& what) {
  std::vector<std::string> out;
  if (!n || n.IsNull()) return out;
  if (n.IsScalar()) return {n.Scalar()};
  if (!n.IsSequence()) bad(mark_of(file, n), what + " must be a list of strings");
  for (const auto& item : n) out.push_back(scalar(file, item, what + " entries"));
  return out;
}

// wdir-relative -> repo-relative, rejecting paths that leave the repository.
std::string repo_path(const std::string& wdir, const std::string& p, const std::string& where) {
  if (p.empty()) bad(where, "empty path");
  if (!p.empty() && p[0] == '/') bad(where, "absolute path '" + p + "'", "paths in mlo.yaml are relative to the stage's wdir");
  std::string joined = (std::filesystem::path(wdir) / p).lexically_normal().generic_string();
  while (!joined.empty() && joined.back() == '/') joined.pop_back();
  if (joined.empty() || joined == ".") bad(where, "path '" + p + "' names the whole work tree");
  if (!is_safe_relative(joined)) bad(where, "path '" + p + "' leaves the repository");
  std::string first = joined.substr(0, joined.find('/'));
  if (first == ".git" || first == ".mlo") bad(where, "path '" + p + "' is inside " + first);
  return joined;
}

bool same_or_under(const std::string& a, const std::string& b) {  // a == b or a inside b
  return a == b || (a.size() > b.size() && a.compare(0, b.size(), b) == 0 && a[b.size()] == '/');
}

// `environment`, `image` and `pin`: what a stage's environment is and what of it is keyed.
void parse_environment(const std::string& file, const YAML::Node& n, StageDef& s) {
  if (YAML::Node e = n["environment"]) {
    for (const auto& item : string_list(file, e, "environment"))
      s.environment.push_back(item == "python" ? item : repo_path(s.wdir, item, mark_of(file, e)));
    if (s.environment.empty()) bad(mark_of(file, e), "environment is empty", "write 'python' or a list of lock files");
  }
  if (n["image"]) {
    s.image = scalar(file, n["image"], "image");
    if (s.image.empty() || s.image[0] == '-' || s.image.find_first_of(" \t\n") != std::string::npos)
      bad(mark_of(file, n["image"]), "image '" + s.image + "' is not an image name", "write NAME[:TAG] or NAME@sha256:DIGEST");
  }
  if (n["pin"]) {
    std::string pin = scalar(file, n["pin"], "pin");
    if (pin != "digest" && pin != "none") bad(mark_of(file, n["pin"]), "pin must be 'digest' or 'none', not '" + pin + "'");
    s.pin_digest = pin == "digest";
  }
  if (s.runner == "container" && s.image.empty())
    bad(s.where, "stage '" + s.name + "' has runner: container but no image", "add image: NAME[:TAG|@sha256:DIGEST]");
  if (s.runner != "container" && !s.image.empty())
    bad(mark_of(file, n["image"]), "image is for runner: container (stage '" + s.name + "' runs on '" + s.runner + "')");
  if (s.runner == "container" && std::count(s.environment.begin(), s.environment.end(), "python"))
    bad(mark_of(file, n["environment"]), "'environment: python' reads the host's interpreter; stage '" + s.name +
        "' runs in a container", "the image's digest is part of a container stage's cache key already; list lock files instead");
  if (s.pin_digest && s.image.find("@sha256:") == std::string::npos)
    bad(mark_of(file, n["image"] ? n["image"] : n["pin"]), "stage '" + s.name + "' has pin: digest but image '" + s.image +
        "' names only a tag", "write image: NAME@sha256:DIGEST (see its digest with 'podman image inspect --format {{.Digest}} " +
        s.image + "')");
}

StageDef parse_stage(const std::string& file, const std::string& name, const YAML::Node& n, std::string where) {
  StageDef s;
  s.name = name;
  s.where = std::move(where);
  if (!n.IsMap()) bad(s.where, "stage '" + name + "' must be a mapping with at least 'cmd'");
  // Unknown keys were refused by check_mlo_yaml (schemas/mlo.schema.json).
  if (n["wdir"]) {
    std::string w = scalar(file, n["wdir"], "wdir");
    s.wdir = w == "." ? "." : repo_path(".", w, mark_of(file, n["wdir"]));
  }
  YAML::Node cmd = n["cmd"];
  if (!cmd || cmd.IsNull()) bad(s.where, "stage '" + name + "' has no cmd");
  if (cmd.IsScalar()) {
    s.shell = cmd.Scalar();
    if (s.shell.empty()) bad(mark_of(file, cmd), "cmd is empty");
  } else if (cmd.IsSequence()) {
    s.argv = string_list(file, cmd, "cmd");
    if (s.argv.empty()) bad(mark_of(file, cmd), "cmd is an empty list");
  } else {
    bad(mark_of(file, cmd), "cmd must be a string (run by /bin/sh -c) or a list (argv)");
  }
  auto paths = [&](const char* key, std::vector<std::string>& into) {
    YAML::Node list = n[key];
    for (auto p : string_list(file, list, key)) into.push_back(repo_path(s.wdir, p, mark_of(file, list)));
  };
  paths("deps", s.deps);
  paths("outs", s.outs);
  paths("metrics", s.metrics);
  if (YAML::Node p = n["params"]) {
    if (!p.IsSequence()) bad(mark_of(file, p), "params must be a list of keys (train.lr or FILE:KEY)");
    for (const auto& item : p) {
      if (item.IsMap()) {  // DVC style: {other.yaml: [a, b]}
        for (const auto& kv : item)
          for (auto key : string_list(file, kv.second, "params"))
            s.params.push_back(kv.first.Scalar() + ":" + key);
      } else {
        s.params.push_back(normalize_param_ref(scalar(file, item, "params entries")));
      }
    }
    for (auto& ref : s.params) {
      std::string f = ref.substr(0, ref.find(':'));
      repo_path(".", f, mark_of(file, p));
      if (ref.size() == f.size() + 1) bad(mark_of(file, p), "param '" + ref + "' has no key");
    }
  }
  if (YAML::Node v = n["validate"]) {
    if (!v.IsScalar() || !YAML::convert<bool>::decode(v, s.validate)) bad(mark_of(file, v), "validate must be true or false");
  }
  if (n["runner"]) {
    s.runner = scalar(file, n["runner"], "runner");
    if (s.runner.empty()) bad(mark_of(file, n["runner"]), "runner is empty");
  }
  if (YAML::Node r = n["resources"]) {
    if (!r.IsMap()) bad(mark_of(file, r), "resources must be a mapping (cpus, gpus, memory, time)");
    for (const auto& kv : r) {
      std::string key = kv.first.Scalar();
      std::string where = mark_of(file, kv.second);
      std::string v = scalar(file, kv.second, "resources." + key);
      if (key == "cpus") {
        char* end = nullptr;
        double d = std::strtod(v.c_str(), &end);
        if (*end || !(d > 0)) bad(where, "resources.cpus must be a positive number, not '" + v + "'");
        s.resources.cpus = d;
      } else if (key == "gpus") {
        char* end = nullptr;
        long g = std::strtol(v.c_str(), &end, 10);
        if (*end || g < 0 || v.empty()) bad(where, "resources.gpus must be a whole number, not '" + v + "'");
        s.resources.gpus = static_cast<int>(g);
      } else if (key == "memory") {
        auto m = parse_memory(v);
        if (!m) bad(where, "resources.memory '" + v + "' is not a size", "write e.g. 512M, 4G or 1.5GiB");
        s.resources.memory_bytes = *m;
      } else if (key == "time") {
        auto t = parse_duration(v);
        if (!t) bad(where, "resources.time '" + v + "' is not a duration", "write e.g. 90s, 30m, 1h or 1h30m");
        s.resources.time_limit_s = *t;
      } else {
        bad(mark_of(file, kv.first), "unknown resource '" + key + "'", "resources: cpus, gpus, memory, time");
      }
    }
  }
  if (YAML::Node e = n["env"]) {
    if (!e.IsMap()) bad(mark_of(file, e), "env must be a mapping of NAME: value");
    for (const auto& kv : e) {
      std::string k = kv.first.Scalar();
      if (k.empty() || k.find('=') != std::string::npos) bad(mark_of(file, kv.first), "bad environment name '" + k + "'");
      s.env[k] = scalar(file, kv.second, "env." + k);
    }
  }
  parse_environment(file, n, s);
  return s;
}

void check_dag(const std::string& file, const Pipeline& p) {
  std::map<std::string, std::string> out_owner;
  for (const auto& s : p.stages) {
    std::vector<std::string> all_outs = s.outs;
    all_outs.insert(all_outs.end(), s.metrics.begin(), s.metrics.end());
    for (const auto& o : all_outs) {
      for (const auto& [other, owner] : out_owner) {
        if (same_or_under(o, other) || same_or_under(other, o))
          bad(s.where,
              "output '" + o + "' of stage '" + s.name + "' overlaps output '" + other + "' of stage '" + owner + "'",
              "each path can be written by one stage only; rename one of the outputs");
      }
      out_owner[o] = s.name;
      for (const auto& d : s.deps)
        if (same_or_under(o, d) || same_or_under(d, o))
          bad(s.where, "output '" + o + "' of stage '" + s.name + "' overlaps its own dep '" + d + "'",
              "a stage can not write inside what it reads; write the output elsewhere");
    }
  }
  // Cycles: depth-first search with colours.
  auto up = p.upstream();
  std::map<std::string, int> colour;
  std::vector<std::string> path;
  std::function<void(const std::string&)> visit = [&](const std::string& name) {
    colour[name] = 1;
    path.push_back(name);
    for (const auto& u : up[name]) {
      if (colour[u] == 1) {
        std::string cycle;
        auto it = std::find(path.begin(), path.end(), u);
        for (; it != path.end(); ++it) cycle += *it + " -> ";
        bad(file, "the stages form a cycle: " + cycle + u,
            "a stage can not depend (through deps and outs) on its own output; break the cycle");
      }
      if (colour[u] == 0) visit(u);
    }
    path.pop_back();
    colour[name] = 2;
  };
  for (const auto& s : p.stages)
    if (colour[s.name] == 0) visit(s.name);
}

}  // namespace

std::string StageDef::cmd_text() const {
  if (argv.empty()) return shell;
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    bool plain = !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%") == std::string::npos;
    out += plain ? a : "'" + [&] {
      std::string q;
      for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
      return q;
    }() + "'";
  }
  return out;
}

const StageDef* Pipeline::find(const std::string& name) const {
  for (const auto& s : stages)
    if (s.name == name) return &s;
  return nullptr;
}

const StageDef& Pipeline::get(const std::string& name) const {
  if (const StageDef* s = find(name)) return *s;
  std::string names;
  for (const auto& s : stages) names += (names.empty() ? "" : ", ") + s.name;
  throw InputError("no stage '" + name + "' in mlo.yaml", names.empty() ? "mlo.yaml has no stages" : "stages: " + names);
}

const StageDef* Pipeline::producer_of(const std::string& path) const {
  for (const auto& s : stages) {
    for (const auto& o : s.outs)
      if (same_or_under(path, o)) return &s;
    for (const auto& o : s.metrics)
      if (same_or_under(path, o)) return &s;
  }
  return nullptr;
}

std::map<std::string, std::vector<std::string>> Pipeline::upstream() const {
  std::map<std::string, std::vector<std::string>> up;
  for (const auto& s : stages) {
    auto& list = up[s.name];
    for (const auto& d : s.deps) {
      // A dep may be an output, inside one, or a folder holding outputs.
      for (const auto& other : stages) {
        if (other.name == s.name) continue;
        bool feeds = false;
        for (const auto& o : other.outs) feeds = feeds || same_or_under(d, o) || same_or_under(o, d);
        for (const auto& o : other.metrics) feeds = feeds || same_or_under(d, o) || same_or_under(o, d);
        if (feeds && std::find(list.begin(), list.end(), other.name) == list.end()) list.push_back(other.name);
      }
    }
  }
  return up;
}

std::vector<std::string> Pipeline::order(const std::vector<std::string>& targets) const {
  auto up = upstream();
  std::set<std::string> wanted;
  std::function<void(const std::string&)> want = [&](const std::string& n) {
    if (!wanted.insert(n).second) return;
    for (const auto& u : up[n]) want(u);
  };
  if (targets.empty())
    for (const auto& s : stages) want(s.name);
  for (const auto& t : targets) want(get(t).name);
  std::vector<std::string> out;
  std::set<std::string> done;
  while (out.size() < wanted.size()) {
    bool progress = false;
    for (const auto& s : stages) {
      if (!wanted.count(s.name) || done.count(s.name)) continue;
      bool ready = std::all_of(up[s.name].begin(), up[s.name].end(), [&](auto& u) { return done.count(u) > 0; });
      if (ready) {
        out.push_back(s.name);
        done.insert(s.name);
        progress = true;
      }
    }
    if (!progress) throw InputError("mlo.yaml: the stages form a cycle");
  }
  return out;
}

std::vector<std::string> Pipeline::downstream(const std::vector<std::string>& names) const {
  auto up = upstream();
  std::set<std::string> in(names.begin(), names.end());
  for (const auto& n : names) get(n);
  for (const auto& n : order()) {
    for (const auto& u : up[n])
      if (in.count(u)) in.insert(n);
  }
  std::vector<std::string> out;
  for (const auto& n : order())
    if (in.count(n)) out.push_back(n);
  return out;
}

namespace {
// The memo's name for "this text was read whole before: schema, stages and
// graph". A key kept only after a read that threw nothing.
constexpr std::string_view kReadWhole = "mlo.yaml, read whole";

Pipeline read_pipeline(const std::string& text, const std::string& filename, SchemaCheckMemo* memo) {
  // A text read whole before is read again without yaml-cpp's scanner when it
  // is in the block subset (repo/yaml_block.h): its nodes carry no marks, but
  // this text raised no error that would need one, and the stages keep their
  // locations from the block reader. yaml-cpp was a fifth of a no-op `mlo run`
  // (issue 14).
  const bool read_before = memo && memo->passed(text, kReadWhole);
  BlockMarks marks;
  std::optional<YAML::Node> fast;
  if (read_before) fast = read_block_yaml_node(text, &marks);
  YAML::Node root = fast ? *fast : load_yaml(text, filename);
  Pipeline p;
  if (!root || root.IsNull()) return p;
  if (!root.IsMap()) bad(mark_of(filename, root), "expected a mapping with 'stages:'");
  if (memo) memo->check(root, text, "mlo.schema.json", filename);
  else check_mlo_yaml(root, filename);
  auto where = [&](const std::string& name, const YAML::Node& n) {
    if (!fast) return mark_of(filename, n);
    auto m = marks.find("stages" + std::string(1, '\0') + name);
    return m == marks.end() ? filename : mark_text(filename, m->second);
  };
  YAML::Node stages = root["stages"];
  if (!stages || stages.IsNull()) return p;
  if (!stages.IsMap()) bad(mark_of(filename, stages), "'stages' must be a mapping of stage names to stages");
  for (const auto& kv : stages) {
    std::string name = kv.first.Scalar();
    if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") !=
                            std::string::npos)
      bad(mark_of(filename, kv.first), "bad stage name '" + name + "'", "use letters, digits, '_', '-' and '.'");
    p.stages.push_back(parse_stage(filename, name, kv.second, where(name, kv.second)));
  }
  check_dag(filename, p);
  if (memo && !read_before) memo->remember(text, kReadWhole);
  return p;
}

}  // namespace

Pipeline parse_pipeline(const std::string& text, const std::string& filename) {
  return read_yaml_checked(filename, [&] { return read_pipeline(text, filename, nullptr); });
}

Pipeline load_pipeline(const std::filesystem::path& root) {
  auto text = read_file_if_exists(root / "mlo.yaml");
  if (!text) throw InputError("no mlo.yaml in " + root.string(), "write the pipeline's stages in mlo.yaml (see 'man mlo-run')");
  SchemaCheckMemo memo(root / ".mlo" / "tmp" / "schema-checks");
  return read_yaml_checked("mlo.yaml", [&] { return read_pipeline(*text, "mlo.yaml", &memo); });
}

std::optional<std::uint64_t> parse_memory(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || !(v >= 0)) return std::nullopt;
  std::string unit(end);
  while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() > 1 && unit.back() == 'B') unit.pop_back();
  if (unit.size() > 1 && unit.back() == 'I') unit.pop_back();
  double mult = 1;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "K") mult = 1024.0;
  else if (unit == "M") mult = 1024.0 * 1024;
  else if (unit == "G") mult = 1024.0 * 1024 * 1024;
  else if (unit == "T") mult = 1024.0 * 1024 * 1024 * 1024;
  else return std::nullopt;
  return static_cast<std::uint64_t>(std::llround(v * mult));
}

std::optional<double> parse_duration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  double total = 0;
  const char* p = text.c_str();
  while (*p) {
    char* end = nullptr;
    double v = std::strtod(p, &end);
    if (end == p || !(v >= 0)) return std::nullopt;
    p = end;
    double mult = 1;
    if (*p == 'h') { mult = 3600; ++p; }
    else if (*p == 'm') { mult = 60; ++p; }
    else if (*p == 's') { ++p; }
    else if (*p == 'd') { mult = 86400; ++p; }
    else if (*p) return std::nullopt;
    total += v * mult;
  }
  if (!(total > 0)) return std::nullopt;
  return total;
}

nlohmann::json scalar_to_json(const std::string& text) {
  YAML::Node n;
  try {
    n = YAML::Load(text);
  } catch (const YAML::Exception&) {
    return text;
  }
  if (!n.IsScalar()) return n.IsNull() ? nlohmann::json(nullptr) : nlohmann::json(text);
  return yaml_to_json(n);
}

nlohmann::json read_yaml_json(const std::string& text, const std::string& where) {
  if (auto doc = read_block_yaml(text)) return std::move(*doc);
  return yaml_to_json(load_yaml(text, where));
}

namespace {
void emit(YAML::Emitter& out, const nlohmann::json& j) {
  if ((j.is_object() || j.is_array()) && j.empty()) {
    out << YAML::Flow << (j.is_object() ? YAML::BeginMap : YAML::BeginSeq) << (j.is_object() ? YAML::EndMap : YAML::EndSeq);
  } else if (j.is_object()) {
    out << YAML::BeginMap;
    for (auto it = j.begin(); it != j.end(); ++it) {
      out << YAML::Key << it.key() << YAML::Value;
      emit(out, it.value());
    }
    out << YAML::EndMap;
  } else if (j.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& v : j) emit(out, v);
    out << YAML::EndSeq;
  } else if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    // Quote strings YAML would read back as another type.
    nlohmann::json back = scalar_to_json(s);
    if (!back.is_string() || back.get<std::string>() != s) out << YAML::DoubleQuoted << s;
    else out << s;
  } else if (j.is_boolean()) {
    out << (j.get<bool>() ? "true" : "false");
  } else if (j.is_null()) {
    out << YAML::Null;
  } else {
    out << j.dump();
  }
}
void flatten_into(const nlohmann::json& j, const std::string& prefix, nlohmann::json& out) {
  if (j.is_object() && !j.empty()) {
    for (auto it = j.begin(); it != j.end(); ++it)
      flatten_into(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
  } else if (!prefix.empty()) {
    out[prefix] = j;
  }
}
}  // namespace

std::string json_to_yaml(const nlohmann::json& doc) {
  YAML::Emitter out;
  out.SetIndent(2);
  emit(out, doc);
  return std::string(out.c_str()) + "\n";
}

nlohmann::json flatten_json(const nlohmann::json& doc) {
  nlohmann::json out = nlohmann::json::object();
  flatten_into(doc, "", out);
  return out;
}

std::string normalize_param_ref(const std::string& ref) {
  auto colon = ref.find(':');
  if (colon == std::string::npos) return "params.yaml:" + ref;
  return ref;
}

std::string display_param(const std::string& ref) {
  if (ref.rfind("params.yaml:", 0) == 0) return ref.substr(12);
  return ref;
}

namespace {
// A whole section (params: [train], as DVC allows) counts as each key under
// it, so that changing one re-runs the stage, --set train.C=... overrides
// it, and records show every value.
void add_param(nlohmann::json& out, const std::string& ref, const nlohmann::json& value,
               const std::map<std::string, nlohmann::json>& overrides) {
  if (!value.is_object() || value.empty()) {
    auto o = overrides.find(ref);
    out[ref] = o != overrides.end() ? o->second : value;
    return;
  }
  for (auto it = value.begin(); it != value.end(); ++it) add_param(out, ref + "." + it.key(), it.value(), overrides);
  for (auto o = overrides.lower_bound(ref + "."); o != overrides.end() && o->first.rfind(ref + ".", 0) == 0; ++o)
    if (!out.contains(o->first)) out[o->first] = o->second;  // a new key under the section
}
}  // namespace

namespace {
// The key of a mapping closest to a mistyped one ("" when none is close).
std::string closest_key(const YAML::Node& map, const std::string& word) {
  if (!map.IsMap()) return "";
  std::vector<std::string> keys;
  for (const auto& kv : map)
    if (kv.first.IsScalar()) keys.push_back(kv.first.Scalar());
  return closest_match(word, keys);
}
}  // namespace

nlohmann::json resolve_params(const std::vector<std::string>& refs, const FileReader& read,
                              const std::map<std::string, nlohmann::json>& overrides) {
  nlohmann::json out = nlohmann::json::object();
  std::map<std::string, YAML::Node> files;
  for (const auto& ref : refs) {
    if (auto o = overrides.find(ref); o != overrides.end()) {
      out[ref] = o->second;
      continue;
    }
    std::string file = ref.substr(0, ref.find(':'));
    std::string key = ref.substr(file.size() + 1);
    auto it = files.find(file);
    if (it == files.end()) {
      auto text = read(file);
      if (!text)
        throw InputError("param '" + display_param(ref) + "': " + file + " does not exist",
                         "create " + file + " with the key, or remove it from the stage's params");
      it = files.emplace(file, load_yaml(*text, file)).first;
    }
    YAML::Node n = it->second;
    std::string rest = key, done, near;
    bool found = true;
    while (found && !rest.empty()) {
      // Keys are split at dots, as DVC does. reset(), not '=': assigning a
      // Node writes through to the document.
      auto dot = rest.find('.');
      std::string part = rest.substr(0, dot);
      rest = dot == std::string::npos ? "" : rest.substr(dot + 1);
      const YAML::Node& cn = n;
      if (!cn.IsMap() || !cn[part]) {
        found = false;
        near = closest_key(cn, part);
        if (!near.empty()) near = done + near + (rest.empty() ? "" : "." + rest);
      } else {
        n.reset(cn[part]);
        done += part + ".";
      }
    }
    if (!found)
      throw InputError(file + ": no param '" + key + "'" + (near.empty() ? "" : " (did you mean '" + near + "'?)"),
                       "add it to " + file + ", or fix the stage's params in mlo.yaml");
    add_param(out, ref, yaml_to_json(n), overrides);
  }
  return out;
}

}  // namespace mlo
