#include "app/remote_gc.h"

#include <sys/stat.h>

#include <ctime>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "app/gc_roots.h"
#include "core/error.h"
#include "core/format.h"
#include "core/fs.h"
#include "core/process.h"
#include "data/manifest.h"
#include "pipeline/runs.h"
#include "remote/gc_lock.h"
#include "remote/remotes.h"
#include "remote/run_lists.h"
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

std::string iso_utc(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  struct tm tm = {};
  char buf[32] = "?";
  if (::gmtime_r(&tt, &tm)) std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
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

// What pushes younger than the grace period counted on (gc_lock.h).
std::size_t add_push_records(Repo& repo, Backend& backend, const fs::path& idx, const RemoteIndex& index,
                             std::int64_t since, References& refs, std::vector<std::string>& expired, unsigned jobs) {
  auto records = remote::read_push_records(backend, since, &expired);
  std::set<std::string> absent;
  for (const auto& r : records)
    for (const auto& m : r.manifests)
      if (!repo.cache().has(m) && index.has_object(m)) absent.insert(m);
  fetch_quietly(backend, repo, idx, absent, jobs);
  for (const auto& r : records) {
    std::string where = "a push at " + iso_utc(r.time) + " (" + r.key + ")";
    for (const auto& h : r.objects) refs.add(h, where);
    for (const auto& m : r.manifests) {
      refs.add(m, where);
      if (!repo.cache().has(m)) continue;  // on neither side: its files are not on the remote either
      try {
        for (const auto& e : parse_manifest(repo.cache().read(m), "manifest " + m).entries) refs.add(e.sha256, where);
      } catch (const Error& e) {
        refs.broken.push_back({BrokenKind::bad_manifest, where, m, e.what()});
      }
    }
  }
  return records.size();
}

std::string describe_broken(const References& refs) {
  std::string out = refs.broken.front().message;
  if (refs.broken.size() > 1) out += " (and " + std::to_string(refs.broken.size() - 1) + " more)";
  return out;
}

// Narrow scope: the blobs that go which the default scope would keep.
std::vector<StillNeeded> still_needed(Repo& repo, const remote::RemoteGcPlan& plan) {
  References wide = collect_references(repo, everything_scope(), reference_sources());
  std::vector<StillNeeded> out;
  for (const auto& c : plan.changes)
    for (const auto& b : c.dead) {
      auto it = wide.objects.find(b.hash);
      if (it != wide.objects.end()) out.push_back({b.hash, it->second});
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
  RemoteIndex index = RemoteIndex::load(*backend, idx, request.jobs);
  report.refs = collect_with_remote_manifests(repo, *backend, idx, index, report.scope, request.jobs);
  report.remote_runs = add_remote_runs(repo, *backend, idx, index, report.refs, request.jobs);
  report.push_records = add_push_records(repo, *backend, idx, index, now - request.grace_seconds, report.refs,
                                         report.expired_push_records, request.jobs);
  if (!report.refs.broken.empty() && !request.skip_broken)
    throw InputError("cannot tell what the remote must keep: " + describe_broken(report.refs),
                     "fix or fetch what is missing ('mlo pull'), or pass --skip-broken to remove anyway");

  remote::RemoteGcOptions opts;
  opts.grace_seconds = request.grace_seconds;
  opts.jobs = request.jobs;
  const References& refs = report.refs;
  report.plan = remote::plan_remote_gc(*backend, index, [&](const std::string& h) { return refs.needs(h); }, opts, now);
  if (request.narrow && !report.plan.changes.empty()) report.still_needed = still_needed(repo, report.plan);
  if (request.dry_run || !confirm(report)) return report;
  report.done = remote::apply_remote_gc(*backend, report.plan, now);
  for (const auto& key : report.expired_push_records) backend->remove(key);
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
                                       std::string* remote_name) {
  return on_trash(repo, remote, dry_run, remote_name,
                  [&](Backend& b) { return remote::empty_trash(b, before, dry_run); });
}

}  // namespace mlo::app
