// mlo monitor: drift, quality and performance checks; history; retraining trigger.
#include <cstdlib>
#include <fstream>

#include "app/lineage.h"
#include "command.h"
#include "core/fs.h"
#include "core/process.h"
#include "monitor/labels.h"
#include "monitor/monitor.h"
#include "monitor/report.h"
#include "notify/notify.h"
#include "pipeline/metrics.h"
#include "triggers/action.h"

namespace mlo::cli {
namespace {

struct MonitorArgs {
  std::string name;
  std::vector<std::string> reference, current, features, numerical, categorical, ignored, column_methods, fail_on,
      segment_by;
  std::string format, target, prediction, timestamp, task, method, method_num, method_cat, since, until, window;
  std::string html, heatmap, model, training_data;
  std::optional<double> threshold, drift_share;
  std::uint64_t exact_limit = 0;
  bool markdown = false, no_cache = false, no_record = false, act = false;
};

monitor::MethodChoice parse_choice(const std::string& text, const std::string& what) {
  // METHOD or METHOD:THRESHOLD
  monitor::MethodChoice c;
  auto colon = text.find(':');
  c.method = text.substr(0, colon);
  monitor::find_method(*c.method);
  if (colon != std::string::npos) {
    double v;
    if (!monitor::parse_number(text.substr(colon + 1), v))
      throw UsageError(what + ": bad threshold in '" + text + "'", "write METHOD:THRESHOLD, e.g. psi:0.2");
    c.threshold = v;
  }
  return c;
}

monitor::MonitorSpec make_spec(Context& ctx, const MonitorArgs& a, Repo* repo) {
  monitor::MonitorSpec s;
  if (!a.name.empty()) {
    if (!repo) throw InputError("monitor '" + a.name + "' needs an mlo repository (mlo.yaml)", "run inside the repository");
    auto all = monitor::load_monitors(repo->root() / "mlo.yaml");
    auto it = all.find(a.name);
    if (it == all.end()) {
      std::string names;
      for (auto& [n, _] : all) names += (names.empty() ? "" : ", ") + n;
      throw InputError("no monitor '" + a.name + "' in mlo.yaml",
                       names.empty() ? "add it under 'monitors:' (see man mlo-monitor)" : "known monitors: " + names);
    }
    s = it->second;
    // paths in mlo.yaml are relative to the repository root
    auto rooted = [&](std::vector<std::string>& v) {
      for (auto& p : v)
        if (!p.empty() && p[0] != '/' && p != "auto") p = (repo->root() / p).string();
    };
    rooted(s.reference);
    rooted(s.current);
  }
  (void)ctx;
  if (!a.reference.empty()) s.reference = a.reference;
  if (!a.model.empty()) s.model = a.model;
  if (!a.training_data.empty()) s.training_data = a.training_data;
  bool ref_auto = s.reference.size() == 1 && s.reference[0] == "auto";
  if (ref_auto && s.model.empty())
    throw UsageError("--reference auto needs --model NAME#STAGE (or NAME@VERSION)",
                     "the reference is then the data that model version was trained on");
  if (!a.model.empty() && !ref_auto)
    throw UsageError("--model is used with --reference auto", "give --reference auto --model " + s.model);
  if (!a.current.empty()) s.current = a.current;
  if (!a.format.empty()) {
    if (a.format == "csv") s.format = monitor::Format::csv;
    else if (a.format == "tsv") s.format = monitor::Format::tsv;
    else if (a.format == "jsonl") s.format = monitor::Format::jsonl;
    else throw UsageError("--format must be csv, tsv or jsonl");
  }
  if (!a.features.empty()) s.roles.features = a.features;
  for (auto& c : a.numerical) s.roles.numerical.push_back(c);
  for (auto& c : a.categorical) s.roles.categorical.push_back(c);
  for (auto& c : a.ignored) s.roles.ignored.push_back(c);
  if (!a.target.empty()) s.roles.target = a.target;
  if (!a.prediction.empty()) s.roles.prediction = a.prediction;
  if (!a.timestamp.empty()) s.roles.timestamp = a.timestamp;
  if (!a.task.empty()) {
    if (a.task != "classification" && a.task != "regression") throw UsageError("--task must be classification or regression");
    s.roles.task = a.task;
  }
  if (!a.method.empty()) s.drift.all = parse_choice(a.method, "--method");
  if (a.threshold) s.drift.all.threshold = a.threshold;
  if (!a.method_num.empty()) s.drift.per_type[monitor::ColumnType::numerical] = parse_choice(a.method_num, "--num-method");
  if (!a.method_cat.empty()) s.drift.per_type[monitor::ColumnType::categorical] = parse_choice(a.method_cat, "--cat-method");
  for (auto& cm : a.column_methods) {
    auto eq = cm.find('=');
    if (eq == std::string::npos || eq == 0)
      throw UsageError("--column-method '" + cm + "': expected COLUMN=METHOD[:THRESHOLD]", "e.g. --column-method age=psi:0.2");
    s.drift.per_column[cm.substr(0, eq)] = parse_choice(cm.substr(eq + 1), "--column-method");
  }
  if (a.drift_share) {
    if (*a.drift_share <= 0 || *a.drift_share > 1) throw UsageError("--drift-share must be in (0, 1]");
    s.drift.drift_share = *a.drift_share;
  }
  if (!a.since.empty()) s.since = monitor::parse_time(a.since);
  if (!a.until.empty()) s.until = monitor::parse_time(a.until);
  if (!a.window.empty()) {
    double end = s.until.value_or(static_cast<double>(std::time(nullptr)));
    s.since = end - monitor::parse_duration(a.window);
    if (!s.until) s.until = end;
  }
  if (a.exact_limit) s.exact_limit = a.exact_limit;
  if (!a.segment_by.empty()) s.segments = a.segment_by;
  if (a.no_cache) s.use_profile_cache = false;
  return s;
}

Repo* maybe_repo(Context& ctx) {
  try {
    return &ctx.repo();
  } catch (const InputError&) {
    return nullptr;
  }
}

// --act: on dataset drift, run the monitor's on_drift: stages, register the
// result (with the run it came from) and propose it for a stage through the
// gates. The decision, each step and the evidence are recorded with the
// result (monitor history) and in the registry's tag messages.
void act(Context& ctx, Repo& repo, const monitor::MonitorSpec& spec, const nlohmann::json& result) {
  const auto& od = spec.on_drift;
  bool drift = result["summary"]["drift"] == "drift";
  std::string result_id = result.value("id", "");
  nlohmann::json evidence = {{"result_id", result_id},
                             {"drifted_columns", result["summary"]["drifted_columns"]},
                             {"dataset_drift", drift}};
  if (!drift) {
    if (!ctx.global.json && !ctx.global.quiet) std::cout << "No dataset drift: nothing to do.\n";
    if (!result_id.empty() && !od.empty())
      monitor::record_action(repo, result_id, spec.name, {{"status", "skipped"}, {"reason", "no dataset drift"},
                                                          {"evidence", evidence}});
    return;
  }
  if (od.empty())
    throw InputError("monitor '" + spec.name + "' has no on_drift: actions", "add on_drift: {run: [STAGE], register: MODEL} to mlo.yaml");
  std::string why = "monitor " + spec.name + ": dataset drift (" ;
  {
    std::string cols;
    for (auto& c : result["summary"]["drifted_columns"]) cols += (cols.empty() ? "" : ", ") + c.get<std::string>();
    why += cols + ")" + (result_id.empty() ? "" : ", result " + result_id.substr(0, 12));
  }
  bool talk = !ctx.global.json && !ctx.global.quiet;
  auto say = [talk](const std::string& line) {
    if (talk) std::cout << "on_drift: " << line << "\n" << std::flush;
  };
  triggers::ActionOutcome o = triggers::run_action(od, repo.root(), "/proc/self/exe", why, say);
  const std::string& status = o.status;
  const std::string& version = o.version;
  const nlohmann::json& steps = o.steps;
  nlohmann::json action = o.to_json(od);
  action["action"] = {{"on_drift", action["action"]}, {"steps", steps}};
  action.erase("steps");
  action["evidence"] = evidence;
  if (!result_id.empty()) monitor::record_action(repo, result_id, spec.name, action);
  if (status == "unchanged") {
    if (!ctx.global.json && !ctx.global.quiet)
      std::cout << "on_drift: retraining produced the same artifact as " << od.register_model << "@" << version
                << "; no new version registered (decision recorded)\n";
    return;
  }
  if (status == "refused") {
    if (!ctx.global.json && !ctx.global.quiet)
      std::cout << "on_drift: " << od.register_model << "@" << version << " registered; promotion to " << od.propose_stage
                << " refused by its gates (decision recorded)\n";
    ctx.exit_code = 1;
    return;
  }
  if (status != "done") {
    const auto& last = steps.back();
    std::string err = last.value("stderr", "");
    throw RunnerError("on_drift step failed: " + last["command"].get<std::string>() + " (exit " +
                          std::to_string(last["exit_code"].get<int>()) + ")" + (err.empty() ? "" : ": " + err),
                      "see the step's output above; the decision and its evidence are recorded in the history");
  }
  if (!ctx.global.json && !ctx.global.quiet && !version.empty())
    std::cout << "on_drift: registered " << od.register_model << "@" << version
              << (od.propose_stage.empty() ? "" : " and promoted it to " + od.propose_stage) << "\n";
}

void print_labels(const nlohmann::json& r) {
  std::string metric = r.value("metric", "accuracy");
  std::vector<std::vector<std::string>> rows;
  for (const auto& w : r["windows"]) {
    std::string versions;
    if (w.contains("by_version"))
      for (auto it = w["by_version"].begin(); it != w["by_version"].end(); ++it)
        if (it.value().contains(metric))
          versions += (versions.empty() ? "" : ", ") + it.key() + " " + value_text(it.value()[metric]);
    rows.push_back({w["start"], std::to_string(w.value("requests", 0)), std::to_string(w.value("labelled", 0)),
                    w.contains(metric) ? value_text(w[metric]) : "-", versions.empty() ? "-" : versions});
  }
  std::cout << "Labelled traffic of " << r["env"].get<std::string>() << " (" << r.value("task", "") << ", "
            << r.value("labels", 0) << " labels, " << r.value("unmatched_labels", 0) << " without a served request):\n"
            << text_table({"window", "requests", "labelled", metric, "by version"}, rows);
}

// mlo monitor labels ENV --from FILE: joins late labels to served requests by
// request id; without --from, shows the latest recorded join. Returns the
// action: `monitor`'s own callback runs last and calls it (as for history).
std::function<void()> register_labels(CLI::App& parent, Context& ctx, CLI::App*& cmd) {
  auto o = std::make_shared<monitor::LabelsOptions>();
  auto window = std::make_shared<std::string>("1d");
  auto no_record = std::make_shared<bool>(false);
  cmd = parent.add_subcommand("labels", "Join late labels to served requests by request id; performance per window");
  cmd->add_option("env", o->env, "The deployment environment")->required();
  cmd->add_option("--from", o->from, "Label files (csv, tsv, jsonl) or tracked paths");
  cmd->add_option("--key", o->key, "The labels' request id column (default request_id)");
  cmd->add_option("--target", o->target, "The labels' truth column (default y)");
  cmd->add_option("--window", *window, "Window width over request time (default 1d)");
  cmd->add_option("--task", o->task, "classification or regression (default: inferred from the labels)")
      ->check(CLI::IsMember({"classification", "regression"}));
  cmd->add_option("--threshold", o->threshold, "Classification of scores: prediction >= THRESHOLD is class 1");
  cmd->add_flag("--no-record", *no_record, "Do not keep the result in the labels history");
  auto share = std::make_shared<std::pair<bool, bool>>(false, false);  // fetch, push
  cmd->add_flag("--fetch", share->first, "First fetch the joins other clones pushed (the registry's git remote)");
  cmd->add_flag("--push", share->second, "Push the joins to the registry's git remote, for other clones");
  return [&ctx, o, window, no_record, share] {
    Repo& repo = ctx.repo();
    nlohmann::json r;
    if (share->first) monitor::fetch_labels(repo, o->env);
    if (o->from.empty()) {
      auto h = monitor::labels_history(repo, o->env);
      if (h.empty())
        throw InputError("no labels recorded for '" + o->env + "'", "join some: mlo monitor labels " + o->env + " --from labels.csv");
      r = h.back();
    } else {
      o->window_s = monitor::parse_duration(*window);
      r = monitor::join_labels(repo, *o);
      if (!*no_record) monitor::record_labels(repo, r);
    }
    std::string pushed = share->second ? monitor::push_labels(repo, o->env) : "";
    if (ctx.global.json) return ctx.print_json(r);
    if (ctx.global.quiet) return;
    print_labels(r);
    if (!pushed.empty()) std::cout << "Joins of " << o->env << " pushed to " << pushed << " (" << monitor::kLabelsRefs << o->env << "/)\n";
  };
}

void register_monitor(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<MonitorArgs>();
  auto* cmd = add_command(app, "monitor");
  // "history" is the subcommand, not a monitor name (validated positionals fall through to it).
  cmd->validate_positionals();
  cmd->add_option("name", a->name, "Monitor defined under 'monitors:' in mlo.yaml")
      ->check(CLI::Validator([](std::string& v) { return v == "history" || v == "labels" ? std::string("reserved") : std::string(); },
                             "NAME", "monitor name"));
  cmd->add_option("-r,--reference", a->reference, "Reference data: files, globs, tracked paths, PATH@REV");
  cmd->add_option("--model", a->model, "With --reference auto: NAME#STAGE or NAME@VERSION whose training data is the reference");
  cmd->add_option("--training-data", a->training_data, "With --reference auto: which dep of the training run is the data (path)");
  cmd->add_option("-c,--current", a->current, "Current data (same forms), or request logs (JSON Lines)");
  cmd->add_option("--format", a->format, "csv, tsv or jsonl (default: from the file name)");
  cmd->add_option("--features", a->features, "Columns to test for drift (default: all but target/prediction/timestamp)")->delimiter(',');
  cmd->add_option("--numerical", a->numerical, "Declare columns numerical")->delimiter(',');
  cmd->add_option("--categorical", a->categorical, "Declare columns categorical")->delimiter(',');
  cmd->add_option("--ignore", a->ignored, "Columns to leave out")->delimiter(',');
  cmd->add_option("--target", a->target, "Target column (target drift; performance with --prediction)");
  cmd->add_option("--prediction", a->prediction, "Prediction column (label, probability or value)");
  cmd->add_option("--timestamp", a->timestamp, "Timestamp column (for --since/--until/--window/--heatmap)");
  cmd->add_option("--task", a->task, "classification or regression (default: inferred from the target)");
  cmd->add_option("--method", a->method, "Drift method for every column: METHOD[:THRESHOLD]");
  cmd->add_option("--threshold", a->threshold, "Drift threshold for every column");
  cmd->add_option("--num-method", a->method_num, "Drift method for numerical columns: METHOD[:THRESHOLD]");
  cmd->add_option("--cat-method", a->method_cat, "Drift method for categorical columns: METHOD[:THRESHOLD]");
  cmd->add_option("--column-method", a->column_methods, "COLUMN=METHOD[:THRESHOLD] (repeatable)");
  cmd->add_option("--drift-share", a->drift_share, "Share of drifted columns that means dataset drift (default 0.5)");
  cmd->add_option("--since", a->since, "Only current rows at or after this time (ISO 8601 or epoch seconds)");
  cmd->add_option("--until", a->until, "Only current rows before this time");
  cmd->add_option("--window", a->window, "Only the last DURATION of current rows (e.g. 1d, 12h), ending at --until or now");
  cmd->add_option("--segment-by", a->segment_by,
                  "Also check each segment (value) of these columns, and the disparities between segments")
      ->delimiter(',');
  cmd->add_option("--html", a->html, "Write a self-contained HTML report to FILE");
  cmd->add_flag("--markdown", a->markdown, "Print the report as Markdown");
  cmd->add_option("--fail-on", a->fail_on,
                  "Exit 1 when these verdicts are bad (comma-separated): drift, target-drift, prediction-drift, "
                  "quality, performance")
      ->delimiter(',')
      ->check(CLI::IsMember({"drift", "target-drift", "prediction-drift", "quality", "performance"}));
  cmd->add_option("--heatmap", a->heatmap, "Write the day-by-day drift matrix of the current data to FILE (HTML with SVG)");
  cmd->add_option("--exact-limit", a->exact_limit, "Distinct values per column counted exactly before the sketch (default 100000)");
  cmd->add_flag("--no-cache", a->no_cache, "Do not use or store the cached reference profile");
  cmd->add_flag("--no-record", a->no_record, "Do not store the result in the history");
  cmd->add_flag("--act", a->act, "On dataset drift, carry out the monitor's on_drift: actions");

  auto* hist = cmd->add_subcommand("history", "Drift per column over time, from the stored results");
  auto hname = std::make_shared<std::string>();
  auto hlimit = std::make_shared<int>(50);
  hist->add_option("name", *hname, "Monitor name (default: all)");
  hist->add_option("-n,--limit", *hlimit, "Most recent results to show (default 50)");
  auto show_history = [&ctx, hname, hlimit] {
    Repo& repo = ctx.repo();
    auto h = monitor::history(repo, *hname, *hlimit);
    if (ctx.global.json) ctx.print_json({{"results", h}});
    else std::cout << monitor::render_history_text(h);
  };

  CLI::App* labels = nullptr;
  auto labels_action = register_labels(*cmd, ctx, labels);

  // (the parent's callback runs after the subcommand's, so one action serves both)
  ctx.on_run(cmd, [&ctx, a, hist, show_history, labels, labels_action] {
    if (labels->parsed()) return labels_action();
    if (hist->parsed()) {
      if (!a->heatmap.empty())
        throw UsageError("--heatmap draws the day-by-day drift of current data; 'monitor history' has none",
                         "run 'mlo monitor NAME --heatmap FILE' (or with --reference/--current and --timestamp)");
      show_history();
      return;
    }
    Repo* repo = maybe_repo(ctx);
    monitor::MonitorSpec spec = make_spec(ctx, *a, repo);
    if (!a->heatmap.empty()) {
      auto m = monitor::daily_drift_matrix(spec, repo);
      write_file_atomic(a->heatmap, monitor::render_heatmap_html(m, "mlo monitor " + spec.name + ": day-by-day drift"));
      if (ctx.global.json) ctx.print_json(m);
      else if (!ctx.global.quiet)
        std::cout << "Wrote " << a->heatmap << " (" << m["days"].size() << " days)\n";
      return;
    }
    if (spec.reference.empty())
      throw UsageError("no reference data", "name a monitor from mlo.yaml, or give --reference PATH and --current PATH");
    nlohmann::json result = monitor::run_monitor(spec, repo);
    // Re-rendering a recorded result (--html/--markdown on the same data)
    // names the stored one instead of adding a second history row.
    std::string repeated;
    if (repo && !a->no_record && (!a->html.empty() || a->markdown)) repeated = monitor::repeated_result(*repo, result);
    if (!repeated.empty()) {
      result["id"] = repeated;
    } else if (repo && !a->no_record) {
      monitor::record_result(*repo, result);
      app::record_monitor_use(*repo, result);  // a deployment's log: shared for lineage
      notify::drift(repo->root(), spec.name, result);
    }
    if (!a->html.empty()) write_file_atomic(a->html, monitor::render_html(result));
    const char* gha = std::getenv("GITHUB_ACTIONS");
    bool in_gha = gha && std::string(gha) == "true";
    if (ctx.global.json) {
      nlohmann::json out = result;
      ctx.print_json(out);
    } else if (a->markdown) {
      std::cout << monitor::render_markdown(result);
    } else if (!ctx.global.quiet) {
      std::cout << monitor::render_text(result, ctx.color_stdout);
      if (!a->html.empty()) std::cout << "Report: " << a->html << "\n";
      if (!repeated.empty()) std::cout << "Same result as " << repeated.substr(0, 12) << " (not recorded again)\n";
    }
    if (in_gha) {
      std::cout << std::flush;  // annotations after the report, never inside --json stdout
      std::cerr << monitor::render_annotations(result) << std::flush;
      if (const char* sum = std::getenv("GITHUB_STEP_SUMMARY"); sum && *sum) {
        std::ofstream f(sum, std::ios::app);
        f << monitor::render_markdown(result);
      }
    }
    bool bad = false;
    for (auto& f : a->fail_on) {
      std::string key = f == "target-drift" ? "target_drift" : f == "prediction-drift" ? "prediction_drift" : f;
      std::string v = result["summary"].value(key, "unknown");
      if (v == "drift" || v == "fail") bad = true;
    }
    if (a->act) {
      if (!repo) throw InputError("--act needs an mlo repository", "run inside the repository");
      act(ctx, *repo, spec, result);
    }
    if (bad) ctx.exit_code = 1;
  });
}

}  // namespace
MLO_REGISTER_COMMANDS(60, register_monitor,
                      {"monitor", "Check data drift, data quality and model performance against a reference"});
}  // namespace mlo::cli
