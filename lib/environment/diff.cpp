// Pure helpers over captured environments: a stage's fingerprint (what its
// cache key holds) and the differences between two environments.
#include <algorithm>
#include <map>
#include <set>

#include "core/error.h"
#include "environment/environment.h"

namespace mlo::environment {

using json = nlohmann::json;

namespace {

const json& member(const json& j, const char* key) {
  static const json null_value;
  return j.is_object() && j.contains(key) ? j[key] : null_value;
}

std::string text_of(const json& v) {
  if (v.is_null()) return "";
  return v.is_string() ? v.get<std::string>() : v.dump();
}

void add_change(json& out, const std::string& field, const json& a, const json& b) {
  if (a == b) return;
  json row = {{"field", field}};
  if (a.is_null()) row["change"] = "added";
  else if (b.is_null()) row["change"] = "removed";
  else row["change"] = "changed";
  if (!a.is_null()) row["old"] = a;
  if (!b.is_null()) row["new"] = b;
  out.push_back(row);
}

// Two {name: value} maps compared key by key, "PREFIX NAME" rows; `norm`
// matches package names the way pip does.
void diff_maps(json& out, const std::string& prefix, const json& a, const json& b, bool norm) {
  std::map<std::string, std::pair<std::string, json>> left, right;  // key -> (shown name, value)
  auto fill = [&](const json& m, auto& into) {
    if (!m.is_object()) return;
    for (auto it = m.begin(); it != m.end(); ++it) into[norm ? normalized_package(it.key()) : it.key()] = {it.key(), it.value()};
  };
  fill(a, left);
  fill(b, right);
  std::set<std::string> keys;
  for (auto& [k, v] : left) keys.insert(k);
  for (auto& [k, v] : right) keys.insert(k);
  for (const auto& k : keys) {
    auto l = left.find(k), r = right.find(k);
    std::string shown = r != right.end() ? r->second.first : l->second.first;
    add_change(out, prefix + " " + shown, l != left.end() ? l->second.second : json(),
               r != right.end() ? r->second.second : json());
  }
}

json gpu_summary(const json& gpus) {
  if (!gpus.is_array() || gpus.empty()) return json();
  std::map<std::string, int> count;
  for (const auto& g : gpus) {
    std::string name = text_of(member(g, "name"));
    if (member(g, "memory_mib").is_number()) name += " " + std::to_string(member(g, "memory_mib").get<long>()) + " MiB";
    ++count[name];
  }
  std::string s;
  for (auto& [n, c] : count) s += (s.empty() ? "" : ", ") + std::to_string(c) + "x " + n;
  return s;
}

json first_gpu(const json& gpus, const char* key) {
  return gpus.is_array() && !gpus.empty() ? member(gpus[0], key) : json();
}

json image_text(const json& c) {
  if (!c.is_object()) return json();
  return text_of(member(c, "image")) + "@" + text_of(member(c, "digest"));
}

}  // namespace

std::string normalized_package(std::string name) {
  for (auto& c : name) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (c == '_' || c == '.') c = '-';
  }
  return name;
}

json fingerprint(const json& env, const std::vector<std::string>& chosen, const std::string& where) {
  json fp = json::object();
  for (const auto& c : chosen) {
    if (c == "python") {
      const json& py = member(env, "python");
      if (!py.is_object())
        throw InputError(where + ": 'environment: python' but the stage runs no python that mlo can find",
                         "name the interpreter in cmd (e.g. .venv/bin/python train.py) or put python3 on PATH");
      if (py.contains("error"))
        throw InputError(where + ": 'environment: python': " + py.value("path", "") + ": " + text_of(py["error"]),
                         "check that the interpreter runs and has importlib.metadata (python 3.8 or later)");
      fp["python"] = {{"version", member(py, "version")}, {"packages", member(py, "packages")}};
    } else {
      const json& h = member(member(env, "lock_files"), c.c_str());
      if (!h.is_string())
        throw InputError(where + ": environment lists '" + c + "', which does not exist",
                         "write 'python' or the lock files the stage's environment comes from (e.g. requirements.txt)");
      fp["lock_files"][c] = h;
    }
  }
  if (member(env, "container").is_object()) {
    const json& c = env["container"];
    fp["container"] = {{"image", member(c, "image")}, {"digest", member(c, "digest")}};
  }
  return fp;
}

json diff(const json& a, const json& b) {
  json out = json::array();
  add_change(out, "os", member(member(a, "os"), "name"), member(member(b, "os"), "name"));
  for (const char* k : {"kernel", "libc", "arch"}) add_change(out, k, member(a, k), member(b, k));
  auto cpu = [](const json& e) -> json {
    const json& c = member(e, "cpu");
    if (!c.is_object()) return json();
    return text_of(member(c, "model")) + " (" + text_of(member(c, "cores")) + " cores)";
  };
  add_change(out, "cpu", cpu(a), cpu(b));
  add_change(out, "memory_bytes", member(a, "memory_bytes"), member(b, "memory_bytes"));
  add_change(out, "gpus", gpu_summary(member(a, "gpus")), gpu_summary(member(b, "gpus")));
  add_change(out, "gpu driver", first_gpu(member(a, "gpus"), "driver"), first_gpu(member(b, "gpus"), "driver"));
  add_change(out, "cuda", first_gpu(member(a, "gpus"), "cuda"), first_gpu(member(b, "gpus"), "cuda"));
  const json &pa = member(a, "python"), &pb = member(b, "python");
  add_change(out, "python", member(pa, "version"), member(pb, "version"));
  add_change(out, "python path", member(pa, "path"), member(pb, "path"));
  diff_maps(out, "package", member(pa, "packages"), member(pb, "packages"), true);
  diff_maps(out, "lock_file", member(a, "lock_files"), member(b, "lock_files"), false);
  diff_maps(out, "env_var", member(a, "env_vars"), member(b, "env_vars"), false);
  add_change(out, "image", image_text(member(a, "container")), image_text(member(b, "container")));
  return out;
}

std::string describe(const json& changes, size_t max) {
  std::string s;
  size_t n = 0;
  for (const auto& c : changes) {
    if (n == max) {
      s += ", ...";
      break;
    }
    std::string field = c.value("field", "");
    // A package reads best without its prefix: "scikit-learn 1.3.2 → 1.4.0".
    if (field.rfind("package ", 0) == 0) field = field.substr(8);
    std::string change = c.value("change", "");
    std::string old_v = text_of(member(c, "old")), new_v = text_of(member(c, "new"));
    if (field.rfind("lock_file ", 0) == 0) {
      old_v = old_v.substr(0, 12);
      new_v = new_v.substr(0, 12);
    }
    std::string line = change == "changed" ? field + " " + old_v + " → " + new_v
                       : change == "added" ? field + " added (" + new_v + ")"
                                           : field + " removed (was " + old_v + ")";
    s += (n ? ", " : "") + line;
    ++n;
  }
  return s;
}

}  // namespace mlo::environment
