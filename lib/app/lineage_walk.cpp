// Lineage end to end: the registry's tree (a version, its run and the run's
// data; or a path and the runs and versions that used it) extended through
// the pipeline's run records, in both directions:
//   upstream   under a version's run, each input's producing run, its
//              inputs, and so on down to tracked data (with the git
//              revision each run ran from);
//   downstream under a data root, the runs that read it, what they wrote,
//              the runs that read that, and every model version registered
//              from any of it (full_lineage then adds deployments and
//              monitor results under each version).
// Every node gets "relation": "input" (it fed its parent) or "output" (its
// parent produced or led to it), so renderers draw every edge downstream.
// The walk is breadth-first over hashes with a node budget: no recursion on
// what records say, and a cycle or a huge history cannot make it run away.
#include "app/lineage_walk.h"

#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "core/hash.h"
#include "data/pointer.h"
#include "pipeline/hashing.h"
#include "pipeline/runs.h"
#include "pipeline/runs_index.h"
#include "registry/registry.h"
#include "repo/repo.h"

namespace mlo::app {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr std::size_t kNodeBudget = 2000;

struct RunFacts {
  std::string id, stage, commit, status;
  double started_at = 0;
  std::vector<std::pair<std::string, std::string>> deps, outs;  // path, sha256
};

// What the walk asks about runs. IndexedRuns answers from the index's
// run_edges (only the runs connected to what is shown are read).
class RunLookup {
 public:
  virtual ~RunLookup() = default;
  virtual const RunFacts* run(const std::string& id) = 0;
  // Runs that read `sha`, newest first, at most kNodeBudget.
  virtual std::vector<const RunFacts*> readers(const std::string& sha) = 0;
  // The newest run that wrote `sha` at `path`, if any. The path matters:
  // a run that wrote the same bytes elsewhere (a model file that is a copy
  // of its data) did not produce this input.
  virtual const RunFacts* producer(const std::string& sha, const std::string& path) = 0;
};

class IndexedRuns : public RunLookup {
 public:
  explicit IndexedRuns(Repo& repo) : db_(runs_db(repo)) {}
  const RunFacts* run(const std::string& id) override {
    if (auto it = cache_.find(id); it != cache_.end()) return it->second ? &*it->second : nullptr;
    auto q = db_.prepare("SELECT stage, status, started_at, git_commit FROM runs WHERE id = ?");
    q.bind(1, id);
    std::optional<RunFacts>& slot = cache_[id];
    if (!q.step()) return nullptr;
    RunFacts f{id, q.text(0), q.text(3), q.text(1), q.real(2), {}, {}};
    auto e = db_.prepare("SELECT dir, path, sha FROM run_edges WHERE run = ? ORDER BY dir, path");
    e.bind(1, id);
    while (e.step()) (e.int64(0) == 0 ? f.deps : f.outs).emplace_back(e.text(1), e.text(2));
    slot = std::move(f);
    return &*slot;
  }
  std::vector<const RunFacts*> readers(const std::string& sha) override {
    std::vector<const RunFacts*> out;
    for (const auto& id : runs_of(sha, 0, nullptr, kNodeBudget))
      if (const RunFacts* r = run(id)) out.push_back(r);
    return out;
  }
  const RunFacts* producer(const std::string& sha, const std::string& path) override {
    auto ids = runs_of(sha, 1, &path, 1);
    return ids.empty() ? nullptr : run(ids[0]);
  }

 private:
  std::vector<std::string> runs_of(const std::string& sha, int dir, const std::string* path, std::size_t limit) {
    auto q = db_.prepare("SELECT DISTINCT runs.id, runs.started_at FROM run_edges e JOIN runs ON runs.id = e.run "
                         "WHERE e.sha = ?1 AND e.dir = ?2 AND (?3 IS NULL OR e.path = ?3) "
                         "ORDER BY runs.started_at DESC, runs.id DESC LIMIT ?4");
    q.bind(1, sha).bind(2, static_cast<std::int64_t>(dir)).bind(4, static_cast<std::int64_t>(limit));
    if (path) q.bind(3, *path);
    else q.bind_null(3);
    std::vector<std::string> out;
    while (q.step()) out.push_back(q.text(0));
    return out;
  }

