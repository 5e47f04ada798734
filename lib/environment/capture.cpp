// Capturing a stage's environment: machine facts, GPUs, the interpreter and
// its distributions, lock files, result-changing env vars.
#include <gnu/libc-version.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/process.h"
#include "environment/environment.h"

namespace mlo::environment {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// KEY=value lines of /etc/os-release (quotes removed).
json os_release() {
  json os = json::object();
  std::ifstream in("/etc/os-release");
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string k = line.substr(0, eq), v = line.substr(eq + 1);
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
    if (k == "ID") os["id"] = v;
    else if (k == "VERSION_ID") os["version_id"] = v;
    else if (k == "PRETTY_NAME") os["name"] = v;
  }
  return os;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) return line.substr(line.find(':') + 2);
  return "";
}

// Nanosecond mtime of a path (following links); -1 when it cannot be read.
long long mtime_ns(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return -1;
  return static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
}

// The value the stage sees: its own env first, then mlo's.
std::string stage_var(const std::map<std::string, std::string>& env, const std::string& name) {
  if (auto it = env.find(name); it != env.end()) return it->second;
  const char* v = std::getenv(name.c_str());
  return v ? v : "";
}

// A cached JSON document and what must still hold for it to be valid.
struct CacheEntry {
  json stamp, facts;
};

std::mutex memo_mu;
std::map<std::string, CacheEntry> memo;  // cache file -> entry (read once per process)

std::optional<CacheEntry> read_cache(const fs::path& file) {
  {
    std::lock_guard<std::mutex> g(memo_mu);
    if (auto it = memo.find(file.string()); it != memo.end()) return it->second;
  }
  auto text = read_file_if_exists(file);
  if (!text) return std::nullopt;
  json doc = json::parse(*text, nullptr, false);
  if (!doc.is_object() || !doc.contains("stamp") || !doc.contains("facts")) return std::nullopt;
  CacheEntry e{doc["stamp"], doc["facts"]};
  std::lock_guard<std::mutex> g(memo_mu);
  memo[file.string()] = e;
  return e;
}

void write_cache(const fs::path& file, const json& stamp, const json& facts) {
  {
    std::lock_guard<std::mutex> g(memo_mu);
    memo[file.string()] = {stamp, facts};
  }
  if (file.empty() || file.parent_path().empty()) return;
  try {
    fs::create_directories(file.parent_path());
    write_file_atomic(file, json({{"stamp", stamp}, {"facts", facts}}).dump(), false);
  } catch (const std::exception& e) {  // a cache that cannot be written costs time, not correctness
    log::debug(std::string("environment cache: ") + e.what());
  }
}

// ---------------------------------------------------------------- GPUs

// What changes when GPUs or their driver change: nvidia-smi itself, the
// driver's version file and the GPUs the kernel lists.
json gpu_stamp(const fs::path& smi) {
  json stamp = {{"smi", smi.string()}, {"smi_mtime", mtime_ns(smi)},
                {"driver", read_file_if_exists("/proc/driver/nvidia/version").value_or("")}};
  std::vector<std::string> gpus;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/proc/driver/nvidia/gpus", ec); !ec && it != fs::directory_iterator();
       it.increment(ec))
    gpus.push_back(it->path().filename().string());
  std::sort(gpus.begin(), gpus.end());
  stamp["gpus"] = gpus;
  return stamp;
}

std::string trim(std::string s) {
  s.erase(0, s.find_first_not_of(" \t\r\n"));
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

json query_gpus(const fs::path& smi) {
  ProcessResult r = run_process({{smi.string(), "--query-gpu=name,memory.total,driver_version,uuid",
                                  "--format=csv,noheader,nounits"}});
  if (!r.ok()) return json::array();
  ProcessResult header = run_process({{smi.string()}});
  return parse_gpu_query(r.out, header.ok() ? header.out : "");
}

}  // namespace

