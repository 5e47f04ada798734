// mlo remote add/ls/rm/modify, mlo push, mlo fetch, mlo pull
#include <unistd.h>

#include "checkout_report.h"
#include "command.h"
#include "core/log.h"
#include "remote_check.h"
#include "data/data.h"
#include "data/pointer.h"
#include "remote/probe.h"
#include "remote/remotes.h"
#include "app/sync.h"
#include "app/workspace.h"

namespace mlo::cli {
namespace {

using namespace mlo::remote;
using namespace mlo::app;

struct TransferArgs {
  std::vector<std::string> paths;
  std::string remote;
  unsigned jobs = 0;
  bool force = false;  // pull: checkout --force
  bool verify = false;  // push: check the remote end to end afterwards
  bool models = false;  // fetch/pull: every registered version's artifact too
  bool create = false;  // push: make a directory remote's missing folder
};

void add_transfer_options(CLI::App* cmd, TransferArgs& a) {
  cmd->add_option("paths", a.paths, "Tracked data, pointer files or folders (default: everything)");
  cmd->add_option("-r,--remote", a.remote, "Remote name (default: remote.default)");
  cmd->add_option("-j,--jobs", a.jobs, "Parallel transfers (default: the remote's jobs option, else 8)")
      ->check(CLI::Range(1, 256));
}

SyncRequest request_for(const Context& ctx, const TransferArgs& a) {
  SyncRequest r;
  r.remote = a.remote;
  r.paths = a.paths;
  r.jobs = a.jobs;
  r.models = a.models;
  // Drawn only where cmd/progress.cpp points the reporter (a terminal, a CI log).
  r.progress = !ctx.global.quiet;
  return r;
}

nlohmann::json stats_json(const SyncResult& r) {
  const auto& s = r.stats;
  return {{"remote", r.remote.name},      {"url", redact_url(r.remote.url)},          {"pointers", r.pointers.size()},
          {"objects", s.objects},         {"bytes", s.bytes},             {"wire_bytes", s.wire_bytes},
          {"chunks", s.chunks},           {"reused_chunks", s.reused_chunks}, {"packs", s.packs},
          {"up_to_date", s.up_to_date},   {"missing", s.missing},         {"requests", s.requests},
          {"seconds", s.seconds},         {"runs", r.runs},               {"known_files", r.known_files}};
}

std::string summary(const std::string& verb, const std::string& dir, const SyncResult& r) {
  const auto& s = r.stats;
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.2f", s.seconds);
  std::string line = verb + " " + std::to_string(s.objects) + " object" + (s.objects == 1 ? "" : "s") + " (" +
                     human_bytes(s.bytes) + ", " + human_bytes(s.wire_bytes) + " transferred) " + dir + " '" +
                     r.remote.name + "' in " + secs + " s";
  if (s.up_to_date) line += "; " + std::to_string(s.up_to_date) + " already there";
  if (r.known_files)
    line += "; " + std::to_string(r.known_files) + " file" + (r.known_files == 1 ? "" : "s") + " in folders pushed before";
  if (s.reused_chunks) line += "; " + std::to_string(s.reused_chunks) + " chunks reused";
  if (r.runs) line += "; " + std::to_string(r.runs) + " run" + (r.runs == 1 ? "" : "s") + (verb == "Pushed" ? " shared" : " imported");
  return line;
}

// What `remote add` / `remote modify NAME url` did to a directory remote's
// folder (lib/remote/remotes.h: prepare_remote_root).
void report_root(const Context& ctx, RootState root, const std::string& url) {
  if (root == RootState::created && !ctx.global.quiet && !ctx.global.json)
    std::cout << "Created the remote folder " << url << "\n";
  if (root == RootState::missing)
    log::warn("remote folder " + url + " does not exist, nor the folder above it: push refuses it until it "
              "does (a typo? a volume not mounted?); 'mlo push --create' makes it");
}

// mlo remote check NAME: a write-read-delete round trip; exit 4 with the
// failing step, the kind of failure and its fix.
void register_remote_check(CLI::App& remote, Context& ctx) {
  struct Args { std::string name; bool accept_new = false; };
  auto a = std::make_shared<Args>();
  auto* cmd = add_command(remote, "check", "Write, read and delete a probe blob; say what fails and how to fix it");
  cmd->add_option("name", a->name, "Remote name (default: remote.default)");
  cmd->add_flag("--accept-new", a->accept_new, "ssh: trust and record an unknown host key (never a changed one)");
  ctx.on_run(cmd, [&ctx, a] {
    RemoteConfig config = resolve_remote(ctx.repo().config(), a->name);
    if (a->accept_new) config.options["accept_new"] = "true";
    ProbeReport report = probe_remote(config);
    if (ctx.global.json) {
      nlohmann::json steps = nlohmann::json::array();
      for (const auto& s : report.steps) steps.push_back({{"step", s.name}, {"ok", s.ok}, {"seconds", s.seconds}});
      ctx.print_json({{"remote", config.name}, {"url", redact_url(config.url)}, {"ok", report.ok()},
                      {"steps", steps}, {"problem", report.ok() ? nlohmann::json() : nlohmann::json(report.problem)},
                      {"error", redact_url(report.error)}, {"fix", report.fix}});
    } else {
      for (const auto& s : report.steps)
        if (!ctx.global.quiet || !s.ok)
          std::cout << (s.ok ? ctx.paint("ok", "green") : ctx.paint("FAILED", "red")) << "\t" << s.name << "\n";
    }
    if (report.ok()) {
      if (!ctx.global.json && !ctx.global.quiet)
        std::cout << "Remote '" << config.name << "' (" << redact_url(config.url) << ") works: wrote, read back and "
                  << "deleted a probe blob.\n";
      return;
    }
    throw RemoteError("remote '" + config.name + "': " + report.problem + " problem at the " + report.steps.back().name +
                          " step: " + redact_url(report.error),
                      report.fix);
  });
}

void register_remote(CLI::App& app, Context& ctx) {
  auto* remote = add_command(app, "remote");
  remote->require_subcommand(1);

  {
    struct Args { std::string name, url; bool make_default = false, local = false; };
    auto a = std::make_shared<Args>();
    auto* cmd = add_command(*remote, "add", "Add a remote (s3://, gs://, azure://, ssh://, http(s)://, file:// or /path)");
    cmd->add_option("name", a->name, "Remote name")->required();
    cmd->add_option("url", a->url, "URL: s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, azure://CONTAINER/PREFIX, ssh://[USER@]HOST[:PORT]/PATH, https://HOST/PATH, /PATH or file:///PATH")->required();
    cmd->add_flag("-d,--default", a->make_default, "Make it the default remote");
    cmd->add_flag("--local", a->local, "Write to .mlo/config.local.yaml (not shared through git)");
    ctx.on_run(cmd, [&ctx, a] {
      Repo& repo = ctx.repo();
      add_remote(repo.config(), a->name, a->url, a->make_default, a->local);
      RootState root = prepare_remote_root(resolve_remote(repo.config(), a->name));
      if (ctx.global.json) {
        static const char* states[] = {nullptr, "existed", "created", "missing"};
        nlohmann::json doc = {{"name", a->name}, {"url", redact_url(a->url)}, {"default", a->make_default},
                              {"local", a->local}};
        if (root != RootState::not_a_folder) doc["folder"] = states[static_cast<int>(root)];
        ctx.print_json(doc);
      } else if (!ctx.global.quiet) {
        std::cout << "Added remote '" << a->name << "' (" << redact_url(a->url) << ")" << (a->make_default ? " as the default" : "")
                  << " to " << (a->local ? ".mlo/config.local.yaml" : ".mlo/config.yaml") << "\n";
      }
      report_root(ctx, root, a->url);
    });
  }
  {
    auto* cmd = add_command(*remote, "ls", "List remotes");
    ctx.on_run(cmd, [&ctx] {
      auto all = list_remotes(ctx.repo().config());
      for (auto& r : all) {  // a URL in config.local.yaml may carry a password: never shown
        r.config.url = redact_url(r.config.url);
        for (auto& [k, v] : r.config.options) v = redact_url(v);
      }
      if (ctx.global.json) {
        nlohmann::json out = nlohmann::json::array();
        for (auto& r : all)
          out.push_back({{"name", r.config.name}, {"url", r.config.url}, {"default", r.is_default},
                         {"local", r.local}, {"options", r.config.options}});
        ctx.print_json(out);
        return;
      }
      for (auto& r : all) {
        std::cout << (r.is_default ? "* " : "  ") << r.config.name << "\t" << r.config.url;
        for (auto& [k, v] : r.config.options) std::cout << "\t" << k << "=" << v;
        if (r.local) std::cout << "\t(local)";
        std::cout << "\n";
      }
    });
  }
  {
    auto name = std::make_shared<std::string>();
    auto* cmd = add_command(*remote, "rm", "Remove a remote from the configuration (the data stays)");
    cmd->add_option("name", *name, "Remote name")->required();
    ctx.on_run(cmd, [&ctx, name] {
      remove_remote(ctx.repo().config(), *name);
      if (ctx.global.json) ctx.print_json({{"removed", *name}});
      else if (!ctx.global.quiet) std::cout << "Removed remote '" << *name << "'\n";
    });
  }
  {
    struct Args { std::string name, key, value; bool local = false, unset = false; };
    auto a = std::make_shared<Args>();
    auto* cmd = add_command(*remote, "modify", "Set a remote's option (url, endpoint, region, path_style, ...)");
    cmd->add_option("name", a->name, "Remote name")->required();
    cmd->add_option("key", a->key, "Option (see man mlo-remote)")->required();
    cmd->add_option("value", a->value, "Value");
    cmd->add_flag("--unset", a->unset, "Remove the option");
    cmd->add_flag("--local", a->local, "Write to .mlo/config.local.yaml (per-user setting)");
    ctx.on_run(cmd, [&ctx, a] {
      if (!a->unset && a->value.empty())
        throw UsageError("mlo remote modify needs a VALUE (or --unset)", "mlo remote modify NAME KEY VALUE");
      modify_remote(ctx.repo().config(), a->name, a->key, a->unset ? "" : a->value, a->local);
      RootState root = a->key == "url" && !a->unset ? prepare_remote_root(resolve_remote(ctx.repo().config(), a->name))
                                                   : RootState::not_a_folder;
      if (ctx.global.json)
        ctx.print_json({{"name", a->name}, {"key", a->key}, {"value", a->unset ? nlohmann::json() : nlohmann::json(redact_url(a->value))}});
      else if (!ctx.global.quiet)
        std::cout << (a->unset ? "Unset " : "Set ") << a->name << "." << a->key
                  << (a->unset ? "" : " = " + redact_url(a->value)) << "\n";
      report_root(ctx, root, a->value);
    });
  }
  register_remote_check(*remote, ctx);
}

void register_transfers(CLI::App& app, Context& ctx) {
  {
    auto a = std::make_shared<TransferArgs>();
    auto* cmd = add_command(app, "push");
    add_transfer_options(cmd, *a);
    cmd->add_flag("--verify", a->verify,
                  "Then download every object the data needs from the remote and check its SHA-256 (exit 1 if any "
                  "is missing or damaged)");
    cmd->add_flag("--create", a->create,
                  "Directory remotes: create the remote's folder (and the folders above it) when missing");
    ctx.on_run(cmd, [&ctx, a] {
      if (a->create && open_remote(ctx.repo(), a->remote)->create_root() && !ctx.global.quiet)
        log::info("created the remote folder for remote '" + resolve_remote(ctx.repo().config(), a->remote).name + "'");
      SyncResult r = push(ctx.repo(), request_for(ctx, *a));
      nlohmann::json doc = stats_json(r);
      if (a->verify) {
        SyncRequest req = request_for(ctx, *a);
        req.remote = r.remote.name;
        RemoteCheck check = check_remote(ctx.repo(), req);
        doc["verify"] = remote_check_json(check);
        if (!ctx.global.json && !ctx.global.quiet) std::cout << summary("Pushed", "to", r) << "\n";
        report_remote_check(ctx, check, false);
      }
      if (ctx.global.json) ctx.print_json(doc);
      else if (!ctx.global.quiet && !a->verify) std::cout << summary("Pushed", "to", r) << "\n";
      if (!r.stats.missing.empty()) {
        log::warn(std::to_string(r.stats.missing.size()) +
                  " object(s) are neither in the cache nor on the remote, e.g. " + r.stats.missing[0] +
                  " (run 'mlo data status' to see which data lacks content)");
        ctx.exit_code = 1;
      }
    });
  }
  auto fetch_action = [&ctx](const std::shared_ptr<TransferArgs>& a, bool checkout) {
    SyncResult r = fetch(ctx.repo(), request_for(ctx, *a));
    if (!r.stats.missing.empty())
      throw RemoteError(std::to_string(r.stats.missing.size()) + " object(s) are not on remote '" + r.remote.name +
                            "', e.g. " + r.stats.missing[0] + " (everything else was fetched)",
                        "push them from a clone that has the data ('mlo push'), then fetch again");
    if (!r.runs_missing.empty())
      log::warn(std::to_string(r.runs_missing.size()) + " object(s) of runs or pipeline outputs are not on remote '" +
                r.remote.name + "', e.g. " + r.runs_missing[0] + "; those stages re-run with 'mlo run'");
    nlohmann::json doc = stats_json(r);
    if (!r.models_missing.empty())
      log::warn(std::to_string(r.models_missing.size()) + " object(s) of registered models are not on remote '" +
                r.remote.name + "', e.g. " + r.models_missing[0] + "; push them from the clone that registered them");
    doc["runs_missing"] = r.runs_missing;
    doc["models_missing"] = r.models_missing;
    doc["model_objects"] = r.model_objects;
    std::string line = summary("Fetched", "from", r);
    if (checkout) {
      // Only the pointers this pull covered, so a path filter stays a filter.
      std::vector<std::string> data_paths;
      for (auto& p : r.pointers) data_paths.push_back((ctx.repo().root() / *data_path_for(p)).string());
      CheckoutOptions co;
      co.force = a->force;
      // No paths: the stage outputs mlo.lock records too (fetch brought them).
      CheckoutResult c = a->paths.empty()      ? app::workspace_checkout(ctx.repo(), {}, co)
                         : data_paths.empty() ? CheckoutResult{}
                                              : data_checkout(ctx.repo(), data_paths, co);
      warn_outputs_left(c);
      doc["checkout"] = checkout_json(c);
      line += "\nChecked out " + std::to_string(c.updated_count) + " file(s)" +
              (c.removed.empty() ? "" : ", removed " + std::to_string(c.removed.size())) + "; " +
              std::to_string(c.unchanged) + " already up to date";
    }
    if (ctx.global.json) ctx.print_json(doc);
    else if (!ctx.global.quiet) std::cout << line << "\n";
  };
  {
    auto a = std::make_shared<TransferArgs>();
    auto* cmd = add_command(app, "fetch");
    add_transfer_options(cmd, *a);
    cmd->add_flag("--models", a->models, "Also every registered model version's artifact");
    ctx.on_run(cmd, [a, fetch_action] { fetch_action(a, false); });
  }
  {
    auto a = std::make_shared<TransferArgs>();
    auto* cmd = add_command(app, "pull");
    add_transfer_options(cmd, *a);
    cmd->add_flag("--models", a->models, "Also every registered model version's artifact");
    cmd->add_flag("-f,--force", a->force, "Overwrite workspace changes that are not in the cache");
    ctx.on_run(cmd, [a, fetch_action] { fetch_action(a, true); });
  }
}

}  // namespace

nlohmann::json remote_check_json(const RemoteCheck& c) {
  const VerifyReport& v = c.report;
  auto entries = [&](const std::vector<std::string>& list) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : list) {
      auto it = c.needed_by.find(e.substr(0, 64));
      out.push_back({{"object", e.substr(0, 64)}, {"detail", e.size() > 64 ? e.substr(e[64] == ':' ? 66 : 65) : ""},
                     {"needed_by", it == c.needed_by.end() ? "" : it->second}});
    }
    return out;
  };
  return {{"ok", c.ok()},       {"remote", c.remote.name},       {"url", redact_url(c.remote.url)},
          {"objects", v.objects}, {"blobs", v.blobs},           {"bytes", v.bytes},
          {"missing", entries(v.missing)}, {"damaged", entries(v.damaged)}};
}

