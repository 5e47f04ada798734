// Cache and repository maintenance: mlo gc, mlo fsck, mlo doctor, mlo index.
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <iostream>

#include "app/doctor.h"
#include "app/gc_roots.h"
#include "app/index_rebuild.h"
#include "command.h"
#include "remote_check.h"
#include "core/format.h"
#include "app/remote_gc.h"
#include "remote/gc_lock.h"
#include "remote/timestamps.h"
#include "core/parallel.h"
#include "core/parse.h"
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
  bool workspace_only = false, all_branches = false, all_tags = false, all_commits = false;
  std::vector<std::string> revs;
  void add_to(CLI::App* cmd, const std::string& what) {
    cmd->add_flag("--all-branches", all_branches, "Also " + what + " the tip of every local branch");
    cmd->add_flag("--all-tags", all_tags, "Also " + what + " every tag");
    cmd->add_flag("--all-commits", all_commits, "Also " + what + " every commit reachable from a branch, tag or HEAD");
    cmd->add_option("--rev", revs, "Also " + what + " this revision (repeatable)");
  }
  // Any scope flag given (gc --remote then keeps only that scope).
  bool given() const { return workspace_only || all_branches || all_tags || all_commits || !revs.empty(); }
  ReferenceScope scope() const {
    ReferenceScope s;
    s.all_branches = all_branches;
    s.all_tags = all_tags;
    s.all_commits = all_commits;
    s.revisions = revs;
    return s;
  }
  nlohmann::json json() const { return scope_json(scope()); }
  static nlohmann::json scope_json(const ReferenceScope& s) {
    return {{"workspace", s.workspace}, {"all_branches", s.all_branches}, {"all_tags", s.all_tags},
            {"all_commits", s.all_commits}, {"remote_branches", s.remote_branches}, {"revisions", s.revisions}};
  }
};

struct GcArgs {
  ScopeFlags scope;
  std::string grace = "1h";
  bool dry_run = false, skip_broken = false;
  std::string remote;  // --remote NAME: collect garbage on a remote instead
  bool yes = false, no_fetch_check = false, restore = false, empty_trash = false;
  std::string since, retention;
};

// A duration from a flag, else from config, else `fallback`.
std::int64_t duration_setting(Context& ctx, const std::string& flag_value, const std::string& option,
                              const std::string& key, const std::string& fallback) {
  if (!flag_value.empty()) return parse_duration_seconds(flag_value, option);
  std::string v = ctx.repo().config().get_or(key, fallback);
  return parse_duration_seconds(v, ".mlo/config.yaml: " + key);
}

