#include "app/remote_gc.h"

#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "app/gc_roots.h"
#include "core/error.h"
#include "core/format.h"
#include "core/fs.h"
#include "core/process.h"
#include "core/progress.h"
#include "data/manifest.h"
#include "data/tree.h"
#include "pipeline/runs.h"
#include "remote/gc_lock.h"
#include "remote/remotes.h"
#include "remote/run_lists.h"
#include "remote/timestamps.h"
#include "remote/transfer.h"
#include "repo/repo.h"

namespace mlo::app {

using remote::Backend;
using remote::RemoteIndex;

ReferenceScope everything_scope() {
  ReferenceScope s;
  s.workspace = true;
  s.all_commits = true;  // every branch and tag (and HEAD)
  s.remote_branches = true;
  return s;
}

namespace {

std::int64_t newest_mtime(const fs::path& path) {
  std::int64_t newest = 0;
  std::error_code ec;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) newest = st.st_mtime;
  if (!fs::is_directory(path, ec)) return newest;
  for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (::stat(it->path().c_str(), &st) == 0) newest = std::max<std::int64_t>(newest, st.st_mtime);
  return newest;
}

std::string git_output(Repo& repo, std::vector<std::string> args) {
  ProcessSpec spec;
  spec.argv = {"git"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.cwd = repo.root();
  ProcessResult r = run_process(spec);
  return r.ok() ? r.out : std::string();
}

}  // namespace

void check_fetched_recently(Repo& repo, std::int64_t max_age) {
  if (max_age < 0 || git_output(repo, {"remote"}).find_first_not_of(" \n") == std::string::npos) return;
  fs::path common = repo.git().common_dir();
  // git fetch writes FETCH_HEAD; git clone writes the remote branches' reflogs.
  std::int64_t last = std::max(newest_mtime(common / "FETCH_HEAD"), newest_mtime(common / "logs" / "refs" / "remotes"));
  std::int64_t age = remote::unix_now() - last;
  if (age <= max_age) return;
  throw InputError(std::string("gc --remote keeps what every branch and tag needs, but ") +
                       (last ? "the last 'git fetch' was " + std::to_string(age / 3600) + " h ago"
                             : "this clone has never fetched") +
                       ": what teammates pushed since is unknown here",
                   "run 'git fetch --all --tags' first; or pass --no-fetch-check (gc.fetch_max_age in "
                   ".mlo/config.yaml sets how old a fetch may be)");
}

namespace {

void fetch_quietly(Backend& backend, Repo& repo, const fs::path& idx, const std::set<std::string>& hashes,
                   unsigned jobs) {
  if (hashes.empty()) return;
  remote::TransferOptions opts;
  opts.jobs = jobs;
  opts.verb = "fetch";
  remote::fetch_objects(backend, repo.cache(), idx, hashes, opts);
}

// The roots in scope. Folder manifests the cache lacks (a teammate's
// branch never pulled here) are fetched from the remote when it has them,
// then everything is read again: small, and it turns "unknown" into "known".
References collect_with_remote_manifests(Repo& repo, Backend& backend, const fs::path& idx, const RemoteIndex& index,
                                         const ReferenceScope& scope, unsigned jobs) {
  References refs = collect_references(repo, scope, reference_sources());
  std::set<std::string> missing;
  for (const auto& b : refs.broken)
    if (b.kind == BrokenKind::missing_manifest && index.has_object(b.object)) missing.insert(b.object);
  if (missing.empty()) return refs;
  fetch_quietly(backend, repo, idx, missing, jobs);
  return collect_references(repo, scope, reference_sources());
}

// Runs the remote lists (possibly pushed by clones this one has not fetched
// from) keep their records and logs; records are fetched when missing here
// (they are small) to learn their logs.
std::size_t add_remote_runs(Repo& repo, Backend& backend, const fs::path& idx, const RemoteIndex& index,
                            References& refs, unsigned jobs) {
  std::set<std::string> records, absent;
  for (const auto& [id, hash] : remote::remote_runs(backend, idx, jobs)) {
    records.insert(hash);
    refs.add(hash, "run " + id + " (listed on the remote)");
  }
  for (const auto& h : records)
    if (!repo.cache().has(h) && index.has_object(h)) absent.insert(h);
  fetch_quietly(backend, repo, idx, absent, jobs);
  for (const auto& h : records) {
    if (!repo.cache().has(h)) continue;
    auto rec = nlohmann::json::parse(repo.cache().read(h), nullptr, false);
    std::string log = run_log_hash(rec);
    if (!log.empty()) refs.add(log, "log of run " + (rec.is_object() ? rec.value("run_id", std::string("?")) : "?"));
  }
  return records.size();
}

// What one push record names: its objects, and the files of its folder
// manifests that the cache has (on neither side: their files are not on the
// remote either).
void add_record_objects(Repo& repo, const remote::PushRecord& r, const std::string& where, References& refs) {
  for (const auto& h : r.objects) refs.add(h, where);
  for (const auto& m : r.manifests) {
    refs.add(m, where);
    if (repo.cache().has(m)) add_manifest_references(repo, m, where, refs);
  }
}

std::string push_label(const remote::PushRecord& r) { return "a push at " + remote::format_iso8601(r.time); }

// What pushes younger than the grace period counted on (gc_lock.h); the
// others are returned in `expired` (their keys go after the gc). A record
// exactly as old as the grace is expired, as a pack is past it: with
// --grace 0 a push from this very second protects nothing, as git's prune=now.
std::size_t add_push_records(Repo& repo, Backend& backend, const fs::path& idx, const RemoteIndex& index,
                             std::int64_t since, References& refs, std::vector<remote::PushRecord>& expired,
                             unsigned jobs) {
  std::vector<remote::PushRecord> records;
  auto all = remote::read_push_records(backend, 0, nullptr);
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.time < b.time; });
  for (auto& r : all) (r.time <= since ? expired : records).push_back(r);
  std::set<std::string> absent;
  for (const auto& r : records)
    for (const auto& m : r.manifests)
      if (!repo.cache().has(m) && index.has_object(m)) absent.insert(m);
  fetch_quietly(backend, repo, idx, absent, jobs);
  for (const auto& r : records) add_record_objects(repo, r, push_label(r) + " (" + r.key + ")", refs);
  return records.size();
}