json parse_gpu_query(const std::string& query_csv, const std::string& banner) {
  json gpus = json::array();
  std::string cuda;
  std::smatch m;
  static const std::regex cuda_re(R"(CUDA Version:\s*([0-9.]+))");
  if (std::regex_search(banner, m, cuda_re)) cuda = m[1];
  std::istringstream lines(query_csv);
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<std::string> f;
    std::istringstream fields(line);
    std::string part;
    while (std::getline(fields, part, ',')) f.push_back(trim(part));
    if (f.size() < 4) continue;
    json g = {{"name", f[0]}, {"driver", f[2]}, {"uuid", f[3]}};
    char* end = nullptr;
    long mib = std::strtol(f[1].c_str(), &end, 10);
    if (end && !*end && !f[1].empty()) g["memory_mib"] = mib;
    if (!cuda.empty()) g["cuda"] = cuda;
    gpus.push_back(g);
  }
  return gpus;
}

namespace {

// ---------------------------------------------------------------- python

// Asked once per interpreter (and its site folders' state): version and
// every installed distribution, first one on sys.path winning as import does.
const char* kPythonProbe = R"PY(
import json, os, platform, sys
out = {"version": platform.python_version(), "implementation": platform.python_implementation(),
       "executable": sys.executable, "paths": [p for p in sys.path if os.path.isabs(p) and os.path.isdir(p)]}
try:
    import importlib.metadata as md
    packages, seen = {}, set()
    for d in md.distributions():
        name = d.metadata["Name"]
        if not name:
            continue
        norm = name.lower().replace("_", "-").replace(".", "-")
        if norm not in seen:
            seen.add(norm)
            packages[name] = d.version
    out["packages"] = packages
except Exception as e:
    out["packages_error"] = str(e)
print(json.dumps(out))
)PY";

// The folders whose mtimes change when a distribution is installed or removed.
json python_stamp(const fs::path& python, const json& paths) {
  json stamp = {{"python", python.string()}, {"mtime", mtime_ns(python)}, {"paths", json::object()}};
  if (paths.is_array())
    for (const auto& p : paths)
      if (p.is_string()) stamp["paths"][p.get<std::string>()] = mtime_ns(p.get<std::string>());
  return stamp;
}

bool stamp_holds(const json& stamp, const fs::path& python) {
  if (!stamp.is_object() || stamp.value("mtime", -2LL) != mtime_ns(python)) return false;
  const json& paths = stamp.contains("paths") && stamp["paths"].is_object() ? stamp["paths"] : json::object();
  for (auto it = paths.begin(); it != paths.end(); ++it)
    if (!it.value().is_number_integer() || it.value().get<long long>() != mtime_ns(it.key())) return false;
  return true;
}

json probe_python(const fs::path& python, const std::map<std::string, std::string>& env) {
  ProcessSpec spec;
  spec.argv = {python.string(), "-c", kPythonProbe};
  spec.env = env;
  ProcessResult r;
  try {
    r = run_process(spec);
  } catch (const Error& e) {
    return {{"path", python.string()}, {"error", e.what()}};
  }
  json out = r.ok() ? json::parse(r.out, nullptr, false) : json();
  if (!out.is_object())
    return {{"path", python.string()},
            {"error", "could not list its packages (exit " + std::to_string(r.exit_code) + "): " + trim(r.err).substr(0, 200)}};
  out["path"] = python.string();
  return out;
}

bool names_python(const std::string& word) {
  static const std::regex re(R"(^python[0-9.]*$)");
  return std::regex_match(fs::path(word).filename().string(), re);
}

// The interpreter a script's "#!" line names ("#!/usr/bin/env python3" too).
std::optional<std::string> shebang_python(const fs::path& script) {
  std::ifstream in(script);
  std::string line;
  if (!in || !std::getline(in, line) || line.rfind("#!", 0) != 0) return std::nullopt;
  std::istringstream words(line.substr(2));
  std::string w;
  while (words >> w)
    if (names_python(w)) return w;
  return std::nullopt;
}