// --since: a duration back from now ("2h") or a UTC date ("2026-12-01", "2026-12-01T10:00").
std::int64_t parse_since(const std::string& text) {
  if (text.empty()) return 0;
  for (const char* format : {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"}) {
    struct tm tm = {};
    const char* end = ::strptime(text.c_str(), format, &tm);
    if (end && *end == '\0') return ::timegm(&tm);
  }
  std::int64_t ago = 0;
  try {
    ago = parse_duration_seconds(text, "--since");
  } catch (const UsageError&) {
    throw UsageError("--since: '" + text + "' is neither a duration nor a date",
                     "use a duration back from now (30m, 2h, 3d) or a UTC date (2026-12-01, 2026-12-01T10:00)");
  }
  return remote::unix_now() - ago;
}

nlohmann::json trash_json(const std::string& remote, const remote::TrashResult& t, bool dry_run, bool applied) {
  auto batches = nlohmann::json::array();
  for (const auto& b : t.chosen)
    batches.push_back({{"name", b.name}, {"time", b.time}, {"packs", b.packs.size()}, {"bytes", b.bytes}});
  return {{"remote", remote}, {"dry_run", dry_run}, {"applied", applied}, {"batches", t.batches},
          {"packs", t.packs}, {"bytes", t.bytes}, {"batch_list", batches}};
}

// One line a trash batch: when it was moved, what it holds.
void print_trash_batches(std::ostream& out, const remote::TrashResult& t) {
  for (const auto& b : t.chosen)
    out << "  " << remote::format_iso8601(b.time) << "  " << b.name << "  " << b.packs.size() << " pack(s), "
        << human_bytes(b.bytes) << "\n";
}

// Asks on a terminal; refuses (exit 2) where nobody can answer.
bool can_ask() { return ::isatty(0) && ::isatty(2); }

bool ask_yes(const std::string& question) {
  std::cerr << question << " [y/N] " << std::flush;
  std::string answer;
  std::getline(std::cin, answer);
  return answer == "y" || answer == "Y" || answer == "yes";
}

void refuse_without_terminal(const GcArgs& a, const std::string& what, const std::string& dry_run_command) {
  if (a.dry_run || a.yes || can_ask()) return;
  throw UsageError(what + " changes a shared remote, and there is no terminal to ask for confirmation",
                   "see what would go with '" + dry_run_command + " --dry-run', then add --yes");
}

void run_trash_command(Context& ctx, const GcArgs& a) {
  std::string name;
  if (a.restore) {
    auto t = app::restore_remote_trash(ctx.repo(), a.remote, parse_since(a.since), a.dry_run, &name);
    if (ctx.global.json) return ctx.print_json(trash_json(name, t, a.dry_run, !a.dry_run));
    if (a.dry_run && !ctx.global.quiet) print_trash_batches(std::cout, t);
    if (!ctx.global.quiet)
      std::cout << (a.dry_run ? "Would restore " : "Restored ") << t.packs << " pack(s) (" << human_bytes(t.bytes)
                << ") from " << t.batches << " trash batch(es) of remote '" << name << "'.\n";
    return;
  }
  std::string shown = a.retention.empty() ? ctx.repo().config().get_or("gc.trash_retention", "7d") : a.retention;
  refuse_without_terminal(a, "gc --empty-trash", "mlo gc --remote " + a.remote + " --empty-trash");
  std::int64_t retention = duration_setting(ctx, a.retention, "--retention", "gc.trash_retention", "7d");
  bool applied = !a.dry_run;
  auto confirm = [&](const remote::TrashResult& t) {
    if (a.yes) return true;
    std::cerr << "remote '" << (a.remote.empty() ? std::string("(default)") : a.remote) << "': " << t.packs
              << " pack(s) (" << human_bytes(t.bytes) << ") in " << t.batches
              << " trash batch(es) older than " << shown << " would be deleted for good:\n";
    print_trash_batches(std::cerr, t);
    return applied = ask_yes("They can not be restored afterwards. Go on?");
  };
  auto t = app::empty_remote_trash(ctx.repo(), a.remote, remote::unix_now() - retention, a.dry_run, confirm, &name);
  applied = applied && t.batches > 0;
  if (ctx.global.json) return ctx.print_json(trash_json(name, t, a.dry_run, applied));
  if (ctx.global.quiet) return;
  if (a.dry_run) print_trash_batches(std::cout, t);
  if (!a.dry_run && !applied && t.batches > 0) {
    std::cout << "Nothing changed on remote '" << name << "'.\n";
    return;
  }
  std::cout << (a.dry_run ? "Would delete " : "Deleted ") << t.packs << " pack(s) (" << human_bytes(t.bytes)
            << ") for good: " << t.batches << " trash batch(es) of remote '" << name << "' older than " << shown
            << ".\n";
}

// S3 versioning keeps what is deleted anyway: worth saying (man mlo-gc).
void print_versioning(std::ostream& out, const app::RemoteGcReport& r) {
  if (r.plan.versioning == remote::Versioning::enabled)
    out << "Bucket versioning is on: besides the trash, S3 keeps every deleted object as an old version "
           "(a delete marker on top) until a lifecycle rule expires it.\n";
  else if (r.plan.versioning == remote::Versioning::suspended)
    out << "Bucket versioning is suspended: objects deleted now are not kept as old versions (the trash is).\n";
}

constexpr std::size_t kLastNeededShown = 5;  // a summary a person reads; --json gives 20

// Who last needed what goes: the biggest groups, then one line for the rest.
void print_last_needed(std::ostream& out, const std::vector<app::LastNeeded>& groups) {
  if (groups.empty()) return;
  out << "Last needed by:\n";
  std::size_t blobs = 0;
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    if (i < kLastNeededShown) {
      out << "  " << groups[i].blobs << " blob(s), " << human_bytes(groups[i].bytes) << ": " << groups[i].by << "\n";
      continue;
    }
    blobs += groups[i].blobs;
    bytes += groups[i].bytes;
  }
  if (groups.size() > kLastNeededShown)
    out << "  and " << groups.size() - kLastNeededShown << " more: " << blobs << " blob(s), " << human_bytes(bytes)
        << "\n";
}

