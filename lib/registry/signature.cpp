// A model's input signature when --signature gives none, so that positional
// requests ({"instances": [[...]]}, [n, k] tensors) can be monitored by column
// name: the model file's own feature list (mlo-linear), else the columns of
// the one data set its run trained on, minus the target.
#include <algorithm>
#include <fstream>

#include "core/error.h"
#include "core/format.h"
#include "core/fs.h"
#include "core/hash.h"
#include "data/manifest.h"
#include "data/tree.h"
#include "registry/signature.h"
#include "repo/repo.h"

namespace mlo::registry {

namespace {

constexpr std::uint64_t kMaxModelJson = 1 << 20;  // larger files are no mlo-linear model

nlohmann::json named_inputs(const std::vector<std::string>& names, const std::string& from) {
  nlohmann::json in = nlohmann::json::array();
  for (const auto& n : names) in.push_back({{"name", n}});
  return {{"inputs", in}, {"inferred_from", from}};
}

std::vector<std::string> model_file_features(Repo& repo, const std::string& sha256, std::uint64_t size) {
  std::vector<std::string> out;
  if (size == 0 || size > kMaxModelJson || !is_sha256_hex(sha256) || !repo.cache().has(sha256)) return out;
  auto j = nlohmann::json::parse(repo.cache().read(sha256), nullptr, false);
  if (!j.is_object() || j.value("format", "") != "mlo-linear" || !j.contains("features") || !j["features"].is_array())
    return out;
  for (const auto& f : j["features"])
    if (f.is_string()) out.push_back(f.get<std::string>());
  return out;
}

bool ends_with_any(const std::string& p, std::initializer_list<const char*> suffixes) {
  return std::any_of(suffixes.begin(), suffixes.end(), [&](const char* s) { return p.ends_with(s); });
}
bool tabular_name(const std::string& p) { return ends_with_any(p, {".csv", ".tsv", ".jsonl", ".ndjson"}); }

// The header of a cached CSV/TSV file (empty when its first line is all
// numbers, i.e. no header), or the keys of a JSON Lines file's first record.
std::vector<std::string> header_of_object(Repo& repo, const std::string& sha256, const std::string& name) {
  std::vector<std::string> cols;
  if (!is_sha256_hex(sha256)) return cols;
  // The store has tracked data and outputs; a plain file the run read is
  // taken from the work tree while it still has the bytes the run recorded.
  fs::path file = repo.cache().object_path(sha256);
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    file = repo.root() / name;
    if (!fs::is_regular_file(file, ec) || sha256_file(file) != sha256) return cols;
  }
  std::ifstream f(file, std::ios::binary);
  std::string line;
  if (!f || !std::getline(f, line)) return cols;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (ends_with_any(name, {".jsonl", ".ndjson"})) {
    auto j = nlohmann::ordered_json::parse(line, nullptr, false);
    if (j.is_object())
      for (auto it = j.begin(); it != j.end(); ++it) cols.push_back(it.key());
    return cols;
  }
  char delim = name.ends_with(".tsv") ? '\t' : ',';
  bool all_numbers = true;
  std::size_t start = 0;
  while (start <= line.size()) {
    std::size_t end = std::min(line.find(delim, start), line.size());
    std::string cell = line.substr(start, end - start);
    if (cell.size() >= 2 && cell.front() == '"' && cell.back() == '"') cell = cell.substr(1, cell.size() - 2);
    char* stop = nullptr;
    std::strtod(cell.c_str(), &stop);
    all_numbers = all_numbers && !cell.empty() && *stop == '\0';
    cols.push_back(cell);
    start = end + 1;
  }
  if (all_numbers) cols.clear();
  return cols;
}

// A data dependency's columns: a file's header, or the first tabular file's
// of a folder (its manifest lists the files sorted by path).
std::vector<std::string> data_columns(Repo& repo, const RunArtifact& d) {
  if (d.type != "dir") return header_of_object(repo, d.sha256, d.path);
  if (!repo.cache().has(d.sha256)) return {};
  Manifest m = read_manifest(repo.cache(), d.sha256, d.path);
  for (const auto& e : m.entries)
    if (tabular_name(e.path)) return header_of_object(repo, e.sha256, e.path);
  return {};
}

// --target, else a column named like a target, else the last one (the usual layout).
std::string target_column(const std::vector<std::string>& cols, const std::string& given, const std::string& data) {
  if (!given.empty()) {
    if (std::find(cols.begin(), cols.end(), given) != cols.end()) return given;
    std::string near = closest_match(given, cols);
    throw InputError("--target '" + given + "' is not a column of " + data,
                     (near.empty() ? std::string() : "did you mean '" + near + "'? ") + "or give --signature FILE");
  }
  for (const char* usual : {"target", "label", "y", "class"})
    if (std::find(cols.begin(), cols.end(), usual) != cols.end()) return usual;
  return cols.back();
}

}  // namespace

nlohmann::json infer_signature(Repo& repo, const SignatureSource& src) {
  if (src.artifact_type == "file") {
    auto features = model_file_features(repo, src.artifact_sha256, src.artifact_size);
    if (!features.empty()) return named_inputs(features, "the model file's features");
  }
  if (!src.run) return nullptr;
  std::vector<const RunArtifact*> data;
  for (const auto& d : src.run->deps)
    if (d.type == "dir" || tabular_name(d.path)) data.push_back(&d);
  if (data.size() != 1) return nullptr;  // none, or several: which one trained it is not known here
  std::vector<std::string> cols = data_columns(repo, *data.front());
  if (cols.size() < 2) return nullptr;
  std::string target = target_column(cols, src.target, data.front()->path);
  cols.erase(std::remove(cols.begin(), cols.end(), target), cols.end());
  return named_inputs(cols, "the columns of " + data.front()->path + " but the target '" + target + "'");
}

}  // namespace mlo::registry