// The words of a command, split on blanks and shell operators (quotes are
// not interpreted: enough to find an interpreter's name).
std::vector<std::string> command_words(const CaptureRequest& r) {
  if (!r.argv.empty()) return r.argv;
  std::vector<std::string> words;
  std::string cur;
  for (char c : r.shell) {
    if (std::isspace(static_cast<unsigned char>(c)) || std::string(";&|()<>'\"`").find(c) != std::string::npos) {
      if (!cur.empty()) words.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) words.push_back(cur);
  return words;
}

std::optional<fs::path> resolve_program(const std::string& word, const CaptureRequest& r) {
  if (word.find('/') != std::string::npos) {
    fs::path p = fs::path(word).is_absolute() ? fs::path(word) : r.root / r.wdir / word;
    std::error_code ec;
    if (fs::exists(p, ec)) return p.lexically_normal();
    return std::nullopt;
  }
  std::string path = stage_var(r.env, "PATH");
  return find_program_in(word, path.empty() ? "/usr/local/bin:/usr/bin:/bin" : path);
}

bool lock_file_name(const std::string& n) {
  static const std::regex re(R"(^(requirements.*\.txt|uv\.lock|poetry\.lock|Pipfile\.lock|environment\.ya?ml|conda-lock\.ya?ml)$)");
  return std::regex_match(n, re);
}

}  // namespace

// ---------------------------------------------------------------- public

json system_facts() {
  static const json facts = [] {
    json f = json::object();
    f["os"] = os_release();
    utsname u{};
    if (::uname(&u) == 0) {
      f["kernel"] = u.release;
      f["arch"] = u.machine;
    }
    f["libc"] = std::string("glibc ") + gnu_get_libc_version();
    long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
    f["cpu"] = {{"model", cpu_model()}, {"cores", cores > 0 ? cores : 1}};
    long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) f["memory_bytes"] = static_cast<long long>(pages) * page;
    return f;
  }();
  return facts;
}

json gpu_facts(const fs::path& cache_dir) {
  auto smi = find_program("nvidia-smi");
  if (!smi) return json::array();
  json stamp = gpu_stamp(*smi);
  fs::path file = cache_dir.empty() ? fs::path() : cache_dir / "gpus.json";
  if (!file.empty())
    if (auto e = read_cache(file); e && e->stamp == stamp) return e->facts;
  json gpus = query_gpus(*smi);
  write_cache(file, stamp, gpus);
  return gpus;
}

std::optional<fs::path> find_python(const CaptureRequest& r) {
  auto words = command_words(r);
  for (const auto& w : words)
    if (names_python(w))
      if (auto p = resolve_program(w, r)) return p;
  // A script run directly: its "#!" line names the interpreter.
  if (!words.empty() && !names_python(words[0])) {
    fs::path script = fs::path(words[0]).is_absolute() ? fs::path(words[0]) : r.root / r.wdir / words[0];
    if (auto w = shebang_python(script))
      if (auto p = resolve_program(*w, r)) return p;
  }
  return resolve_program("python3", r);
}

json python_facts(const fs::path& python, const std::map<std::string, std::string>& env, const fs::path& cache_dir) {
  std::string pythonpath = stage_var(env, "PYTHONPATH");
  fs::path file = cache_dir.empty() ? fs::path()
                                    : cache_dir / ("python-" + sha256_hex(python.string() + "\n" + pythonpath).substr(0, 32) + ".json");
  if (!file.empty())
    if (auto e = read_cache(file); e && stamp_holds(e->stamp, python)) return e->facts;
  json facts = probe_python(python, env);
  if (!facts.contains("error")) {
    json paths = facts.contains("paths") ? facts["paths"] : json::array();
    facts.erase("paths");
    write_cache(file, python_stamp(python, paths), facts);
  }
  return facts;
}

std::optional<fs::path> script_python(const fs::path& program) {
  auto word = shebang_python(program);
  if (!word) return std::nullopt;
  CaptureRequest r;
  r.root = program.parent_path();
  return resolve_program(*word, r);
}