nlohmann::json last_needed_json(const std::vector<app::LastNeeded>& groups, std::size_t shown) {
  auto top = nlohmann::json::array();
  nlohmann::json more = {{"groups", 0}, {"blobs", 0}, {"bytes", 0}};
  for (std::size_t i = 0; i < groups.size(); ++i) {
    if (i < shown) {
      top.push_back({{"by", groups[i].by}, {"blobs", groups[i].blobs}, {"bytes", groups[i].bytes}});
      continue;
    }
    more["groups"] = more["groups"].get<std::size_t>() + 1;
    more["blobs"] = more["blobs"].get<std::size_t>() + groups[i].blobs;
    more["bytes"] = more["bytes"].get<std::uint64_t>() + groups[i].bytes;
  }
  return {{"top", top}, {"more", more}};
}

// What would go, for a person deciding: counts, and the roots outside a narrow scope that still need some of it.
void print_remote_summary(std::ostream& out, const app::RemoteGcReport& r) {
  const auto& p = r.plan;
  std::size_t whole = 0;
  for (const auto& c : p.changes) whole += c.keep.empty();
  out << "remote '" << r.remote << "': " << p.blobs_removed() << " blob(s) (" << human_bytes(p.bytes_removed())
      << ") in " << p.changes.size() << " pack(s) are needed by nothing in scope (" << whole << " pack(s) go whole, "
      << p.changes.size() - whole << " rewritten)";
  if (!p.debris.empty()) out << "; " << p.debris.size() << " leftover(s) of killed pushes";
  if (!p.stale_uploads.empty()) out << "; " << p.stale_uploads.size() << " abandoned multipart upload(s) to abort";
  out << ".\n";
  print_versioning(out, r);
  if (!r.still_needed.empty()) {
    out << "warning: " << r.still_needed.size() << " of these blobs are still needed outside the scope you chose, e.g.:\n";
    for (std::size_t i = 0; i < r.still_needed.size() && i < 5; ++i)
      out << "  " << r.still_needed[i].hash.substr(0, 12) << "  " << r.still_needed[i].where << "\n";
  } else {
    out << "No branch, tag, registered version, deployment, run or recent push needs them.\n";
    print_last_needed(out, r.last_needed);
  }
}

bool confirm_remote_gc(const GcArgs& a, const app::RemoteGcReport& r) {
  if (r.plan.empty() || a.yes) return true;
  print_remote_summary(std::cerr, r);
  return ask_yes("They move to the remote's trash ('mlo gc --remote " + r.remote +
                 " --restore' brings them back). Go on?");
}

