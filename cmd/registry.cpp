// mlo register, promote, demote, deprecate, approve, lineage, audit,
// registry check-ref/rebuild: the model registry (lib/registry).
#include <cstdlib>
#include <fstream>

#include "app/lineage.h"
#include "app/lineage_walk.h"
#include "app/remote_presence.h"
#include "command.h"
#include "step_summary.h"
#include "core/fs.h"
#include "notify/notify.h"
#include "registry/registry.h"

namespace mlo::cli {
namespace {

using namespace mlo::registry;

void print_gates(Context& ctx, const std::vector<GateResult>& gates) {
  for (const auto& g : gates) {
    std::string verdict = g.passed ? ctx.paint("pass", "green") : ctx.paint("FAIL", "red");
    std::cout << "  [" << verdict << "] " << g.gate << ": " << g.what << " -> " << g.value;
    if (!g.detail.empty()) std::cout << "  (" << g.detail << ")";
    std::cout << "\n";
  }
}

// The job summary of a promotion under GitHub Actions: the verdict and each gate.
void summarize_promotion(const PromoteResult& r, bool refused, bool dry_run) {
  std::string verdict = r.already ? "already there" : refused ? "refused" : dry_run ? "dry run" : r.forced ? "forced" : "promoted";
  std::vector<std::vector<std::string>> rows;
  for (const auto& g : r.gates) rows.push_back({g.gate, g.what, g.value, g.passed ? "pass" : "FAIL", g.detail});
  write_step_summary("### mlo promote " + r.model + "@" + r.version + " to " + r.stage + ": " + verdict + "\n\n" +
                     (rows.empty() ? std::string() : summary_table({"gate", "rule", "value", "result", "detail"}, rows)));
}

void print_change(Context& ctx, const ChangeResult& r, const std::string& what) {
  if (ctx.global.json) {
    ctx.print_json({{"tags", r.tags}, {"pushed", r.pushed}});
    return;
  }
  if (ctx.global.quiet) return;
  if (r.tags.empty()) std::cout << "Nothing to change.\n";
  for (const auto& t : r.tags) std::cout << "Created tag " << t << "\n";
  if (!r.tags.empty()) std::cout << what << (r.pushed ? " (pushed)" : "") << "\n";
}

void register_register(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<RegisterOptions>();
  auto labels = std::make_shared<std::vector<std::string>>();
  auto* cmd = add_command(app, "register");
  cmd->add_option("name", o->name, "Model name (GTO's rule: letters, digits, '-', '_', '/'; optional FOLDER: prefix)")->required();
  cmd->add_option("path", o->path, "The model file or folder (default: models.NAME.path in mlo.yaml)");
  cmd->add_option("--run", o->run_id, "The run that produced it (records its params, metrics, data)");
  cmd->add_option("--stage", o->stage_out, "Take the output of the latest run of this pipeline stage");
  cmd->add_option("--bump", o->bump, "Which part of the greatest version to bump: major, minor or patch (default)");
  cmd->add_option("--version", o->version, "Explicit version, e.g. v1.2.0");
  cmd->add_option("-d,--description", o->description, "What this model is");
  cmd->add_option("-l,--label", *labels, "A label KEY=VALUE (repeatable)");
  cmd->add_option("--type", o->type, "Model type, e.g. sklearn, onnx, torch");
  cmd->add_option("--signature", o->signature_file,
                  "Input/output signature (JSON or YAML file; default: inferred from the model file or its training data)");
  cmd->add_option("--target", o->target, "The training data's target column (the others are the inferred signature's inputs)");
  cmd->add_option("--metrics", o->metrics_file, "Evaluation metrics (JSON or YAML object of name: number)");
  cmd->add_flag("--push", o->push, "Push the tag to the registry's git remote");
  cmd->add_flag("--if-changed", o->if_changed, "Register nothing when the latest version has the same bytes");
  ctx.on_run(cmd, [&ctx, o, labels] {
    for (const auto& l : *labels) {
      size_t eq = l.find('=');
      if (eq == std::string::npos || eq == 0) throw UsageError("--label: expected KEY=VALUE, got '" + l + "'");
      o->labels[l.substr(0, eq)] = l.substr(eq + 1);
    }
    RegisterResult r = register_model(ctx.repo(), *o);
    if (!r.run_note.empty() && !ctx.global.quiet) std::cerr << "note: " << r.run_note << "\n";
    if (ctx.global.json) {
      ModelState m = load_model(ctx.repo(), o->name);
      nlohmann::json j = version_json(m, r.info);
      j["pushed"] = r.pushed;
      j["registered"] = !r.unchanged;
      if (!r.run_note.empty()) j["run_note"] = r.run_note;
      ctx.print_json(j);
      return;
    }
    if (ctx.global.quiet) return;
    if (r.unchanged) {
      std::cout << "Unchanged: " << o->name << "@" << r.version << " has the same bytes; nothing registered\n";
      return;
    }
    std::cout << "Registered " << o->name << " " << r.version << " (tag " << r.tag << ")\n";
    if (r.info.meta.contains("artifact"))
      std::cout << "  artifact " << r.info.meta["artifact"].value("path", "") << " sha256 "
                << r.info.meta["artifact"].value("sha256", "").substr(0, 12) << "\n";
    if (!r.pushed) std::cout << "Share it with 'git push --tags' (or register with --push).\n";
  });
}

// A refusal and a forced promotion are news for the notify: targets.
void notify_promotion(Repo& repo, const PromoteResult& r, bool refused, const std::string& message) {
  if (!refused && !r.forced) return;
  notify::Event e;
  e.kind = refused ? notify::kGateRefused : notify::kForcedPromotion;
  e.subject = r.model + "@" + r.version;
  nlohmann::json gates = nlohmann::json::array();
  std::string failed;
  for (const auto& g : r.gates) {
    gates.push_back(g.to_json());
    if (!g.passed) failed += (failed.empty() ? "" : ", ") + g.what;
  }
  e.summary = r.model + "@" + r.version + (refused ? " refused for " : " FORCED into ") + r.stage +
              (failed.empty() ? "" : " (failing: " + failed + ")");
  e.detail = {{"model", r.model}, {"version", r.version}, {"stage", r.stage}, {"gates", gates}, {"message", message}};
  // Each forced promotion is its own event (its tag); a repeated refusal is the same one.
  e.dedup_key = refused ? e.kind + r.model + r.version + r.stage : (r.tags.empty() ? "" : r.tags.front());
  notify::send(repo.root(), e);
}

void register_promote(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<PromoteOptions>();
  auto* cmd = add_command(app, "promote");
  cmd->add_option("ref", o->ref, "NAME@VERSION (or any model reference)")->required();
  cmd->add_option("--to", o->stage, "Target stage")->required();
  cmd->add_option("-m,--message", o->message, "Why");
  cmd->add_flag("--force", o->force, "Promote even when gates refuse (recorded as forced)");
  cmd->add_flag("--dry-run", o->dry_run, "Evaluate the gates only");
  cmd->add_flag("--push", o->push, "Push the tags to the registry's git remote");
  ctx.on_run(cmd, [&ctx, o] {
    app::install_remote_presence_check();  // for the on_remote gate
    PromoteResult r = promote(ctx.repo(), *o);
    bool refused = !r.already && !r.promoted && !o->dry_run;
    bool dry_fail = o->dry_run && std::any_of(r.gates.begin(), r.gates.end(), [](auto& g) { return !g.passed; });
    if (refused || dry_fail) ctx.exit_code = 1;
    summarize_promotion(r, refused, o->dry_run);
    if (!o->dry_run && !r.already) notify_promotion(ctx.repo(), r, refused, o->message);
    if (ctx.global.json) {
      ctx.print_json(r.to_json());
      return;
    }
    std::string ref = r.model + "@" + r.version;
    if (r.already) {
      if (!ctx.global.quiet) std::cout << ref << " is in " << r.stage << " already; nothing changed.\n";
      return;
    }
    if (!r.gates.empty()) {
      std::cout << "Gates for " << r.stage << ":\n";
      print_gates(ctx, r.gates);
    }
    if (refused) {
      std::cerr << "mlo: promotion of " << ref << " to " << r.stage << " refused by the gates above; nothing changed\n"
                << "hint: fix what failed, or override with --force (recorded as forced)\n";
      return;
    }
    if (o->dry_run) {
      std::cout << (dry_fail ? "Would be refused." : "Would be promoted.") << "\n";
      return;
    }
    if (ctx.global.quiet) return;
    for (const auto& t : r.tags) std::cout << "Created tag " << t << "\n";
    std::cout << "Promoted " << ref << " to " << r.stage << (r.forced ? " (FORCED past failing gates)" : "");
    if (!r.replaced.empty()) std::cout << "; " << r.model << "@" << r.replaced << " moved out";
    std::cout << (r.pushed ? " (pushed)" : "") << "\n";
  });
}

void register_demote(CLI::App& app, Context& ctx) {
  auto ref = std::make_shared<std::string>();
  auto stage = std::make_shared<std::string>();
  auto msg = std::make_shared<std::string>();
  auto push = std::make_shared<bool>(false);
  auto* cmd = add_command(app, "demote");
  cmd->add_option("ref", *ref, "NAME@VERSION or NAME#STAGE")->required();
  cmd->add_option("--from", *stage, "The stage to leave (default: every stage it holds)");
  cmd->add_option("-m,--message", *msg, "Why");
  cmd->add_flag("--push", *push, "Push the tags");
  ctx.on_run(cmd, [&ctx, ref, stage, msg, push] {
    print_change(ctx, demote(ctx.repo(), *ref, *stage, *msg, *push), "Demoted " + *ref);
  });
}

void register_deprecate(CLI::App& app, Context& ctx) {
  auto ref = std::make_shared<std::string>();
  auto msg = std::make_shared<std::string>();
  auto push = std::make_shared<bool>(false);
  auto dereg = std::make_shared<bool>(false);
  auto* cmd = add_command(app, "deprecate");
  cmd->add_option("ref", *ref, "NAME@VERSION (archive it) or NAME (deprecate the model)")->required();
  cmd->add_flag("--deregister", *dereg, "Deregister the version instead (GTO's NAME@VERSION!)");
  cmd->add_option("-m,--message", *msg, "Why");
  cmd->add_flag("--push", *push, "Push the tags");
  ctx.on_run(cmd, [&ctx, ref, msg, push, dereg] {
    print_change(ctx, deprecate(ctx.repo(), *ref, *dereg, *msg, *push), "Deprecated " + *ref);
  });
}

void register_approve(CLI::App& app, Context& ctx) {
  auto ref = std::make_shared<std::string>();
  auto stage = std::make_shared<std::string>();
  auto msg = std::make_shared<std::string>();
  auto push = std::make_shared<bool>(false);
  auto* cmd = add_command(app, "approve");
  cmd->add_option("ref", *ref, "NAME@VERSION")->required();
  cmd->add_option("--stage", *stage, "The stage the approval is for")->required();
  cmd->add_option("-m,--message", *msg, "Why");
  cmd->add_flag("--push", *push, "Push the tag");
  ctx.on_run(cmd, [&ctx, ref, stage, msg, push] {
    print_change(ctx, approve(ctx.repo(), *ref, *stage, *msg, *push), "Approved " + *ref + " for " + *stage);
  });
}

void register_lineage(CLI::App& app, Context& ctx) {
  auto target = std::make_shared<std::string>();
  auto dot = std::make_shared<bool>(false);
  auto* cmd = add_command(app, "lineage");
  cmd->add_option("target", *target, "NAME@VERSION, NAME#STAGE, a run id, or a path")->required();
  cmd->add_flag("--dot", *dot, "Print Graphviz dot");
  ctx.on_run(cmd, [&ctx, target, dot] {
    nlohmann::json tree = app::full_lineage(ctx.repo(), *target);
    if (ctx.global.json) {
      // The tree (root node with children) plus the same lineage as a graph.
      nlohmann::json graph = app::lineage_graph(tree);
      tree["nodes"] = std::move(graph["nodes"]);
      tree["edges"] = std::move(graph["edges"]);
      ctx.print_json(tree);
    } else if (*dot) {
      std::cout << app::lineage_dot(tree);
    } else {
      std::cout << lineage_text(tree);
    }
  });
}

void register_audit(CLI::App& app, Context& ctx) {
  auto since = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto* cmd = add_command(app, "audit");
  cmd->add_option("name", *name, "Only this model");
  cmd->add_option("--since", *since, "Only events from this date (YYYY-MM-DD[THH:MM:SS], UTC)");
  ctx.on_run(cmd, [&ctx, since, name] {
    std::int64_t from = since->empty() ? 0 : parse_date(*since);
    auto entries = app::audit_log(ctx.repo(), *name, from);
    if (ctx.global.json) {
      ctx.print_json(entries);
      return;
    }
    for (const auto& e : entries) {
      std::string ver = e.value("version", "");
      std::string who = e.value("author", "");
      std::string email = e.value("author_email", "");
      std::cout << e["date"].get<std::string>() << "  ";
      if (e["source"] == "deploy") {
        const auto& d = e["detail"];
        std::cout << e["event"].get<std::string>() << "  " << e["name"].get<std::string>() << (ver.empty() ? "" : "@" + ver)
                  << "  env " << e["env"].get<std::string>();
        if (d.contains("target")) std::cout << "  target " << d["target"].get<std::string>();
        if (d.contains("strategy") && d["strategy"].is_string()) std::cout << "  strategy " << d["strategy"].get<std::string>();
        std::cout << "  by " << (who.empty() ? "?" : who) << (email.empty() ? "" : " <" + email + ">") << "  [deploy]\n";
        continue;
      }
      if (e["source"] == "trigger") {
        std::cout << e["event"].get<std::string>() << "  " << e["name"].get<std::string>() << (ver.empty() ? "" : "  -> " + ver)
                  << "  \"" << e["detail"].value("reason", "") << "\"  by " << who << "  [trigger]\n";
        continue;
      }
      std::string what = e["event"].get<std::string>();
      bool alias = e.contains("alias");
      if (alias) what = what == "assignment" ? "alias set" : "alias removed";
      std::cout << what << "  " << e["name"].get<std::string>() << (ver.empty() ? "" : "@" + ver);
      if (e.contains("stage")) std::cout << "  stage " << e["stage"].get<std::string>();
      if (alias) std::cout << "  alias " << e["alias"].get<std::string>();
      std::cout << "  by " << who << " <" << email << ">";
      if (e.value("forced", false)) std::cout << "  " << ctx.paint("FORCED", "red");
      if (e.contains("replaced_by") && e["replaced_by"].is_string())
        std::cout << "  (replaced by " << e["replaced_by"].get<std::string>() << ")";
      if (e.contains("reason") && e["reason"].is_string()) std::cout << "  \"" << e["reason"].get<std::string>() << "\"";
      std::cout << "  [" << e["tag"].get<std::string>() << "]\n";
    }
  });
}

void register_registry(CLI::App& app, Context& ctx) {
  auto* grp = add_command(app, "registry");
  grp->require_subcommand(1);
  auto ref = std::make_shared<std::string>();
  auto* check = add_command(*grp, "check-ref", "Tell what a registry tag means (for CI)");
  check->add_option("ref", *ref, "A tag name or refs/tags/NAME (e.g. $GITHUB_REF)")->required();
  ctx.on_run(check, [&ctx, ref] {
    nlohmann::json j = check_ref(ctx.repo(), *ref);
    if (const char* out = std::getenv("GITHUB_OUTPUT"); out && *out && std::getenv("GITHUB_ACTIONS")) {
      std::ofstream f(out, std::ios::app);
      for (const char* k : {"tag", "event", "name", "version", "stage"})
        f << k << "=" << (j[k].is_string() ? j[k].get<std::string>() : "") << "\n";
      if (j.contains("artifact_sha256")) f << "artifact_sha256=" << j["artifact_sha256"].get<std::string>() << "\n";
      f << "exists=" << (j["exists"].get<bool>() ? "true" : "false") << "\n";
    }
    // A tag that names a registry event but is not there: the check fails (exit 1), like GTO's.
    if (!j["exists"].get<bool>()) ctx.exit_code = 1;
    if (ctx.global.json) {
      ctx.print_json(j);
      return;
    }
    if (!j["exists"].get<bool>()) {
      std::cerr << "mlo: no tag '" << j["tag"].get<std::string>() << "' in this repository (git fetch --tags?)\n";
      return;
    }
    std::cout << "event: " << j["event"].get<std::string>() << "\nname: " << j["name"].get<std::string>() << "\n";
    if (j["version"] != "") std::cout << "version: " << j["version"].get<std::string>() << "\n";
    if (j["stage"] != "") std::cout << "stage: " << j["stage"].get<std::string>() << "\n";
  });
  auto* rebuild = add_command(*grp, "rebuild", "Rebuild the registry's index from the git tags");
  ctx.on_run(rebuild, [&ctx] {
    rebuild_registry_index(ctx.repo());
    auto models = list_models(ctx.repo());
    if (ctx.global.json) ctx.print_json({{"models", models.size()}});
    else if (!ctx.global.quiet) std::cout << "Rebuilt the registry index: " << models.size() << " models\n";
  });
}

void register_registry_commands(CLI::App& app, Context& ctx) {
  register_register(app, ctx);
  register_promote(app, ctx);
  register_demote(app, ctx);
  register_deprecate(app, ctx);
  register_approve(app, ctx);
  register_lineage(app, ctx);
  register_audit(app, ctx);
  register_registry(app, ctx);
}

}  // namespace
MLO_REGISTER_COMMANDS(50, register_registry_commands,
                      {"register", "Register a new version of a model (an annotated git tag)"},
                      {"promote", "Promote a model version to a stage, through the stage's gates"},
                      {"demote", "Take a model version out of a stage (or all its stages)"},
                      {"deprecate", "Archive a model version, or deprecate a whole model"},
                      {"approve", "Approve a model version for a stage (as your git identity)"},
                      {"lineage", "Show data -> runs -> model versions -> stages -> deployments -> monitor results"},
                      {"audit", "Every registration, approval, promotion, override, deployment and rollback, with who and when"},
                      {"registry", "Registry plumbing: check-ref for CI, index rebuild"});
}  // namespace mlo::cli