void report_remote_check(Context& ctx, const RemoteCheck& c, bool print_json) {
  const VerifyReport& v = c.report;
  if (!c.ok()) ctx.exit_code = 1;
  if (print_json) {
    ctx.print_json(remote_check_json(c));
    return;
  }
  if (ctx.global.json) return;  // the caller prints the JSON
  auto needed = [&](const std::string& e) {
    auto it = c.needed_by.find(e.substr(0, 64));
    return it == c.needed_by.end() ? std::string() : " (needed by " + it->second + ")";
  };
  for (const auto& m : v.missing) std::cout << ctx.paint("missing", "red") << " " << m << needed(m) << "\n";
  for (const auto& d : v.damaged) std::cout << ctx.paint("damaged", "red") << " " << d << needed(d) << "\n";
  if (!ctx.global.quiet)
    std::cout << "Checked " << v.objects << " object(s) on remote '" << c.remote.name << "': downloaded and hashed "
              << v.blobs << " blob(s) (" << human_bytes(v.bytes) << "); "
              << (c.ok() ? "all present and intact.\n"
                         : std::to_string(v.missing.size()) + " missing, " + std::to_string(v.damaged.size()) +
                               " damaged.\n");
  if (!v.missing.empty())
    log::warn("remote '" + c.remote.name + "' is missing data: run 'mlo push' from a clone that has it (push sends "
              "every object or chunk the remote lacks), then 'mlo fsck --remote " + c.remote.name + "' again");
  if (!v.damaged.empty())
    log::warn("remote '" + c.remote.name + "' holds damaged packs (named above): remove them from the remote, then "
              "run 'mlo push' from a clone that has the data");
}

MLO_REGISTER_COMMANDS(40, register_remote,
                      {"remote", "Manage remotes: where data is pushed and pulled"});
MLO_REGISTER_COMMANDS(41, register_transfers,
                      {"push", "Send tracked data the remote does not have"},
                      {"fetch", "Download tracked data into the cache (the workspace is not changed)"},
                      {"pull", "Fetch tracked data and check it out into the workspace"});
}  // namespace mlo::cli