nlohmann::json remote_gc_json(const app::RemoteGcReport& r, std::int64_t grace, bool dry_run) {
  auto removed = nlohmann::json::array(), rewritten = nlohmann::json::array(), needed = nlohmann::json::array(),
       debris = nlohmann::json::array();
  for (const auto& c : r.plan.changes) (c.keep.empty() ? removed : rewritten).push_back(c.id);
  for (const auto& n : r.still_needed) needed.push_back({{"hash", n.hash}, {"where", n.where}});
  for (const auto& d : r.plan.debris) debris.push_back(d.key);
  auto uploads = nlohmann::json::array();
  for (const auto& u : r.plan.stale_uploads)
    uploads.push_back({{"key", u.key}, {"upload_id", u.id}, {"initiated", remote::format_iso8601(u.initiated)}});
  return {{"remote", r.remote}, {"dry_run", dry_run}, {"applied", r.applied}, {"grace_seconds", grace},
          {"scope", ScopeFlags::scope_json(r.scope)}, {"packs", r.plan.packs}, {"packs_recent", r.plan.packs_recent},
          {"removed_packs", removed}, {"rewritten_packs", rewritten}, {"blobs_removed", r.plan.blobs_removed()},
          {"bytes_removed", r.plan.bytes_removed()}, {"blobs_kept", r.plan.blobs_kept}, {"debris", debris},
          {"trash", r.done.trash}, {"push_records", r.push_records}, {"remote_runs", r.remote_runs},
          {"still_needed", needed}, {"skipped_broken", broken_json(r.refs.broken)},
          {"stale_uploads", uploads}, {"uploads_listed", r.plan.uploads_listed},
          {"uploads_aborted", r.done.uploads_aborted}, {"debris_moved", r.done.debris_removed},
          {"versioning", remote::to_string(r.plan.versioning)}, {"last_needed", last_needed_json(r.last_needed, 20)}};
}

// mlo gc --remote NAME (lib/app/remote_gc.h).
void run_remote_gc(Context& ctx, const GcArgs& a, bool grace_given) {
  if (a.restore || a.empty_trash) return run_trash_command(ctx, a);
  refuse_without_terminal(a, "gc --remote", "mlo gc --remote " + a.remote);
  app::RemoteGcRequest req;
  req.remote = a.remote;
  req.narrow = a.scope.given();
  req.scope = a.scope.scope();
  req.grace_seconds = duration_setting(ctx, grace_given ? a.grace : "", "--grace", "gc.remote_grace", "14d");
  req.fetch_max_age = a.no_fetch_check ? -1 : duration_setting(ctx, "", "", "gc.fetch_max_age", "1d");
  req.dry_run = a.dry_run;
  req.skip_broken = a.skip_broken;
  app::RemoteGcReport r = app::remote_gc(ctx.repo(), req, [&](const app::RemoteGcReport& rep) {
    return confirm_remote_gc(a, rep);
  });
  if (ctx.global.json) return ctx.print_json(remote_gc_json(r, req.grace_seconds, a.dry_run));
  if (ctx.global.quiet) return;
  for (const auto& b : r.refs.broken) std::cerr << "warning: skipped: " << b.message << "\n";
  if (!a.dry_run && !r.applied && !r.plan.empty()) {
    std::cout << "Nothing changed on remote '" << r.remote << "'.\n";
    return;
  }
  if (a.dry_run) print_remote_summary(std::cout, r);
  std::cout << (a.dry_run ? "Would move " : "Moved ") << r.plan.blobs_removed() << " blob(s) ("
            << human_bytes(r.plan.bytes_removed()) << ") from remote '" << r.remote << "' to its trash: "
            << r.plan.changes.size() << " pack(s) moved or rewritten; kept "
            << r.plan.blobs_kept << " blob(s)";
  if (r.plan.packs_recent) std::cout << " (" << r.plan.packs_recent << " pack(s) newer than the grace period untouched)";
  std::cout << ".\n";
  if (!r.plan.debris.empty())
    std::cout << (a.dry_run ? "Would move " : "Moved ") << r.plan.debris.size()
              << " leftover(s) of killed pushes to the trash.\n";
  if (!r.plan.stale_uploads.empty())
    std::cout << (a.dry_run ? "Would abort " : "Aborted ") << r.plan.stale_uploads.size()
              << " multipart upload(s) begun over 24 h ago and never completed.\n";
  if (!a.dry_run) print_versioning(std::cout, r);
  if (!a.dry_run && a.yes) print_last_needed(std::cout, r.last_needed);  // else the prompt showed it
  if (r.applied && !r.done.trash.empty())
    std::cout << "Restore with 'mlo gc --remote " << r.remote << " --restore'; 'mlo gc --remote " << r.remote
              << " --empty-trash' deletes for good what is older than gc.trash_retention (7d).\n";
}

