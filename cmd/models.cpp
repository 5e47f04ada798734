// mlo models ls/show/history/card/alias: reading the model registry.
#include <iomanip>

#include "app/artifacts.h"
#include "command.h"
#include "core/fs.h"
#include "registry/registry.h"

namespace mlo::cli {
namespace {

using namespace mlo::registry;

std::string join(const std::vector<std::string>& v, const std::string& sep = ", ") {
  std::string out;
  for (const auto& x : v) out += (out.empty() ? "" : sep) + x;
  return out;
}

void show_version(Context& ctx, const ModelState& m, const VersionInfo& v) {
  nlohmann::json j = version_json(m, v);
  if (ctx.global.json) {
    ctx.print_json(j);
    return;
  }
  std::cout << ctx.paint(m.name + "@" + v.version, "bold") << (v.active ? "" : "  (deregistered)") << "\n";
  std::cout << "  tag:        " << v.tag << "\n  commit:     " << v.commit << "\n";
  std::cout << "  registered: " << format_time(v.time) << " by " << v.author << " <" << v.email << ">\n";
  if (j.contains("description")) std::cout << "  about:      " << j["description"].get<std::string>() << "\n";
  if (j.contains("model_type")) std::cout << "  type:       " << j["model_type"].get<std::string>() << "\n";
  if (j.contains("artifact")) {
    const auto& a = j["artifact"];
    std::cout << "  artifact:   " << a.value("path", "") << " (" << a.value("type", "file") << ", "
              << a.value("size", 0) << " bytes) sha256 " << a.value("sha256", "") << "\n";
  }
  if (j.contains("run")) std::cout << "  run:        " << j["run"].get<std::string>() << "\n";
  std::cout << "  stages:     " << (v.stages.empty() ? "-" : join(v.stages)) << "\n";
  if (!v.aliases.empty()) std::cout << "  aliases:    " << join(v.aliases) << "\n";
  if (j.contains("labels"))
    for (auto& [k, val] : j["labels"].items()) std::cout << "  label:      " << k << "=" << val.get<std::string>() << "\n";
  if (j.contains("metrics"))
    for (auto& [k, val] : j["metrics"].items()) std::cout << "  metric:     " << k << " = " << val.dump() << "\n";
  for (const auto& a : j["approvals"])
    std::cout << "  approved:   " << a["stage"].get<std::string>() << " by " << a["by"].get<std::string>() << " <"
              << a["email"].get<std::string>() << "> " << a["date"].get<std::string>() << "\n";
}

// mlo models get REF [-o PATH]: the registered bytes, from the cache or the remote.
void register_models_get(CLI::App& grp, Context& ctx) {
  auto ref = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  auto* get = add_command(grp, "get", "Write a version's registered artifact to a path (fetched from the remote if needed)");
  get->add_option("ref", *ref, "NAME@VERSION, NAME#STAGE, NAME@ALIAS or NAME")->required();
  get->add_option("-o,--output", *out, "Where to write it (default: its own name in the current folder)");
  get->add_flag("-f,--force", *force, "Replace an existing file or folder");
  ctx.on_run(get, [&ctx, ref, out, force] {
    app::ModelGetResult r = app::get_model(ctx.repo(), *ref, *out, *force);
    if (ctx.global.json) {
      ctx.print_json({{"name", r.name}, {"version", r.version}, {"tag", r.tag}, {"sha256", r.sha256},
                      {"type", r.type}, {"path", r.path.string()}, {"bytes", r.bytes}, {"files", r.files},
                      {"fetched", r.fetched}});
      return;
    }
    if (ctx.global.quiet) return;
    std::cout << "Wrote " << r.path.string() << " (" << r.name << "@" << r.version << ", " << r.files
              << (r.files == 1 ? " file, " : " files, ") << r.bytes << " bytes"
              << (r.fetched ? ", fetched from the remote" : "") << ")\n";
  });
}

void register_models(CLI::App& app, Context& ctx) {
  auto* grp = add_command(app, "models");
  grp->require_subcommand(1);

  auto* ls = add_command(*grp, "ls", "List models with their latest version and stages");
  ctx.on_run(ls, [&ctx] {
    auto models = list_models(ctx.repo());
    if (ctx.global.json) {
      ctx.print_json(models);
      return;
    }
    if (models.empty()) {
      std::cout << "No models registered. Register one with 'mlo register NAME PATH'.\n";
      return;
    }
    std::cout << std::left << std::setw(24) << "MODEL" << std::setw(12) << "LATEST" << std::setw(10) << "VERSIONS"
              << "STAGES\n";
    for (const auto& m : models) {
      std::string stages;
      for (auto& [s, holders] : m["stages"].items()) {
        std::vector<std::string> h = holders.get<std::vector<std::string>>();
        stages += (stages.empty() ? "" : "  ") + s + "=" + join(h, ",");
      }
      for (auto& [a, v] : m["aliases"].items()) stages += (stages.empty() ? "" : "  ") + std::string("@") + a + "=" + v.get<std::string>();
      std::string latest = m["latest"].is_string() ? m["latest"].get<std::string>() : "-";
      std::cout << std::setw(24) << (m["name"].get<std::string>() + (m["deprecated"].get<bool>() ? " (deprecated)" : ""))
                << std::setw(12) << latest << std::setw(10) << m["versions"].get<int>() << stages << "\n";
    }
  });

  auto ref = std::make_shared<std::string>();
  auto* show = add_command(*grp, "show", "Show a model, or one version: NAME, NAME@VERSION, NAME#STAGE");
  show->add_option("ref", *ref, "NAME, NAME@VERSION, NAME@latest, NAME@greatest, NAME@ALIAS, NAME#STAGE")->required();
  ctx.on_run(show, [&ctx, ref] {
    ModelRef r = parse_model_ref(*ref);
    if (r.kind != ModelRef::Kind::name_only) {
      ModelState m = load_model(ctx.repo(), r.name);
      ResolvedModel rm = resolve_model(m, r);
      show_version(ctx, m, *m.find(rm.version));
      return;
    }
    ModelState m = load_model(ctx.repo(), r.name);
    if (ctx.global.json) {
      nlohmann::json j = m.summary_json();
      nlohmann::json vs = nlohmann::json::array();
      for (const auto& v : m.versions) vs.push_back(version_json(m, v));
      j["versions"] = vs;
      ctx.print_json(j);
      return;
    }
    std::cout << ctx.paint(m.name, "bold") << (m.deprecated ? "  (deprecated)" : "") << "\n";
    for (auto it = m.versions.rbegin(); it != m.versions.rend(); ++it) {
      std::string extra = join(it->stages);
      if (!it->aliases.empty()) extra += (extra.empty() ? "@" : "  @") + join(it->aliases, " @");
      std::cout << "  " << std::left << std::setw(12) << it->version << format_time(it->time) << "  " << it->author
                << (it->active ? "" : "  (deregistered)") << (extra.empty() ? "" : "  [" + extra + "]") << "\n";
    }
  });

  auto hname = std::make_shared<std::string>();
  auto* history = add_command(*grp, "history", "Every event of a model, oldest first");
  history->add_option("name", *hname, "Model name")->required();
  ctx.on_run(history, [&ctx, hname] {
    ModelState m = load_model(ctx.repo(), parse_model_ref(*hname).name);
    if (ctx.global.json) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& e : m.events) j.push_back(e.to_json());
      ctx.print_json(j);
      return;
    }
    for (const auto& e : m.events) {
      std::string ver = e.meta.is_object() ? e.meta.value("version", e.version) : e.version;
      std::string what = to_string(e.kind);
      if (e.is_alias()) what = e.kind == TagKind::assign ? "alias set" : "alias removed";
      std::cout << format_time(e.time) << "  " << std::left << std::setw(15) << what << std::setw(10) << ver
                << std::setw(12) << e.stage << e.author << (e.forced() ? "  FORCED" : "");
      if (e.meta.is_object() && e.meta.contains("replaced_by"))
        std::cout << "  (replaced by " << e.meta["replaced_by"].get<std::string>() << ")";
      std::cout << "  " << e.tag << "\n";
    }
  });

