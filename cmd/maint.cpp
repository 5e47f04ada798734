// Cache and repository maintenance: mlo gc, mlo fsck, mlo doctor, mlo index.
#include <cstdio>

#include "app/doctor.h"
#include "app/gc_roots.h"
#include "app/index_rebuild.h"
#include "command.h"
#include "remote_check.h"
#include "core/format.h"
#include "remote/gc.h"
#include "core/parallel.h"
#include "data/gc.h"

namespace mlo::cli {
namespace {

nlohmann::json broken_json(const std::vector<BrokenReference>& broken) {
  auto a = nlohmann::json::array();
  for (const auto& b : broken)
    a.push_back({{"kind", to_string(b.kind)}, {"where", b.where}, {"object", b.object}, {"message", b.message}});
  return a;
}

struct ScopeFlags {
  bool all_branches = false, all_tags = false, all_commits = false;
  std::vector<std::string> revs;
  void add_to(CLI::App* cmd, const std::string& what) {
    cmd->add_flag("--all-branches", all_branches, "Also " + what + " the tip of every local branch");
    cmd->add_flag("--all-tags", all_tags, "Also " + what + " every tag");
    cmd->add_flag("--all-commits", all_commits, "Also " + what + " every commit reachable from a branch, tag or HEAD");
    cmd->add_option("--rev", revs, "Also " + what + " this revision (repeatable)");
  }
  ReferenceScope scope() const {
    ReferenceScope s;
    s.all_branches = all_branches;
    s.all_tags = all_tags;
    s.all_commits = all_commits;
    s.revisions = revs;
    return s;
  }
  nlohmann::json json() const {
    return {{"workspace", true}, {"all_branches", all_branches}, {"all_tags", all_tags},
            {"all_commits", all_commits}, {"revisions", revs}};
  }
};

// mlo gc --remote NAME (lib/remote/gc.h). The grace period defaults to 24 h
// there: a push in another clone may be about to reference old blobs.
void run_remote_gc(Context& ctx, const ReferenceScope& scope, const std::string& remote, std::string grace,
                   bool grace_given, bool dry_run, bool skip_broken) {
  remote::RemoteGcOptions opts;
  opts.remote = remote;
  opts.scope = scope;
  opts.extra_sources = app::reference_sources();
  opts.grace_seconds = grace_given ? parse_duration_seconds(grace, "--grace") : 24 * 3600;
  opts.dry_run = dry_run;
  opts.skip_broken = skip_broken;
  remote::RemoteGcResult r = remote::remote_gc(ctx.repo(), opts);
  if (ctx.global.json) {
    ctx.print_json({{"remote", r.remote}, {"dry_run", r.dry_run}, {"grace_seconds", opts.grace_seconds},
                    {"packs", r.packs}, {"packs_recent", r.packs_recent}, {"removed_packs", r.removed_packs},
                    {"rewritten_packs", r.rewritten_packs}, {"blobs_removed", r.blobs_removed},
                    {"bytes_removed", r.bytes_removed}, {"blobs_kept", r.blobs_kept},
                    {"skipped_broken", broken_json(r.refs.broken)}});
    return;
  }
  if (ctx.global.quiet) return;
  for (const auto& b : r.refs.broken) std::cerr << "warning: skipped: " << b.message << "\n";
  std::cout << (r.dry_run ? "Would remove " : "Removed ") << r.blobs_removed << " blob(s) ("
            << human_bytes(r.bytes_removed) << ") from remote '" << r.remote << "': " << r.removed_packs.size()
            << " pack(s) deleted, " << r.rewritten_packs.size() << " rewritten; kept " << r.blobs_kept
            << " blob(s)";
  if (r.packs_recent) std::cout << " (" << r.packs_recent << " pack(s) newer than the grace period untouched)";
  std::cout << ".\n";
}

void register_gc(CLI::App& app, Context& ctx) {
  struct Opts {
    ScopeFlags scope;
    std::string grace = "1h";
    bool dry_run = false;
    bool skip_broken = false;
    std::string remote;  // --remote NAME: collect garbage on a remote instead
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = add_command(app, "gc");
  cmd->add_option("--remote", o->remote, "Remove from remote NAME what no kept revision needs (see man mlo-remote)");
  o->scope.add_to(cmd, "keep what is needed by");
  cmd->add_option("--grace", o->grace, "Keep objects stored less than this long ago (default 1h; 0 keeps none)");
  cmd->add_flag("-n,--dry-run", o->dry_run, "List what would be deleted; delete nothing");
  cmd->add_flag("--skip-broken", o->skip_broken,
                "Delete even when some pointers or manifests can not be read (their files are not protected)");
  ctx.on_run(cmd, [&ctx, o, cmd] {
    if (!o->remote.empty())
      return run_remote_gc(ctx, o->scope.scope(), o->remote, o->grace, cmd->count("--grace") > 0, o->dry_run,
                           o->skip_broken);
    GcOptions opts;
    opts.scope = o->scope.scope();
    opts.extra_sources = app::reference_sources();
    opts.grace_seconds = parse_duration_seconds(o->grace, "--grace");
    opts.dry_run = o->dry_run;
    opts.skip_broken = o->skip_broken;
    GcResult r = collect_garbage(ctx.repo(), opts);
    if (ctx.global.json) {
      auto removed = nlohmann::json::array();
      for (const auto& x : r.removed) removed.push_back({{"hash", x.hash}, {"size", x.size}});
      ctx.print_json({{"dry_run", r.dry_run},
                      {"scope", o->scope.json()},
                      {"grace_seconds", opts.grace_seconds},
                      {"removed", removed},
                      {"removed_count", r.removed.size()},
                      {"removed_bytes", r.removed_bytes},
                      {"kept", r.kept},
                      {"kept_recent", r.kept_recent},
                      {"kept_recent_bytes", r.kept_recent_bytes},
                      {"temp_files", r.temp_files},
                      {"pointers", r.refs.pointers},
                      {"revisions", r.refs.revisions},
                      {"skipped_broken", broken_json(r.refs.broken)}});
      return;
    }
    if (ctx.global.quiet) return;
    for (const auto& b : r.refs.broken) std::cerr << "warning: skipped: " << b.message << "\n";
    if (r.dry_run || ctx.global.verbose)
      for (const auto& x : r.removed)
        std::cout << (r.dry_run ? "would remove " : "removed ") << x.hash << " (" << human_bytes(x.size) << ")\n";
    std::string verb = r.dry_run ? "Would remove " : "Removed ";
    std::cout << verb << r.removed.size() << " object" << (r.removed.size() == 1 ? "" : "s") << " ("
              << human_bytes(r.removed_bytes) << "); kept " << r.kept << " needed";
    if (r.kept_recent)
      std::cout << " and " << r.kept_recent << " stored within the last " << o->grace << " ("
                << human_bytes(r.kept_recent_bytes) << ")";
    std::cout << ".\n";
    if (r.temp_files)
      std::cout << (r.dry_run ? "Would remove " : "Removed ") << r.temp_files << " stale temp file(s).\n";
  });
}

void register_fsck(CLI::App& app, Context& ctx) {
  struct Opts {
    ScopeFlags scope;
    bool repair = false;
    unsigned jobs = 0;
    std::string remote;  // --remote NAME: check the remote end to end instead of the cache
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = add_command(app, "fsck");
  cmd->add_option("--remote", o->remote,
                  "Check remote NAME instead of the cache: every object the tracked data needs is downloaded and "
                  "hashed")
      ->type_name("NAME");
  o->scope.add_to(cmd, "check the objects needed by");
  cmd->add_flag("--repair", o->repair, "Move damaged objects to .mlo/cache/corrupt/ (nothing is deleted)");
  cmd->add_option("-j,--jobs", o->jobs, "Hashing threads (default: MLO_JOBS or the number of cores)")
      ->check(CLI::PositiveNumber);
  ctx.on_run(cmd, [&ctx, o] {
    if (!o->remote.empty()) {
      if (o->repair)
        throw UsageError("mlo fsck --remote changes nothing on the remote, so --repair does not apply",
                         "run 'mlo push' from a clone that has the data to repair the remote");
      remote::SyncRequest req;
      req.remote = o->remote;
      req.jobs = o->jobs;
      report_remote_check(ctx, remote::check_remote(ctx.repo(), req), ctx.global.json);
      return;
    }
    FsckOptions opts;
    opts.scope = o->scope.scope();
    opts.extra_sources = app::reference_sources();
    opts.repair = o->repair;
    opts.jobs = o->jobs;
    FsckResult r = fsck(ctx.repo(), opts);
    if (!r.ok()) ctx.exit_code = 1;
    if (ctx.global.json) {
      auto corrupt = nlohmann::json::array();
      for (const auto& c : r.corrupt)
        corrupt.push_back({{"hash", c.hash}, {"size", c.size}, {"actual", c.actual}, {"error", c.error},
                           {"needed_by", c.needed_by}, {"moved_to", c.moved_to}});
      auto missing = nlohmann::json::array();
      for (const auto& m : r.missing) missing.push_back({{"hash", m.hash}, {"needed_by", m.needed_by}});
      ctx.print_json({{"ok", r.ok()},
                      {"objects", r.objects},
                      {"bytes", r.bytes},
                      {"pointers", r.pointers},
                      {"corrupt", corrupt},
                      {"missing", missing},
                      {"broken", broken_json(r.broken)},
                      {"unreferenced", r.unreferenced}});
      return;
    }
    for (const auto& c : r.corrupt) {
      std::cout << ctx.paint("corrupt", "red") << " " << c.hash;
      if (!c.error.empty()) std::cout << ": " << c.error;
      else std::cout << ": its bytes hash to " << c.actual;
      if (!c.needed_by.empty()) std::cout << " (needed by " << c.needed_by << ")";
      std::cout << "\n";
      if (!c.moved_to.empty()) std::cout << "  moved to " << c.moved_to << "\n";
    }
    for (const auto& m : r.missing)
      std::cout << ctx.paint("missing", "red") << " " << m.hash << " (needed by " << m.needed_by << ")\n";
    for (const auto& b : r.broken) std::cout << ctx.paint("broken", "red") << " " << b.message << "\n";
    if (ctx.global.quiet) return;
    std::cout << "Checked " << r.objects << " object" << (r.objects == 1 ? "" : "s") << " (" << human_bytes(r.bytes)
              << ") and " << r.pointers << " pointer file(s): ";
    if (r.ok()) {
      std::cout << "no problems.\n";
    } else {
      std::cout << r.corrupt.size() << " corrupt, " << r.missing.size() << " missing, " << r.broken.size()
                << " unreadable.\n";
      if (!r.corrupt.empty() && !o->repair)
        std::cout << "hint: 'mlo fsck --repair' moves damaged objects aside; then 'mlo pull' or 'mlo data add' "
                     "restores them\n";
      else if (!r.missing.empty())
        std::cout << "hint: 'mlo pull' fetches missing objects from a remote; 'mlo data commit PATH' stores them "
                     "again if the workspace still has the files\n";
    }
    if (r.unreferenced && ctx.global.verbose)
      std::cout << r.unreferenced << " object(s) are not needed by the work tree ('mlo gc' removes them).\n";
  });
}

void register_doctor(CLI::App& app, Context& ctx) {
  auto* cmd = add_command(app, "doctor");
  ctx.on_run(cmd, [&ctx] {
    app::DoctorReport r = app::run_doctor(".");
    r.versions.emplace_back("cli11", CLI11_VERSION);
    if (!r.ok()) ctx.exit_code = 1;
    if (ctx.global.json) {
      nlohmann::json versions = nlohmann::json::object();
      for (const auto& [k, v] : r.versions) versions[k] = v;
      auto links = nlohmann::json::array();
      for (const auto& l : r.link_modes)
        links.push_back({{"mode", to_string(l.mode)}, {"works", l.works}, {"detail", l.detail}});
      auto checks = nlohmann::json::array();
      for (const auto& c : r.checks)
        checks.push_back({{"name", c.name}, {"level", app::to_string(c.level)}, {"detail", c.detail}, {"hint", c.hint}});
      ctx.print_json({{"ok", r.ok()},
                      {"versions", versions},
                      {"root", r.root},
                      {"mlo_repo", r.mlo_repo},
                      {"filesystem", r.filesystem},
                      {"probe", {{"from", r.probe_from}, {"to", r.probe_to}}},
                      {"link_modes", links},
                      {"configured_link", r.configured_link},
                      {"effective_link", r.effective_link},
                      {"checks", checks}});
      return;
    }
    std::cout << "Versions:\n";
    for (const auto& [k, v] : r.versions) std::printf("  %-14s %s\n", k.c_str(), v.c_str());
    if (!r.link_modes.empty()) {
      std::cout << "Link modes (" << r.probe_from << " -> " << r.probe_to << ", " << r.filesystem << "):\n";
      for (const auto& l : r.link_modes)
        std::printf("  %-9s %s%s%s\n", to_string(l.mode).c_str(), l.works ? "yes" : "no ",
                    l.detail.empty() ? "" : "  ", l.detail.c_str());
    }
    std::cout << "Checks:\n";
    for (const auto& c : r.checks) {
      std::string level = app::to_string(c.level);
      std::string colour = c.level == app::CheckLevel::fail ? "red" : c.level == app::CheckLevel::warn ? "yellow" : "green";
      std::string pad(level.size() < 5 ? 5 - level.size() : 0, ' ');
      std::cout << "  " << ctx.paint(level, colour) << pad << " " << c.name << ": " << c.detail << "\n";
      if (!c.hint.empty() && c.level != app::CheckLevel::ok) std::cout << "        hint: " << c.hint << "\n";
    }
  });
}

void register_index(CLI::App& app, Context& ctx) {
  auto* index = add_command(app, "index");
  index->require_subcommand(1);
  auto* rebuild = add_command(*index, "rebuild", "Recreate .mlo/index.db from git and the cache");
  ctx.on_run(rebuild, [&ctx] {
    app::IndexRebuildResult r = app::rebuild_index(ctx.repo());
    if (ctx.global.json) {
      ctx.print_json({{"path", r.path}, {"previous", r.previous}, {"modules", r.modules}});
      return;
    }
    if (ctx.global.quiet) return;
    std::cout << "Rebuilt " << r.path << " (the old index was " << r.previous << ")";
    if (!r.modules.empty()) {
      std::cout << ": ";
      for (size_t i = 0; i < r.modules.size(); ++i) std::cout << (i ? ", " : "") << r.modules[i];
    }
    std::cout << ".\n";
  });
  auto* status = add_command(*index, "status", "Show the index's size, health, schema versions and tables");
  ctx.on_run(status, [&ctx] {
    app::IndexStatus s = app::index_status(ctx.repo());
    if (s.exists && !s.healthy) ctx.exit_code = 1;
    if (ctx.global.json) {
      nlohmann::json modules = nlohmann::json::object();
      for (const auto& [m, v] : s.modules) modules[m] = v;
      auto tables = nlohmann::json::array();
      for (const auto& t : s.tables) tables.push_back({{"name", t.name}, {"rows", t.rows}});
      ctx.print_json({{"path", s.path}, {"exists", s.exists}, {"bytes", s.bytes}, {"healthy", s.healthy},
                      {"problem", s.problem}, {"modules", modules}, {"tables", tables}});
      return;
    }
    std::cout << s.path << ": ";
    if (!s.exists) std::cout << s.problem << "\n";
    else if (!s.healthy)
      std::cout << ctx.paint("damaged", "red") << ": " << s.problem << "\nhint: run 'mlo index rebuild'\n";
    else {
      std::cout << human_bytes(s.bytes) << ", healthy\n";
      for (const auto& [m, v] : s.modules) std::printf("  module %-12s schema v%d\n", m.c_str(), v);
      for (const auto& t : s.tables) std::printf("  table  %-24s %lld rows\n", t.name.c_str(), static_cast<long long>(t.rows));
    }
  });
}

void register_maintenance(CLI::App& app, Context& ctx) {
  register_gc(app, ctx);
  register_fsck(app, ctx);
  register_doctor(app, ctx);
  register_index(app, ctx);
}

}  // namespace
MLO_REGISTER_COMMANDS(90, register_maintenance,
                      {"gc", "Delete cache objects that no pointer file needs"},
                      {"fsck", "Re-hash every cached object; report damaged and missing ones"},
                      {"doctor", "Show versions, link modes that work here, and repository health"},
                      {"index", "Inspect or rebuild the local SQLite index (.mlo/index.db)"});
}  // namespace mlo::cli