// gc.pass_objects: the needed hashes gc and fsck hold at once.
std::size_t pass_objects_setting(Context& ctx, std::size_t fallback) {
  auto v = ctx.repo().config().get("gc.pass_objects");
  if (!v) return fallback;
  auto n = parse_u64(*v);
  if (!n || *n == 0)
    throw InputError(".mlo/config.yaml: gc.pass_objects: expected a whole number of hashes above 0, got '" +
                         printable(*v) + "'",
                     "edit gc.pass_objects in .mlo/config.yaml (a whole number such as 2097152), or remove it for "
                     "the default");
  return static_cast<std::size_t>(*n);
}

void run_local_gc(Context& ctx, const GcArgs& a) {
  GcOptions opts;
  opts.scope = a.scope.scope();
  opts.extra_sources = app::reference_sources();
  opts.grace_seconds = parse_duration_seconds(a.grace, "--grace");
  opts.dry_run = a.dry_run;
  opts.skip_broken = a.skip_broken;
  opts.pass_objects = pass_objects_setting(ctx, opts.pass_objects);
  GcResult r = collect_garbage(ctx.repo(), opts);
  if (ctx.global.json) {
    auto removed = nlohmann::json::array();
    for (const auto& x : r.removed) removed.push_back({{"hash", x.hash}, {"size", x.size}});
    ctx.print_json({{"dry_run", r.dry_run},
                    {"scope", a.scope.json()},
                    {"grace_seconds", opts.grace_seconds},
                    {"removed", removed},
                    {"removed_count", r.removed_count},
                    {"removed_bytes", r.removed_bytes},
                    {"kept", r.kept},
                    {"kept_recent", r.kept_recent},
                    {"kept_recent_bytes", r.kept_recent_bytes},
                    {"temp_files", r.temp_files},
                    {"passes", r.passes},
                    {"pointers", r.refs.pointers},
                    {"revisions", r.refs.revisions},
                    {"skipped_broken", broken_json(r.refs.broken)}});
    return;
  }
  if (ctx.global.quiet) return;
  for (const auto& b : r.refs.broken) std::cerr << "warning: skipped: " << b.message << "\n";
  if (r.dry_run || ctx.global.verbose) {
    for (const auto& x : r.removed)
      std::cout << (r.dry_run ? "would remove " : "removed ") << x.hash << " (" << human_bytes(x.size) << ")\n";
    if (r.removed_count > r.removed.size())
      std::cout << "(" << r.removed.size() << " of " << r.removed_count << " listed)\n";
  }
  std::string verb = r.dry_run ? "Would remove " : "Removed ";
  std::cout << verb << r.removed_count << " object" << (r.removed_count == 1 ? "" : "s") << " ("
            << human_bytes(r.removed_bytes) << "); kept " << r.kept << " needed";
  if (r.kept_recent)
    std::cout << " and " << r.kept_recent << " stored within the last " << a.grace << " ("
              << human_bytes(r.kept_recent_bytes) << ")";
  std::cout << ".\n";
  if (r.temp_files)
    std::cout << (r.dry_run ? "Would remove " : "Removed ") << r.temp_files << " stale temp file(s).\n";
}

void check_gc_flags(const GcArgs& a, CLI::App* cmd) {
  bool remote_only = a.yes || a.no_fetch_check || a.restore || a.empty_trash || cmd->count("--since") ||
                     cmd->count("--retention");
  if (a.remote.empty() && remote_only)
    throw UsageError("--yes, --no-fetch-check, --restore, --since, --empty-trash and --retention go with --remote NAME",
                     "e.g. 'mlo gc --remote origin --restore'");
  if (a.restore && a.empty_trash) throw UsageError("--restore and --empty-trash exclude each other");
  if (cmd->count("--since") && !a.restore) throw UsageError("--since goes with --restore");
  if (cmd->count("--retention") && !a.empty_trash) throw UsageError("--retention goes with --empty-trash");
}