// Reads the pickle's opcodes only (GLOBAL / STACK_GLOBAL name modules);
// joblib's raw array bytes end the walk, after the classes were named.
const char* kModelProbe = R"PY(
import json, pickletools, sys
mods = set()
strings = []
try:
    with open(sys.argv[1], "rb") as f:
        for op, arg, _ in pickletools.genops(f):
            if op.name == "GLOBAL":
                mods.add(str(arg).split(" ")[0].split(".")[0])
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                mods.add(strings[-2].split(".")[0])
            elif isinstance(arg, str):
                strings.append(arg)
except Exception:
    pass
out = {}
try:
    import importlib.metadata as md
    dists = md.packages_distributions()
    for m in sorted(mods):
        for d in dists.get(m, []):
            try:
                out[d] = md.version(d)
            except Exception:
                pass
except Exception:
    pass
print(json.dumps(out))
)PY";

json model_packages(const fs::path& python, const fs::path& artifact) {
  ProcessResult r;
  try {
    r = run_process({{python.string(), "-c", kModelProbe, artifact.string()}});
  } catch (const Error&) {
    return json::object();
  }
  json out = r.ok() ? json::parse(r.out, nullptr, false) : json();
  return out.is_object() ? out : json::object();
}

json lock_file_hashes(const fs::path& root, const std::string& wdir, const std::vector<std::string>& extra) {
  json out = json::object();
  auto add = [&](const std::string& rel) {
    std::error_code ec;
    if (out.contains(rel) || !fs::is_regular_file(root / rel, ec)) return;
    try {
      out[rel] = sha256_file(root / rel);
    } catch (const Error& e) {
      log::debug(std::string("lock file: ") + e.what());
    }
  };
  for (const std::string& dir : {std::string("."), wdir}) {
    std::error_code ec;
    for (auto it = fs::directory_iterator(root / dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (lock_file_name(name)) add(dir == "." ? name : dir + "/" + name);
    }
  }
  for (const auto& e : extra) add(e);
  return out;
}

bool secret_name(const std::string& name) {
  std::string up = name;
  for (auto& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const char* word : {"TOKEN", "SECRET", "KEY", "PASSWORD", "CREDENTIAL"})
    if (up.find(word) != std::string::npos) return true;
  return false;
}

json result_env_vars(const std::map<std::string, std::string>& stage_env) {
  static const char* kAllowed[] = {
      "CUDA_VISIBLE_DEVICES", "CUDA_LAUNCH_BLOCKING",  "CUBLAS_WORKSPACE_CONFIG", "NVIDIA_TF32_OVERRIDE",
      "OMP_NUM_THREADS",      "MKL_NUM_THREADS",       "OPENBLAS_NUM_THREADS",    "NUMEXPR_NUM_THREADS",
      "PYTHONHASHSEED",       "PYTHONPATH",            "TF_DETERMINISTIC_OPS",    "TF_CUDNN_DETERMINISTIC",
      "TF_ENABLE_ONEDNN_OPTS", "XLA_FLAGS",            "JAX_ENABLE_X64",          "LANG",
      "LC_ALL",               "TZ"};
  json out = json::object();
  for (const char* name : kAllowed) {
    if (secret_name(name)) continue;  // the rule holds even if the list grows carelessly
    std::string v = stage_var(stage_env, name);
    if (!v.empty()) out[name] = v;
  }
  return out;
}

json capture(const CaptureRequest& r) {
  json env = system_facts();
  env["gpus"] = gpu_facts(r.cache_dir);
  if (r.python) {
    if (auto py = find_python(r)) env["python"] = python_facts(*py, r.env, r.cache_dir);
  }
  env["lock_files"] = lock_file_hashes(r.root, r.wdir, r.lock_files);
  env["env_vars"] = result_env_vars(r.env);
  return env;
}

}  // namespace mlo::environment
