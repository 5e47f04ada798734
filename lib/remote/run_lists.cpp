#include "remote/run_lists.h"

#include <mutex>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/parallel.h"

namespace mlo::remote {

std::map<std::string, std::string> remote_runs(Backend& backend, const fs::path& index_cache, unsigned jobs) {
  fs::path dir = index_cache / "runs";
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::vector<std::string> names;
  for (const auto& b : backend.list("runs/")) {
    std::string name = b.key.substr(5);
    if (name.size() == 69 && name.compare(64, 5, ".json") == 0 && is_sha256_hex(name.substr(0, 64))) names.push_back(name);
  }
  std::map<std::string, std::string> out;
  std::mutex mu;
  parallel_for(names.size(), std::max(1u, jobs), [&](std::size_t i) {
    fs::path local = dir / names[i];
    auto text = read_file_if_exists(local);
    if (!text) {
      text = backend.get("runs/" + names[i]);
      if (!text) return;  // removed since the listing
      if (sha256_hex(*text) != names[i].substr(0, 64)) {
        log::warn(backend.describe() + ": runs/" + names[i] + " does not match its name; ignored");
        return;
      }
      try {
        write_file_atomic(local, *text, false);
      } catch (const Error&) {
        // Only a cache.
      }
    }
    auto doc = nlohmann::json::parse(*text, nullptr, false);
    if (!doc.is_object() || !doc.contains("runs") || !doc["runs"].is_object()) return;
    std::lock_guard g(mu);
    for (auto it = doc["runs"].begin(); it != doc["runs"].end(); ++it)
      if (it.value().is_string() && is_sha256_hex(it.value().get<std::string>())) out.emplace(it.key(), it.value());
  });
  return out;
}

std::string write_run_list(Backend& backend, const fs::path& index_cache, const std::map<std::string, std::string>& runs) {
  nlohmann::json doc = {{"version", 1}, {"runs", runs}};
  std::string text = doc.dump() + "\n";
  std::string name = sha256_hex(text) + ".json";
  put_verified(backend, "runs/" + name, text);
  try {
    write_file_atomic(index_cache / "runs" / name, text, false);
  } catch (const Error&) {
    // Only a cache.
  }
  return "runs/" + name;
}

}  // namespace mlo::remote