  auto cref = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto* card = add_command(*grp, "card", "Write a Markdown model card for a version");
  card->add_option("ref", *cref, "NAME@VERSION (or any model reference)")->required();
  card->add_option("-o,--output", *out, "Write to this file instead of stdout");
  ctx.on_run(card, [&ctx, cref, out] {
    std::string md = model_card(ctx.repo(), *cref);
    if (!out->empty()) write_file_atomic(*out, md);
    if (ctx.global.json) {
      // The card's text and the version it describes (models show NAME@VERSION's document).
      ResolvedModel rm = resolve_model(ctx.repo(), *cref);
      ModelState m = load_model(ctx.repo(), rm.name);
      ctx.print_json({{"version", version_json(m, *m.find(rm.version))},
                      {"markdown", md},
                      {"output", out->empty() ? nlohmann::json(nullptr) : nlohmann::json(*out)}});
      return;
    }
    if (out->empty()) {
      std::cout << md;
      return;
    }
    if (!ctx.global.quiet) std::cout << "Wrote " << *out << "\n";
  });

  register_models_get(*grp, ctx);

  auto aref = std::make_shared<std::string>();
  auto alias = std::make_shared<std::string>();
  auto del = std::make_shared<bool>(false);
  auto push = std::make_shared<bool>(false);
  auto* al = add_command(*grp, "alias", "Point a mutable alias (champion, challenger) at a version");
  al->add_option("ref", *aref, "NAME@VERSION (or NAME with --delete)")->required();
  al->add_option("alias", *alias, "The alias")->required();
  al->add_flag("--delete", *del, "Remove the alias");
  al->add_flag("--push", *push, "Push the tags");
  ctx.on_run(al, [&ctx, aref, alias, del, push] {
    ChangeResult r = set_alias(ctx.repo(), *aref, *alias, *del, *push);
    if (ctx.global.json) {
      ctx.print_json({{"tags", r.tags}, {"pushed", r.pushed}});
      return;
    }
    if (ctx.global.quiet) return;
    if (r.tags.empty()) std::cout << "Alias " << *alias << " names " << *aref << " already.\n";
    for (const auto& t : r.tags) std::cout << "Created tag " << t << "\n";
  });
}

}  // namespace
MLO_REGISTER_COMMANDS(55, register_models,
                      {"models", "List and inspect registered models"});
}  // namespace mlo::cli