// Commits only this clone's reflogs still reach (no branch or tag does),
// newest first: "HASH DATE SUBJECT" lines.
std::vector<std::string> reflog_only_commits(Repo& repo, std::size_t max) {
  std::string out = git_output(repo, {"log", "--reflog", "--not", "--all", "--format=%H %cs %s",
                                      "--max-count=" + std::to_string(max)});
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1)
    if (nl - start > 41) lines.push_back(out.substr(start, nl - start));
  return lines;
}

// Who last needed each blob the plan removes (see LastNeeded), grouped.
std::vector<LastNeeded> last_needed(Repo& repo, const remote::RemoteGcPlan& plan,
                                    const std::vector<remote::PushRecord>& expired) {
  std::map<std::string, std::string> by;  // dead blob -> label
  std::size_t unattributed = 0;
  for (const auto& c : plan.changes) unattributed += c.dead.size();
  for (const auto& line : reflog_only_commits(repo, 40)) {
    if (unattributed == 0) break;
    ReferenceScope one;
    one.workspace = false;
    one.revisions = {line.substr(0, 40)};
    References refs = collect_references(repo, one, reference_sources());
    std::string subject = line.size() > 52 ? line.substr(52, 60) : "";
    std::string label = "commit " + line.substr(0, 7) + " (" + line.substr(41, 10) + ", \"" + subject +
                        "\"; on no branch or tag)";
    for (const auto& c : plan.changes)
      for (const auto& b : c.dead)
        if (refs.needs(b.hash) && by.emplace(b.hash, label).second) --unattributed;
  }
  for (auto r = expired.rbegin(); r != expired.rend() && unattributed > 0; ++r) {
    References refs;
    add_record_objects(repo, *r, "", refs);
    for (const auto& c : plan.changes)
      for (const auto& b : c.dead)
        if (refs.needs(b.hash) && by.emplace(b.hash, push_label(*r)).second) --unattributed;
  }
  std::map<std::string, LastNeeded> groups;
  for (const auto& c : plan.changes)
    for (const auto& b : c.dead) {
      auto it = by.find(b.hash);
      LastNeeded& g = groups[it == by.end() ? "never referenced" : it->second];
      g.by = it == by.end() ? "never referenced" : it->second;
      ++g.blobs;
      g.bytes += b.length;
    }
  std::vector<LastNeeded> out;
  for (auto& [label, g] : groups) out.push_back(std::move(g));
  std::stable_sort(out.begin(), out.end(), [](const LastNeeded& a, const LastNeeded& b) { return a.bytes > b.bytes; });
  return out;
}

std::string describe_broken(const References& refs) {
  std::string out = refs.broken.front().message;
  if (refs.broken.size() > 1) out += " (and " + std::to_string(refs.broken.size() - 1) + " more)";
  return out;
}

