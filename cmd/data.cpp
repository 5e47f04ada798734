// mlo data add|status|checkout|diff|ls|rm|commit (validate and schema: data_contracts.cpp)
#include <algorithm>
#include <cstdio>

#include "checkout_report.h"
#include "command.h"
#include "core/format.h"
#include "app/sync.h"
#include "app/workspace.h"
#include "core/log.h"
#include "data/data.h"

namespace mlo::cli {

void register_data_contracts(CLI::App& data, Context& ctx);  // data_contracts.cpp

namespace {

using nlohmann::json;

std::string human_size(std::uint64_t bytes) { return human_bytes(bytes); }

const char* type_name(EntryType t) { return t == EntryType::dir ? "dir" : "file"; }

json added_json(const std::vector<AddedEntry>& added) {
  json arr = json::array();
  for (const auto& e : added)
    arr.push_back({{"path", e.path},
                   {"pointer", e.pointer},
                   {"type", type_name(e.result.type)},
                   {"sha256", e.result.sha256},
                   {"size", e.result.size},
                   {"files", e.result.type == EntryType::dir ? e.result.files : 1},
                   {"changed", e.changed},
                   {"hashed", e.hashed},
                   {"manifests_written", e.manifests_written}});
  return arr;
}

void print_added(Context& ctx, const std::vector<AddedEntry>& added, const char* verb) {
  if (ctx.global.json) {
    ctx.print_json({{"added", added_json(added)}});
    return;
  }
  if (ctx.global.quiet) return;
  if (added.empty()) {
    std::cout << "Nothing to commit: tracked data matches its pointer files.\n";
    return;
  }
  for (const auto& e : added) {
    std::string what = e.result.type == EntryType::dir ? std::to_string(e.result.files) + " files, " : "";
    std::cout << verb << " " << e.path << " (" << what << human_size(e.result.size) << ")"
              << (e.changed ? "" : ", unchanged") << " -> " << e.pointer << "\n";
  }
  std::cout << "Staged the pointer files and .gitignore; next: git commit\n";
}

json paths_json(const std::vector<FileChange>& changes) {
  json arr = json::array();
  for (const auto& c : changes) arr.push_back(c.path);
  return arr;
}

json change_json(const FileChange& c) {
  json o{{"path", c.path}};
  if (!c.old_sha256.empty()) {
    o["old_sha256"] = c.old_sha256;
    o["old_size"] = c.old_size;
  }
  if (!c.new_sha256.empty()) {
    o["new_sha256"] = c.new_sha256;
    o["new_size"] = c.new_size;
  }
  return o;
}

// `doc` as Context::print_json writes it, each line after the first
// indented by `indent` more (to nest it in a document printed by hand).
std::string nested_json(const json& doc, const std::string& indent) {
  std::string text = doc.dump(2, ' ', false, json::error_handler_t::replace);
  std::string out;
  for (char ch : text) {
    out += ch;
    if (ch == '\n') out += indent;
  }
  return out;
}

// The document Context::print_json would print for the whole diff (keys in
// order, two-space indents), written a change at a time.
void print_diff_json(Repo& repo, const DiffResult& d) {
  auto changes = [&](const char* key, ChangeKind kind) {
    std::cout << "  \"" << key << "\": [";
    bool first = true;
    for_each_change(repo, d, kind, [&](const FileChange& c) {
      std::cout << (first ? "\n    " : ",\n    ") << nested_json(change_json(c), "    ");
      first = false;
    });
    std::cout << (first ? "]" : "\n  ]");
  };
  std::cout << "{\n";
  changes("added", ChangeKind::added);
  std::cout << ",\n";
  changes("deleted", ChangeKind::deleted);
  std::cout << ",\n  \"from\": " << nested_json(d.from, "  ") << ",\n";
  changes("modified", ChangeKind::modified);
  std::cout << ",\n  \"to\": " << nested_json(d.to, "  ") << ",\n";
  std::cout << "  \"unknown\": " << nested_json(d.unknown, "  ") << "\n}\n";
}

// Absent from the work tree and from the cache: a fresh clone that has not
// pulled yet. Not a change (nothing of the user's is lost); `--exit-code
// --pulled` counts it, the "missing from the cache" list names it.
bool not_pulled(const EntryStatus& e) { return e.state == DataState::deleted && !e.in_cache; }

// What --exit-code fails on.
bool status_dirty(const StatusResult& st, bool require_pulled) {
  return std::any_of(st.entries.begin(), st.entries.end(),
                     [&](const EntryStatus& e) { return !e.clean() && (require_pulled || !not_pulled(e)); });
}

std::string of_stage(const EntryStatus& e) { return e.stage.empty() ? "" : " (stage " + e.stage + ")"; }

// The modified and deleted entries: of pointer data, or of stage outputs.
void print_changes(Context& ctx, const StatusResult& st, bool outputs, size_t limit, const char* heading) {
  std::cout << heading;
  for (const auto& e : st.entries) {
    if (e.state == DataState::clean || e.stage.empty() == outputs || not_pulled(e)) continue;
    if (e.state == DataState::deleted) {
      std::cout << "        " << ctx.paint("deleted:    " + e.path, "red") << of_stage(e) << "\n";
      continue;
    }
    std::string extra;
    if (e.type == EntryType::dir && !e.manifest_missing)
      extra = " (" + std::to_string(e.added.size()) + " added, " + std::to_string(e.removed.size()) + " removed, " +
              std::to_string(e.modified.size()) + " modified)";
    std::cout << "        " << ctx.paint("modified:   " + e.path + (e.type == EntryType::dir ? "/" : ""), "red")
              << extra << of_stage(e) << "\n";
    size_t shown = 0, total = e.added.size() + e.removed.size() + e.modified.size();
    auto line = [&](const char* what, const std::vector<FileChange>& v) {
      for (const auto& c : v) {
        if (shown++ >= limit) return;
        std::cout << "            " << what << c.path << "\n";
      }
    };
    line("added:      ", e.added);
    line("removed:    ", e.removed);
    line("modified:   ", e.modified);
    if (total > limit) std::cout << "            ... and " << (total - limit) << " more (-v lists all)\n";
  }
}

// Porcelain output: one record per line; with -z each ends with NUL and a path
// is written as is. Without -z a path holding a newline, tab, quote, backslash
// or other control byte is C-quoted in double quotes, as git does.
struct Porcelain {
  bool on = false;
  bool z = false;
  std::string path(const std::string& p) const {
    if (z || std::none_of(p.begin(), p.end(), [](unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }))
      return p;
    std::string q = "\"";
    for (unsigned char c : p) {
      if (c == '\n') q += "\\n";
      else if (c == '\t') q += "\\t";
      else if (c == '"' || c == '\\') q += std::string("\\") + static_cast<char>(c);
      else if (c < 0x20) {
        char oct[8];
        std::snprintf(oct, sizeof oct, "\\%03o", c);
        q += oct;
      } else q += static_cast<char>(c);
    }
    return q + "\"";
  }
  void record(const std::string& prefix, const std::string& p) const {
    std::cout << prefix << path(p) << (z ? '\0' : '\n');
  }
};

void render_status(Context& ctx, const StatusResult& st, const Porcelain& porcelain) {
  if (ctx.global.json) {
    json entries = json::array();
    for (const auto& e : st.entries)
      entries.push_back({{"path", e.path},
                         {"pointer", e.pointer},
                         {"stage", e.stage.empty() ? json(nullptr) : json(e.stage)},
                         {"type", type_name(e.type)},
                         {"status", to_string(e.state)},
                         {"in_cache", e.in_cache},
                         {"missing", e.missing},
                         {"missing_count", e.missing_count},
                         {"manifest_missing", e.manifest_missing},
                         {"added", paths_json(e.added)},
                         {"removed", paths_json(e.removed)},
                         {"modified", paths_json(e.modified)}});
    ctx.print_json({{"clean", st.clean()}, {"entries", entries}});
    return;
  }
  if (porcelain.on) {
    for (const auto& e : st.entries) {
      if (e.state == DataState::deleted) {
        porcelain.record("D ", e.path);
      } else if (e.state == DataState::modified) {
        bool detailed = e.type == EntryType::dir && !e.manifest_missing;
        if (!detailed) porcelain.record("M ", e.path);
        for (const auto& c : e.added) porcelain.record("A ", c.path);
        for (const auto& c : e.removed) porcelain.record("D ", c.path);
        for (const auto& c : e.modified) porcelain.record("M ", c.path);
        if (detailed && e.added.empty() && e.removed.empty() && e.modified.empty()) porcelain.record("M ", e.path);
      }
      for (const auto& m : e.missing) porcelain.record("! ", m);
    }
    return;
  }
  if (ctx.global.quiet) return;
  size_t changed_data = 0, changed_outputs = 0, missing = 0;
  for (const auto& e : st.entries) {
    if (e.state != DataState::clean && !not_pulled(e)) ++(e.stage.empty() ? changed_data : changed_outputs);
    if (!e.in_cache) ++missing;
  }
  if (st.clean()) {
    std::cout << "Tracked data is up to date (" << st.entries.size() << " path"
              << (st.entries.size() == 1 ? "" : "s") << ").\n";
    return;
  }
  const size_t limit = ctx.global.verbose ? SIZE_MAX : 20;
  if (changed_data)
    print_changes(ctx, st, false, limit,
                  "Changes in tracked data:\n"
                  "  (use 'mlo data commit PATH' to record them, 'mlo data checkout --force PATH' to discard them)\n");
  if (changed_outputs)
    print_changes(ctx, st, true, limit,
                  "Pipeline outputs that differ from mlo.lock:\n"
                  "  (use 'mlo data checkout PATH' to restore what mlo.lock records, 'mlo run' to bring the stage "
                  "up to date)\n");
  if (missing) {
    std::cout << "Content missing from the cache:\n"
              << "  (use 'mlo pull' to fetch it; 'mlo data checkout' needs it)\n";
    for (const auto& e : st.entries) {
      if (e.in_cache) continue;
      size_t shown = 0;
      for (const auto& m : e.missing) {
        if (shown++ >= limit) break;
        std::cout << "        " << ctx.paint(m, "yellow") << "\n";
      }
      // The library lists the first kMaxListedNotCached; the count counts all.
      const std::uint64_t printed = std::min<std::uint64_t>(limit, e.missing.size());
      if (e.missing_count <= printed) continue;
      std::cout << "        ... and " << (e.missing_count - printed) << " more (";
      if (e.missing.size() == e.missing_count) std::cout << "-v lists all)\n";
      else if (printed < e.missing.size()) std::cout << "-v lists the first " << e.missing.size() << ")\n";
      else std::cout << "only the first " << e.missing.size() << " are listed)\n";
    }
  }
}

// mlo data status --remote [NAME] (lib/app/sync.h): per tracked path, how
// many of its objects the remote and the cache lack. Returns true when
// nothing is missing on either side.
bool render_remote_status(Context& ctx, const std::string& name, const std::vector<std::string>& paths) {
  app::SyncRequest req;
  req.remote = name;
  req.paths = paths;
  app::RemoteStatus st = app::remote_status(ctx.repo(), req);
  bool clean = true;
  for (const auto& e : st.entries) clean = clean && !e.missing_remote && !e.missing_cache;
  if (ctx.global.json) {
    auto entries = nlohmann::json::array();
    for (const auto& e : st.entries)
      entries.push_back({{"path", e.path},
                         {"pointer", e.pointer},
                         {"stage", e.stage.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.stage)},
                         {"objects", e.objects},
                         {"missing_remote", e.missing_remote},
                         {"missing_cache", e.missing_cache},
                         {"manifest_known", e.manifest_known},
                         {"remote_lacks", e.remote_lacks},
                         {"cache_lacks", e.cache_lacks}});
    ctx.print_json({{"remote", st.remote.name},
                    {"clean", clean},
                    {"manifests_fetched", st.manifests_fetched},
                    {"entries", entries}});
    return clean;
  }
  if (ctx.global.quiet) return clean;
  // Files by name, up to a few per path unless --verbose (the library keeps
  // the first kMaxListedLacks).
  auto list_files = [&](const char* label, const std::vector<std::string>& files) {
    const std::size_t shown = ctx.global.verbose ? files.size() : std::min<std::size_t>(files.size(), 10);
    const bool capped = files.size() >= app::kMaxListedLacks;
    for (std::size_t i = 0; i < shown; ++i) std::cout << "  " << label << files[i] << "\n";
    if (shown < files.size() && !capped) std::cout << "  ... and " << files.size() - shown << " more (-v lists all)\n";
    else if (shown < files.size()) std::cout << "  ... and more (-v lists the first " << app::kMaxListedLacks << ")\n";
    else if (capped) std::cout << "  ... and more (only the first " << app::kMaxListedLacks << " are listed)\n";
  };
  for (const auto& e : st.entries) {
    std::string path = e.stage.empty() ? e.path : e.path + " (stage " + e.stage + ")";
    if (!e.manifest_known)
      std::cout << path << ": its manifest is on neither the remote nor in the cache (push it from a clone that has it)\n";
    if (e.missing_remote) {
      std::cout << "not on remote: " << path << " (" << e.missing_remote << " of " << e.objects << " objects)\n";
      if (e.remote_lacks.size() != 1 || e.remote_lacks[0] != e.path) list_files("", e.remote_lacks);
    }
    if (e.missing_cache) {
      std::cout << "not in cache:  " << path << " (" << e.missing_cache << " of " << e.objects << " objects)\n";
      if (e.cache_lacks.size() != 1 || e.cache_lacks[0] != e.path) list_files("", e.cache_lacks);
    }
  }
  if (clean) std::cout << "Remote '" << st.remote.name << "' and the cache have all tracked data (" << st.entries.size()
                       << " paths).\n";
  else std::cout << "hint: 'mlo push' sends what the remote lacks; 'mlo fetch' gets what the cache lacks.\n";
  return clean;
}

void register_data(CLI::App& app, Context& ctx) {
  auto* data = add_command(app, "data");
  data->require_subcommand(1);

  if (CLI::App* cmd = add_wanted_command(
          *data, ctx, "add",
          "Track files or folders: store them in the cache, write PATH.mlo")) {
    auto paths = std::make_shared<std::vector<std::string>>();
    auto opts = std::make_shared<AddOptions>();
    cmd->add_option("paths", *paths, "Files or folders to track")->required();
    cmd->add_option("-d,--description", opts->description, "A description kept in the pointer file");
    cmd->add_option("-j,--jobs", opts->jobs, "Hashing threads (default: all cores)");
    ctx.on_run(cmd, [&ctx, paths, opts] { print_added(ctx, data_add(ctx.repo(), *paths, *opts), "Added"); });
  }
  if (CLI::App* cmd = add_wanted_command(
          *data, ctx, "commit",
          "Record the current content of tracked files or folders")) {
    auto paths = std::make_shared<std::vector<std::string>>();
    auto opts = std::make_shared<AddOptions>();
    cmd->add_option("paths", *paths, "Tracked paths (default: every tracked path that changed)");
    cmd->add_option("-d,--description", opts->description, "Replace the description in the pointer file");
    cmd->add_option("-j,--jobs", opts->jobs, "Hashing threads (default: all cores)");
    ctx.on_run(cmd, [&ctx, paths, opts] { print_added(ctx, data_commit(ctx.repo(), *paths, *opts), "Recorded"); });
  }
  if (CLI::App* cmd = add_wanted_command(
          *data, ctx, "status",
          "Show tracked data and stage outputs that differ from their pointer files or mlo.lock")) {
    auto paths = std::make_shared<std::vector<std::string>>();
    auto porcelain = std::make_shared<Porcelain>();
    auto exit_code = std::make_shared<bool>(false);
    auto pulled = std::make_shared<bool>(false);
    cmd->add_option("paths", *paths, "Limit to these tracked paths or folders");
    cmd->add_flag("--porcelain", porcelain->on, "Stable one-line-per-change output for scripts");
    cmd->add_flag("-z", porcelain->z, "With --porcelain: end records with NUL, paths unquoted");
    cmd->add_flag("--exit-code", *exit_code,
                  "Exit with 1 when anything differs or is missing from the cache (data not pulled yet is no change)");
    cmd->add_flag("--pulled", *pulled, "With --exit-code: also exit 1 when tracked data has not been pulled");
    auto remote = std::make_shared<std::string>();
    cmd->add_option("--remote", *remote, "Compare with a remote instead: what it lacks, what the cache lacks "
                                        "(NAME optional; see man mlo-remote)")
        ->expected(0, 1);
    ctx.on_run(cmd, [&ctx, paths, porcelain, exit_code, pulled, remote, cmd] {
      if (cmd->count("--remote")) {
        if (!render_remote_status(ctx, *remote, *paths) && *exit_code) ctx.exit_code = 1;
        return;
      }
      StatusResult st = app::workspace_status(ctx.repo(), *paths);
      render_status(ctx, st, *porcelain);
      if (*exit_code && status_dirty(st, *pulled)) ctx.exit_code = 1;
    });
  }
  if (CLI::App* cmd = add_wanted_command(
          *data, ctx, "checkout",
          "Make the workspace match the pointer files and mlo.lock's stage outputs")) {
    auto paths = std::make_shared<std::vector<std::string>>();
    auto opts = std::make_shared<CheckoutOptions>();
    cmd->add_option("paths", *paths, "Tracked paths or folders (default: all)");
    cmd->add_flag("-f,--force", opts->force, "Overwrite workspace changes that are not saved in the cache");
    cmd->add_option("-j,--jobs", opts->jobs, "Threads (default: all cores)");
    ctx.on_run(cmd, [&ctx, paths, opts] {
      CheckoutResult r = app::workspace_checkout(ctx.repo(), *paths, *opts);
      warn_outputs_left(r);
      if (ctx.global.json) {
        ctx.print_json(checkout_json(r));
        return;
      }
      if (ctx.global.quiet) return;
      if (ctx.global.verbose) {
        for (const auto& p : r.updated) std::cout << "updated: " << p << "\n";
        if (r.updated_count > r.updated.size())
          std::cout << "updated: ... and " << r.updated_count - r.updated.size() << " more, not listed\n";
        for (const auto& p : r.removed) std::cout << "removed: " << p << "\n";
      }
      std::cout << "Updated " << r.updated_count << " file" << (r.updated_count == 1 ? "" : "s") << ", removed "
                << r.removed.size() << ", " << r.unchanged << " already up to date.\n";
    });
  }
  if (CLI::App* cmd = add_wanted_command(
          *data, ctx, "diff",
          "Files added, modified, deleted between revisions or the workspace")) {
    auto revs = std::make_shared<std::vector<std::string>>();
    cmd->add_option("revisions", *revs, "REV (compared with the workspace) or REV REV (default: HEAD)")->expected(0, 2);
    ctx.on_run(cmd, [&ctx, revs] {
      std::string a = revs->size() > 0 ? (*revs)[0] : "";
      std::string b = revs->size() > 1 ? (*revs)[1] : "";
      DiffResult d = data_diff(ctx.repo(), a, b);
      // Each change is printed as it is found: a folder that one side
      // lacks (a fresh clone's data before its pull) is walked, not held.
      if (ctx.global.json) {
        print_diff_json(ctx.repo(), d);
        return;
      }
      if (ctx.global.quiet) return;
      std::uint64_t printed = 0;
      auto print = [&](ChangeKind kind, const char* label, const char* colour) {
        for_each_change(ctx.repo(), d, kind, [&](const FileChange& c) {
          std::cout << ctx.paint(label, colour) << c.path << "\n";
          ++printed;
        });
      };
      print(ChangeKind::added, "added:    ", "green");
      print(ChangeKind::modified, "modified: ", "yellow");
      print(ChangeKind::deleted, "deleted:  ", "red");
      for (const auto& u : d.unknown)
        std::cout << "note: the manifest of " << u << " is not in the cache; compared as a whole\n";
      if (printed == 0) std::cout << "No data changes between " << d.from << " and " << d.to << ".\n";
    });
  }
  if (CLI::App* cmd = add_wanted_command(*data, ctx, "ls", "List tracked data (a tracked folder lists its files)")) {
    auto path = std::make_shared<std::string>();
    auto porcelain = std::make_shared<Porcelain>();
    cmd->add_option("path", *path, "A tracked path or a folder to list under");
    cmd->add_flag("--porcelain", porcelain->on, "TYPE SIZE SHA256 PATH, tab-separated, for scripts");
    cmd->add_flag("-z", porcelain->z, "With --porcelain: end records with NUL, paths unquoted");
    ctx.on_run(cmd, [&ctx, path, porcelain] {
      // Each entry is printed as it is found (a folder of millions of files
      // is never held): JSON too, one entry a line inside {"entries": [...]}.
      if (porcelain->on && !ctx.global.json) {
        data_ls(ctx.repo(), *path, [&](const ListedEntry& e) {
          porcelain->record(std::string(type_name(e.type)) + "\t" + std::to_string(e.size) + "\t" + e.sha256 + "\t", e.path);
        });
        return;
      }
      if (ctx.global.json) {
        bool first = true;
        std::cout << "{\n  \"entries\": [";
        data_ls(ctx.repo(), *path, [&](const ListedEntry& e) {
          json o{{"path", e.path}, {"type", type_name(e.type)}, {"sha256", e.sha256}, {"size", e.size}};
          if (e.type == EntryType::dir) o["files"] = e.files;
          if (!e.pointer.empty()) o["pointer"] = e.pointer;
          std::cout << (first ? "\n    " : ",\n    ") << o.dump(-1, ' ', false, json::error_handler_t::replace);
          first = false;
        });
        std::cout << (first ? "]\n}\n" : "\n  ]\n}\n");
        return;
      }
      data_ls(ctx.repo(), *path, [&](const ListedEntry& e) {
        char size[32];
        std::snprintf(size, sizeof size, "%10s", human_size(e.size).c_str());
        std::cout << (e.type == EntryType::dir ? "dir " : "file") << "  " << size << "  " << e.sha256.substr(0, 12)
                  << "  " << e.path << (e.type == EntryType::dir ? "/ (" + std::to_string(e.files) + " files)" : "")
                  << "\n";
      });
    });
  }
  if (CLI::App* cmd = add_wanted_command(
          *data, ctx, "rm",
          "Stop tracking data (the data stays unless --remove-data)")) {
    auto paths = std::make_shared<std::vector<std::string>>();
    auto opts = std::make_shared<RmOptions>();
    cmd->add_option("paths", *paths, "Tracked paths (or their .mlo files)")->required();
    cmd->add_flag("--remove-data", opts->remove_data, "Also delete the data from the workspace");
    cmd->add_flag("-f,--force", opts->force, "With --remove-data: even when it holds changes not in the cache");
    ctx.on_run(cmd, [&ctx, paths, opts] {
      auto removed = data_rm(ctx.repo(), *paths, *opts);
      if (ctx.global.json) {
        json arr = json::array();
        for (const auto& r : removed)
          arr.push_back({{"path", r.path}, {"pointer", r.pointer}, {"data_removed", r.data_removed}});
        ctx.print_json({{"removed", arr}});
        return;
      }
      if (ctx.global.quiet) return;
      for (const auto& r : removed)
        std::cout << "Stopped tracking " << r.path << " (removed " << r.pointer
                  << (r.data_removed ? " and the data" : "; the data stays, no longer ignored by git") << ")\n";
    });
  }
  register_data_contracts(*data, ctx);
}

}  // namespace

json checkout_json(const CheckoutResult& r) {
  return {{"updated", r.updated}, {"updated_count", r.updated_count}, {"removed", r.removed}, {"unchanged", r.unchanged},
          {"kept", r.kept},       {"missing", r.missing}};
}

void warn_outputs_left(const CheckoutResult& r) {
  for (const auto& p : r.kept)
    log::warn("kept " + p + ": the stage output holds changes that are not in the cache (run 'mlo run' to record or "
              "replace it, or 'mlo data checkout --force " + p + "' to discard them)");
  for (const auto& p : r.missing)
    log::warn("left " + p + " as it is: the cache lacks the stage output that mlo.lock records (run 'mlo pull' to "
              "fetch it, or 'mlo run' to rebuild it)");
}

MLO_REGISTER_COMMANDS(20, register_data,
                      {"data", "Version data files and folders"});
}  // namespace mlo::cli
