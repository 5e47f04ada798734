// The registry's run lookup over the pipeline's run records (pipeline/runs.h).
#include <algorithm>
#include <fstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "pipeline/lock_file.h"
#include "pipeline/runs.h"
#include "registry/runs.h"
#include "repo/repo.h"

namespace mlo::registry {

namespace {
// Run records keep only a dep's hash. A folder's is its manifest's, whose
// bytes start with the manifest header, so the cached object tells which it
// is; uncached, the work tree does.
bool is_folder_dep(Repo& repo, const std::string& path, const std::string& sha256) {
  // A folder dep's hash names its manifest: flat (version 1) or a tree's root (version 2).
  static constexpr std::string_view kFlatHead = "{\"version\":1,\"files\":[";
  static constexpr std::string_view kTreeHead = "{\"version\":2,\"entries\":[";
  std::ifstream f;
  if (is_sha256_hex(sha256)) f.open(repo.cache().object_path(sha256), std::ios::binary);
  if (f.is_open()) {
    char head[std::max(kFlatHead.size(), kTreeHead.size())];
    f.read(head, sizeof head);
    std::string_view got(head, static_cast<std::size_t>(f.gcount()));
    return got.starts_with(kFlatHead) || got.starts_with(kTreeHead);
  }
  std::error_code ec;
  return fs::is_directory(repo.root() / path, ec);
}

RunInfo from_record(Repo& repo, const nlohmann::json& r) {
  RunInfo info;
  info.id = r.value("run_id", "");
  info.stage = r.value("stage", "");
  if (r.contains("git") && r["git"].is_object()) info.git_commit = r["git"].value("commit", "");
  info.started_at = r.value("started_at", 0.0);
  if (r.contains("params") && r["params"].is_object()) info.params = r["params"];
  if (r.contains("metrics") && r["metrics"].is_object()) info.metrics = r["metrics"];
  if (r.contains("environment") && r["environment"].is_object()) info.environment = r["environment"];
  if (r.contains("deps") && r["deps"].is_object())
    for (auto& [path, sha] : r["deps"].items())
      if (sha.is_string()) {
        std::string hash = sha.get<std::string>();
        info.deps.push_back({path, hash, is_folder_dep(repo, path, hash) ? "dir" : "file", 0});
      }
  if (r.contains("outs") && r["outs"].is_object())
    for (auto& [path, o] : r["outs"].items())
      info.outs.push_back({path, o.value("sha256", ""), o.value("type", "file"), o.value("size", std::uint64_t{0})});
  // The run's author: the author of the commit it ran from.
  if (!info.git_commit.empty()) {
    if (auto who = repo.git().commit_author(info.git_commit)) {
      info.author_name = who->name;
      info.author_email = who->email;
    }
  }
  return info;
}

class PipelineRuns : public RunLookup {
 public:
  explicit PipelineRuns(Repo& repo) : repo_(repo) {}
  std::optional<RunInfo> find(const std::string& run_id) override {
    try {
      return from_record(repo_, load_run(repo_, run_id));
    } catch (const Error&) {  // unknown, ambiguous or malformed id
      return std::nullopt;
    }
  }
  std::optional<RunInfo> latest_for_output(const std::string& stage_out) override {
    std::string stage = stage_out, out;
    if (auto c = stage_out.find(':'); c != std::string::npos) {
      stage = stage_out.substr(0, c);
      out = stage_out.substr(c + 1);
    }
    RunQuery q;
    q.stage = stage;
    q.where = {"status=succeeded"};
    q.limit = 1;
    auto rows = list_runs(repo_, q);
    if (rows.empty()) return std::nullopt;
    RunInfo info = from_record(repo_, load_run(repo_, rows.front().value("id", "")));
    if (!out.empty()) {
      auto it = std::find_if(info.outs.begin(), info.outs.end(), [&](const RunArtifact& a) { return a.path == out; });
      if (it == info.outs.end()) return std::nullopt;
      info.outs = {*it};
    }
    return info;
  }
  std::vector<RunInfo> runs_using(const std::string& sha256) override {
    std::vector<RunInfo> out;
    for (const auto& id : runs_with_hash(repo_, sha256, -1)) {  // only the runs the edge index names
      RunInfo r = from_record(repo_, load_run(repo_, id));
      bool uses = std::any_of(r.deps.begin(), r.deps.end(), [&](const RunArtifact& a) { return a.sha256 == sha256; }) ||
                  std::any_of(r.outs.begin(), r.outs.end(), [&](const RunArtifact& a) { return a.sha256 == sha256; });
      if (uses) out.push_back(std::move(r));
    }
    return out;
  }
  std::vector<LockedOutput> locked_outputs() override {
    std::vector<LockedOutput> out;
    auto text = read_file_if_exists(repo_.root() / "mlo.lock");
    if (!text) return out;
    try {
      nlohmann::json lock = parse_lock(*text, "mlo.lock");
      for (auto& [stage, e] : lock["stages"].items()) {
        if (!e.is_object() || !e.contains("outs") || !e["outs"].is_array()) continue;
        for (const auto& o : e["outs"])
          if (o.is_object())
            out.push_back({stage, e.value("run", ""),
                           {o.value("path", ""), o.value("sha256", ""), o.value("type", "file"), o.value("size", std::uint64_t{0})}});
      }
    } catch (const std::exception&) {  // a broken lock links nothing; the run index still can
      out.clear();
    }
    return out;
  }
  std::optional<RunInfo> newest_writer(const std::string& sha256, const std::string& stage) override {
    for (const auto& id : runs_with_hash(repo_, sha256, 1, true, stage)) {  // newest first
      RunInfo r = from_record(repo_, load_run(repo_, id));
      if (std::any_of(r.outs.begin(), r.outs.end(), [&](const RunArtifact& a) { return a.sha256 == sha256; })) return r;
    }
    return std::nullopt;
  }

 private:
  Repo& repo_;
};
}  // namespace

std::unique_ptr<RunLookup> make_run_lookup(Repo& repo) { return std::make_unique<PipelineRuns>(repo); }

}  // namespace mlo::registry