// Narrow scope: the blobs that go which the default scope would keep.
std::vector<StillNeeded> still_needed(Repo& repo, const remote::RemoteGcPlan& plan) {
  HashSet dead;
  for (const auto& c : plan.changes)
    for (const auto& b : c.dead) dead.insert(b.hash);
  const auto wide = label_references(repo, everything_scope(), reference_sources(), dead);
  std::vector<StillNeeded> out;
  for (const auto& c : plan.changes)
    for (const auto& b : c.dead) {
      auto it = wide.find(b.hash);
      if (it != wide.end()) out.push_back({b.hash, it->second});
    }
  return out;
}

}  // namespace

RemoteGcReport remote_gc(Repo& repo, const RemoteGcRequest& request,
                         const std::function<bool(const RemoteGcReport&)>& confirm) {
  RemoteGcReport report;
  report.scope = request.narrow ? request.scope : everything_scope();
  if (!request.narrow) check_fetched_recently(repo, request.fetch_max_age);
  remote::RemoteConfig rc;
  auto backend = remote::open_remote(repo, request.remote, &rc);
  report.remote = rc.name;
  std::int64_t now = remote::unix_now();
  std::optional<remote::GcLock> lock;
  if (!request.dry_run) lock.emplace(*backend, now);

  fs::path idx = remote::index_cache_dir(repo.cache_dir(), rc.url);
  std::optional<ProgressPhase> phase(std::in_place, "reading the remote's pack indexes", 0, 0, "");
  RemoteIndex index = RemoteIndex::load(*backend, idx, request.jobs);
  phase.reset();
  report.refs = collect_with_remote_manifests(repo, *backend, idx, index, report.scope, request.jobs);
  report.remote_runs = add_remote_runs(repo, *backend, idx, index, report.refs, request.jobs);
  std::vector<remote::PushRecord> expired;
  report.push_records = add_push_records(repo, *backend, idx, index, now - request.grace_seconds, report.refs,
                                         expired, request.jobs);
  for (const auto& r : expired) report.expired_push_records.push_back(r.key);
  if (!report.refs.broken.empty() && !request.skip_broken)
    throw InputError("cannot tell what the remote must keep: " + describe_broken(report.refs),
                     "fix or fetch what is missing ('mlo pull'), or pass --skip-broken to remove anyway");

  remote::RemoteGcOptions opts;
  opts.grace_seconds = request.grace_seconds;
  opts.jobs = request.jobs;
  const References& refs = report.refs;
  phase.emplace("planning what the remote can drop", 0, 0, "");
  refs.objects.sorted();  // once, before the plan's reads
  report.plan = remote::plan_remote_gc(*backend, index, [&](const std::string& h) { return refs.needs(h); }, opts, now);
  if (request.narrow && !report.plan.changes.empty()) report.still_needed = still_needed(repo, report.plan);
  if (!request.narrow && !report.plan.changes.empty()) report.last_needed = last_needed(repo, report.plan, expired);
  phase.reset();  // before confirm() asks on the terminal
  if (request.dry_run || !confirm(report)) return report;
  phase.emplace("rewriting packs and removing objects on the remote", 0, 0, "");
  report.done = remote::apply_remote_gc(*backend, report.plan, now);
  for (const auto& key : report.expired_push_records) backend->remove(key);
  phase.reset();
  report.applied = true;
  return report;
}

namespace {
// Opens the remote and, unless dry_run, holds its gc lock while `op` runs.
remote::TrashResult on_trash(Repo& repo, const std::string& remote, bool dry_run, std::string* remote_name,
                             const std::function<remote::TrashResult(Backend&)>& op) {
  remote::RemoteConfig rc;
  auto backend = remote::open_remote(repo, remote, &rc);
  if (remote_name) *remote_name = rc.name;
  std::optional<remote::GcLock> lock;
  if (!dry_run) lock.emplace(*backend, remote::unix_now());
  return op(*backend);
}
}  // namespace

remote::TrashResult restore_remote_trash(Repo& repo, const std::string& remote, std::int64_t since, bool dry_run,
                                         std::string* remote_name) {
  return on_trash(repo, remote, dry_run, remote_name,
                  [&](Backend& b) { return remote::restore_trash(b, since, dry_run); });
}

remote::TrashResult empty_remote_trash(Repo& repo, const std::string& remote, std::int64_t before, bool dry_run,
                                       const remote::TrashConfirm& confirm, std::string* remote_name) {
  return on_trash(repo, remote, dry_run, remote_name,
                  [&](Backend& b) { return remote::empty_trash(b, before, dry_run, confirm); });
}

}  // namespace mlo::app