  Database& db_;
  std::map<std::string, std::optional<RunFacts>> cache_;  // node pointers stay valid as it grows
};

std::unique_ptr<RunLookup> run_lookup(Repo& repo) {
  return std::make_unique<IndexedRuns>(repo);
}

json make_node(const std::string& kind, const std::string& id, const std::string& label, const char* relation) {
  return {{"kind", kind}, {"id", id}, {"label", label}, {"relation", relation}, {"children", json::array()}};
}

std::string short_hash(const std::string& sha) { return sha.substr(0, 12); }

json run_node(const RunFacts& r, const char* relation) {
  std::string label = "run " + r.id + " (stage " + r.stage + (r.status.empty() ? "" : ", " + r.status) +
                      (r.commit.empty() ? "" : ", at " + short_hash(r.commit)) + ")";
  json n = make_node("run", r.id, label, relation);
  n["stage"] = r.stage;
  n["git_commit"] = r.commit;
  return n;
}

json data_node(const std::string& path, const std::string& sha, const char* relation) {
  json n = make_node("data", path, path + " (sha256 " + short_hash(sha) + ")", relation);
  n["sha256"] = sha;
  return n;
}

// A version's registered facts, for matching runs and hashes downstream.
struct VersionFacts {
  std::string id, run, artifact_sha, label;
};

std::vector<VersionFacts> all_versions(Repo& repo) {
  std::vector<VersionFacts> out;
  for (const auto& s : registry::list_models(repo)) {
    registry::ModelState m = registry::load_model(repo, s.value("name", ""));
    for (const auto& v : m.versions) {
      VersionFacts f;
      f.id = m.name + "@" + v.version;
      f.run = v.meta.value("run", "");
      if (v.meta.contains("artifact") && v.meta["artifact"].is_object())
        f.artifact_sha = v.meta["artifact"].value("sha256", "");
      f.label = f.id + (f.artifact_sha.empty() ? "" : " (sha256 " + short_hash(f.artifact_sha) + ")");
      out.push_back(std::move(f));
    }
  }
  return out;
}

class Walker {
 public:
  explicit Walker(Repo& repo) : repo_(repo), runs_(run_lookup(repo)) {}

  // Under every run node that fed a model version (and recursively): each
  // data input gets the run that produced it. A node's children are all
  // appended before pointers to them are queued, so no pointer dangles.
  void extend_upstream(json& root) {
    std::deque<json*> pending{&root};
    while (!pending.empty() && budget_ok()) {
      json& n = *pending.front();
      pending.pop_front();
      if (n["kind"] == "run") expand_run_inputs(n);
      for (auto& c : n["children"])
        if (c.value("relation", "") == "input") pending.push_back(&c);
    }
  }

  // Under a data root: the runs that read it, what they wrote, the runs that
  // read that..., and every version registered from any of it.
  void extend_downstream(json& root, const std::string& sha) {
    // The registry listed readers and writers alike; the walk re-adds readers.
    json kept = json::array();
    for (auto& c : root["children"]) {
      if (c["kind"] == "model_version") present_.insert(c["id"].get<std::string>());
      if (c["kind"] != "run") kept.push_back(std::move(c));
    }
    root["children"] = std::move(kept);
    std::deque<std::pair<json*, std::string>> pending{{&root, sha}};
    std::set<std::string> seen{sha};
    while (!pending.empty() && budget_ok()) {
      auto [node, hash] = pending.front();
      pending.pop_front();
      expand_data(*node, hash);
      for (auto& run : (*node)["children"]) {
        if (run["kind"] != "run") continue;
        for (auto& d : run["children"])
          if (d["kind"] == "data" && seen.insert(d.value("sha256", "")).second) pending.emplace_back(&d, d["sha256"]);
      }
    }
  }

 private:
  bool budget_ok() const { return nodes_ < kNodeBudget; }

  json& add(json& parent, json child) {
    ++nodes_;
    parent["children"].push_back(std::move(child));
    return parent["children"].back();
  }

  void expand_run_inputs(json& run) {
    const RunFacts* found = runs_->run(run["id"].get<std::string>());
    if (!found || !expanded_.insert(found->id).second) return;
    const RunFacts& r = *found;
    run["label"] = run_node(r, "input")["label"];
    run["git_commit"] = r.commit;
    run["stage"] = r.stage;
    std::set<std::string> shown;
    for (auto& c : run["children"])
      if (c["kind"] == "data") shown.insert(c["id"].get<std::string>());
    for (const auto& [path, sha] : r.deps)
      if (!shown.count(path) && budget_ok()) add(run, data_node(path, sha, "input"));
    for (auto& c : run["children"]) {
      if (c["kind"] != "data") continue;
      c["relation"] = "input";
      if (!c.contains("sha256")) c["sha256"] = dep_hash(r, c["id"].get<std::string>());
      const RunFacts* p = runs_->producer(c["sha256"].get<std::string>(), c["id"].get<std::string>());
      if (p && p->id != r.id && !expanded_.count(p->id) && budget_ok()) add(c, run_node(*p, "input"));
    }
  }

  static std::string dep_hash(const RunFacts& r, const std::string& path) {
    for (const auto& [p, sha] : r.deps)
      if (p == path) return sha;
    return "";
  }

