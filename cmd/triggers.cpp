// mlo triggers check|ls|history: when to retrain (lib/triggers).
#include "command.h"
#include "pipeline/metrics.h"
#include "triggers/triggers.h"

namespace mlo::cli {
namespace {

using json = nlohmann::json;

// Exit status of a check: 1 when a gate refused an action's promotion, 5
// when an action's step failed; firing is not a failure.
int check_exit_code(const std::vector<triggers::Decision>& ds) {
  int code = 0;
  for (const auto& d : ds) {
    if (d.state == "failed") code = 5;
    else if (d.state == "refused" && code == 0) code = 1;
  }
  return code;
}

void print_decisions(Context& ctx, const std::vector<triggers::Decision>& ds, bool act) {
  for (const auto& d : ds) {
    std::string mark = d.state == "due" ? ctx.paint("due", "yellow")
                       : d.state == "done" ? ctx.paint("fired", "green")
                       : d.state == "failed" || d.state == "refused" ? ctx.paint(d.state, "red")
                                                                     : d.state;
    std::cout << d.trigger << " (" << d.kind << "): " << mark << ": " << d.reason << "\n";
    if (d.outcome.is_object() && d.outcome.value("version", json()).is_string())
      std::cout << "  registered " << d.outcome["version"].get<std::string>() << "\n";
    if (d.state == "failed" && d.outcome.contains("steps") && !d.outcome["steps"].empty()) {
      const auto& last = d.outcome["steps"].back();
      std::cout << "  step failed: " << last.value("command", "") << " (exit " << last.value("exit_code", -1) << ")\n";
    }
  }
  bool any_due = std::any_of(ds.begin(), ds.end(), [](auto& d) { return d.state == "due"; });
  if (!act && any_due) std::cout << "(dry run: 'mlo triggers check --act' claims and acts on what is due)\n";
}

void register_triggers(CLI::App& app, Context& ctx) {
  auto* cmd = add_command(app, "triggers");
  cmd->require_subcommand(1);

  auto o = std::make_shared<triggers::CheckOptions>();
  auto now = std::make_shared<std::string>();
  auto* check = add_command(*cmd, "check", "Evaluate every trigger; with --act, claim and act on the due ones");
  check->add_flag("--act", o->act, "Claim each due occasion (a git ref) and run its action");
  check->add_flag("--push", o->push, "With --act: fetch and push claims on the registry's git remote, so one machine acts");
  check->add_option("--trigger", o->only, "Only this trigger");
  check->add_option("--now", *now, "Evaluate as of this time (ISO 8601 or epoch seconds; for tests and backfills)");
  ctx.on_run(check, [&ctx, o, now] {
    if (o->push && !o->act) throw UsageError("--push claims occasions, which only --act does", "add --act");
    if (!now->empty()) o->now = static_cast<std::int64_t>(monitor::parse_time(*now));
    o->mlo_exe = "/proc/self/exe";
    if (!ctx.global.json && !ctx.global.quiet) o->say = [](const std::string& line) { std::cout << "  " << line << "\n" << std::flush; };
    auto ds = triggers::check(ctx.repo(), *o);
    if (ctx.global.json) {
      json arr = json::array();
      for (const auto& d : ds) arr.push_back(d.to_json());
      ctx.print_json({{"act", o->act}, {"decisions", arr}});
    } else if (!ctx.global.quiet) {
      if (ds.empty()) std::cout << "No triggers in mlo.yaml (see man mlo-triggers).\n";
      print_decisions(ctx, ds, o->act);
    }
    ctx.exit_code = check_exit_code(ds);
  });

  auto* ls = add_command(*cmd, "ls", "The triggers of mlo.yaml: condition, action, next due time, last decision");
  ctx.on_run(ls, [&ctx] {
    json l = triggers::list(ctx.repo(), 0);
    if (ctx.global.json) return ctx.print_json({{"triggers", l}});
    std::vector<std::vector<std::string>> rows;
    for (const auto& t : l) {
      std::vector<std::string> steps;
      for (auto& s : t["action"]["run"]) steps.push_back("run " + s.get<std::string>());
      if (!t["action"]["register"].get<std::string>().empty()) steps.push_back("register " + t["action"]["register"].get<std::string>());
      if (!t["action"]["propose"].get<std::string>().empty()) steps.push_back("propose " + t["action"]["propose"].get<std::string>());
      std::string action;
      for (const auto& s : steps) action += (action.empty() ? "" : "; ") + s;
      std::string last = t.contains("last") ? t["last"]["at"].get<std::string>() + " " + t["last"]["state"].get<std::string>() : "-";
      rows.push_back({t["name"], t["kind"], t["condition"], t.value("next", "-"), action, last});
    }
    std::cout << text_table({"trigger", "kind", "condition", "next", "action", "last"}, rows);
  });

  auto name = std::make_shared<std::string>();
  auto* hist = add_command(*cmd, "history", "Every recorded decision (claims and outcomes), oldest first");
  hist->add_option("trigger", *name, "Only this trigger");
  ctx.on_run(hist, [&ctx, name] {
    auto h = triggers::history(ctx.repo(), *name);
    if (ctx.global.json) return ctx.print_json({{"decisions", h}});
    std::vector<std::vector<std::string>> rows;
    for (const auto& d : h)
      rows.push_back({d.value("claimed_at", ""), d.value("trigger", ""), d.value("state", ""), d.value("reason", ""),
                      d.value("claimed_by", "")});
    std::cout << text_table({"time", "trigger", "state", "why", "by"}, rows);
  });
}

}  // namespace
MLO_REGISTER_COMMANDS(62, register_triggers,
                      {"triggers", "Retraining triggers: schedule, new data, drift, performance; check and act"});
}  // namespace mlo::cli