void register_gc(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<GcArgs>();
  auto* cmd = add_command(app, "gc");
  cmd->add_option("--remote", o->remote,
                  "Move to remote NAME's trash what nobody needs (default scope: every branch, tag, version, "
                  "deployment, run and recent push; see man mlo-gc)");
  cmd->add_flag("--workspace", o->scope.workspace_only, "Keep only what the work tree needs (with --remote: narrow)");
  o->scope.add_to(cmd, "keep what is needed by");
  cmd->add_option("--grace", o->grace,
                  "Keep objects stored less than this long ago (default 1h; with --remote gc.remote_grace or 14d)");
  cmd->add_flag("-n,--dry-run", o->dry_run, "List what would be deleted; delete nothing");
  cmd->add_flag("--skip-broken", o->skip_broken,
                "Delete even when some pointers or manifests can not be read (their files are not protected)");
  cmd->add_flag("-y,--yes", o->yes, "With --remote: do not ask (needed where there is no terminal)");
  cmd->add_flag("--no-fetch-check", o->no_fetch_check,
                "With --remote: go on even when 'git fetch' has not run within gc.fetch_max_age (1d)");
  cmd->add_flag("--restore", o->restore, "With --remote: bring back what gc moved to the remote's trash");
  cmd->add_option("--since", o->since, "With --restore: only what was moved since (2h, 3d, 2026-12-01)");
  cmd->add_flag("--empty-trash", o->empty_trash,
                "With --remote: delete for good what the trash holds longer than gc.trash_retention (7d); "
                "asks first (--yes in scripts)");
  cmd->add_option("--retention", o->retention, "With --empty-trash: instead of gc.trash_retention");
  ctx.on_run(cmd, [&ctx, o, cmd] {
    check_gc_flags(*o, cmd);
    if (!o->remote.empty()) return run_remote_gc(ctx, *o, cmd->count("--grace") > 0);
    run_local_gc(ctx, *o);
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
      app::SyncRequest req;
      req.remote = o->remote;
      req.jobs = o->jobs;
      report_remote_check(ctx, app::check_remote(ctx.repo(), req), ctx.global.json);
      return;
    }
    FsckOptions opts;
    opts.scope = o->scope.scope();
    opts.extra_sources = app::reference_sources();
    opts.repair = o->repair;
    opts.jobs = o->jobs;
    opts.pass_objects = pass_objects_setting(ctx, opts.pass_objects);
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
                      {"missing_count", r.missing_count},
                      {"broken", broken_json(r.broken)},
                      {"unreferenced", r.unreferenced},
                      {"passes", r.passes}});
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
    if (r.missing_count > r.missing.size())
      std::cout << "(" << r.missing.size() << " of " << r.missing_count << " missing listed)\n";
    for (const auto& b : r.broken) std::cout << ctx.paint("broken", "red") << " " << b.message << "\n";
    if (ctx.global.quiet) return;
    std::cout << "Checked " << r.objects << " object" << (r.objects == 1 ? "" : "s") << " (" << human_bytes(r.bytes)
              << ") and " << r.pointers << " pointer file(s): ";
    if (r.ok()) {
      std::cout << "no problems.\n";
    } else {
      std::cout << r.corrupt.size() << " corrupt, " << r.missing_count << " missing, " << r.broken.size()
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
                      {"gc", "Delete cache (or remote) objects that nothing needs"},
                      {"fsck", "Re-hash every cached object; report damaged and missing ones"},
                      {"doctor", "Show versions, link modes that work here, and repository health"},
                      {"index", "Inspect or rebuild the local SQLite index (.mlo/index.db)"});
}  // namespace mlo::cli