  // Versions whose artifact is `hash`, then each run that read it, complete
  // with its outputs and the versions registered from the run.
  void expand_data(json& node, const std::string& hash) {
    for (const auto& v : versions())
      if (v.artifact_sha == hash) add_version(node, v);
    for (const RunFacts* reader : runs_->readers(hash)) {
      if (!budget_ok()) break;
      const RunFacts& r = *reader;
      if (!expanded_.insert(r.id).second) continue;
      json rn = run_node(r, "output");
      for (const auto& [path, sha] : r.outs) {
        rn["children"].push_back(data_node(path, sha, "output"));
        ++nodes_;
      }
      for (const auto& v : versions())
        if (v.run == r.id) add_version(rn, v);
      add(node, std::move(rn));
    }
  }

  void add_version(json& parent, const VersionFacts& v) {
    if (!present_.insert(v.id).second || !budget_ok()) return;
    add(parent, make_node("model_version", v.id, v.label, "output"));
  }

  const std::vector<VersionFacts>& versions() {
    if (!versions_loaded_) versions_ = all_versions(repo_), versions_loaded_ = true;
    return versions_;
  }

  Repo& repo_;
  std::unique_ptr<RunLookup> runs_;
  std::set<std::string> expanded_, present_;
  std::size_t nodes_ = 0;
  std::vector<VersionFacts> versions_;
  bool versions_loaded_ = false;
};

// The content hash a path has now: its pointer's, the file's own, or a
// folder's manifest's (a stage's folder output, as run records name it).
std::string current_hash(Repo& repo, const std::string& rel) {
  fs::path abs = repo.root() / rel;
  if (auto ptr = read_file_if_exists(abs.string() + kPointerSuffix)) return parse_pointer(*ptr, rel + kPointerSuffix).sha256;
  std::error_code ec;
  if (fs::is_regular_file(abs, ec)) return sha256_file(abs);
  if (fs::is_directory(abs, ec))
    if (auto h = make_path_hasher(repo)->hash(rel)) return h->sha256;
  return "";
}

// The registry's tree says nothing about direction; name it per kind pair.
void mark_relations(json& n) {
  for (auto& c : n["children"]) {
    if (!c.contains("relation")) {
      bool feeds = (c["kind"] == "data" || c["kind"] == "run") && (n["kind"] == "model_version" || n["kind"] == "run");
      c["relation"] = feeds ? "input" : "output";
    }
    mark_relations(c);
  }
}

}  // namespace

void extend_lineage(Repo& repo, json& tree) {
  tree["relation"] = "root";
  mark_relations(tree);
  Walker w(repo);
  if (tree["kind"] != "data") {
    w.extend_upstream(tree);
    return;
  }
  std::string sha = current_hash(repo, tree["id"].get<std::string>());
  if (sha.empty()) return;
  tree["sha256"] = sha;
  w.extend_downstream(tree, sha);
}

json lineage_graph(const json& tree) {
  json nodes = json::array(), edges = json::array();
  std::set<std::string> seen_nodes, seen_edges;
  std::deque<const json*> pending{&tree};
  while (!pending.empty()) {
    const json& n = *pending.front();
    pending.pop_front();
    std::string id = n["kind"].get<std::string>() + ":" + n["id"].get<std::string>();
    if (seen_nodes.insert(id).second) {
      json copy = n;
      copy.erase("children");
      copy.erase("relation");
      copy["key"] = id;
      nodes.push_back(std::move(copy));
    }
    for (const auto& c : n["children"]) {
      std::string cid = c["kind"].get<std::string>() + ":" + c["id"].get<std::string>();
      bool input = c.value("relation", "") == "input";
      std::string from = input ? cid : id, to = input ? id : cid;
      if (seen_edges.insert(from + "\n" + to).second) edges.push_back({{"from", from}, {"to", to}});
      pending.push_back(&c);
    }
  }
  return {{"nodes", nodes}, {"edges", edges}};
}

std::string lineage_dot(const json& tree) {
  json g = lineage_graph(tree);
  auto q = [](const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      out += c == '\n' ? ' ' : c;
    }
    return out + "\"";
  };
  std::string o = "digraph lineage {\n  rankdir=LR;\n";
  for (const auto& n : g["nodes"]) {
    std::string kind = n["kind"].get<std::string>();
    std::string shape = kind == "data"             ? "note"
                        : kind == "run"            ? "box"
                        : kind == "model_version"  ? "box3d"
                        : kind == "deployment"     ? "hexagon"
                        : kind == "monitor_result" ? "octagon"
                                                   : "ellipse";
    o += "  " + q(n["key"].get<std::string>()) + " [label=" + q(n.value("label", "")) + ", shape=" + shape + "];\n";
  }
  for (const auto& e : g["edges"])
    o += "  " + q(e["from"].get<std::string>()) + " -> " + q(e["to"].get<std::string>()) + ";\n";
  return o + "}\n";
}

}  // namespace mlo::app
