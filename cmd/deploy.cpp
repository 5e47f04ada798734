// mlo deploy: serve a model version locally behind mlo's router, score a file
// in batch, or render Kubernetes manifests; manage running environments.
#include <fstream>

#include "command.h"
#include "deploy_experiment.h"
#include "core/fs.h"
#include "deploy/deploy.h"

namespace mlo::cli {
namespace {

using nlohmann::json;

// One history line's "what": the version, and an experiment plan's size.
std::string event_what(const deploy::DeployEvent& e) {
  std::string what = e.model.empty() ? "-" : e.model + "@" + e.version;
  if (e.action == "experiment-plan" && e.detail.value("n_per_arm", json()).is_number_integer())
    what += "  metric " + e.detail.value("metric", "") + ", " + std::to_string(e.detail["n_per_arm"].get<long>()) + " per arm";
  return what;
}

std::string brief(const json& b) {
  if (!b.is_object()) return "-";
  return b.value("model", "") + "@" + b.value("version", "");
}

std::string fmt_ms(const json& v) {
  if (!v.is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v.get<double>());
  return buf;
}

// validate_requests: "requests checked 40, invalid 3 (warn): range age 2, in city 1".
void print_request_validation(const json& v) {
  if (!v.is_object() || v.value("mode", "").empty()) return;
  std::cout << "  requests checked against the training data's contract (" << v.value("mode", "") << "): "
            << v.value("checked", 0L) << ", invalid " << v.value("invalid", 0L) << ", rejected " << v.value("rejected", 0L);
  std::string sep = ": ";
  for (const auto& [k, n] : v["failures"].items()) {
    std::cout << sep << k << " " << n.get<long>();
    sep = ", ";
  }
  std::cout << "\n";
}

void print_status(Context& ctx, const json& st) {
  if (!st.value("running", false)) {
    std::cout << st["env"].get<std::string>() << ": " << ctx.paint("stopped", "yellow") << "\n";
    return;
  }
  std::cout << ctx.paint(st["env"].get<std::string>(), "bold") << "  " << st["url"].get<std::string>() << "  strategy "
            << st["strategy"].get<std::string>() << "  "
            << (st.value("healthy", false) ? ctx.paint("healthy", "green") : ctx.paint("unhealthy", "red")) << "\n";
  std::printf("  %-8s %-24s %6s %-8s %8s %6s %8s %8s %8s %8s\n", "ROLE", "VERSION", "WEIGHT", "STATE", "REQUESTS",
              "ERRORS", "P50 ms", "P90 ms", "P99 ms", "RESTARTS");
  for (const auto& v : st["versions"]) {
    std::string ver = v.value("model", "") + "@" + v.value("version", "");
    const json& lat = v.contains("latency_ms") ? v["latency_ms"] : json::object();
    std::printf("  %-8s %-24s %5d%% %-8s %8ld %6ld %8s %8s %8s %8d\n", v.value("role", "").c_str(), ver.c_str(),
                v.value("weight", 0), v.value("state", "").c_str(), v.value("requests", 0L), v.value("errors", 0L),
                fmt_ms(lat.value("p50", json())).c_str(), fmt_ms(lat.value("p90", json())).c_str(),
                fmt_ms(lat.value("p99", json())).c_str(), v.value("restarts", 0));
  }
  std::fflush(stdout);
  print_request_validation(st.value("request_validation", json()));
  for (const auto& n : st["notices"]) std::cout << "  note: " << n.value("ts", "") << " " << n.value("message", "") << "\n";
}

void register_deploy(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<deploy::DeployOptions>();
  auto* cmd = add_command(app, "deploy");
  cmd->add_option("model", o->ref, "NAME#STAGE or NAME@VERSION (default: deployments.ENV.model in mlo.yaml)");
  cmd->add_option("--env", o->env, "Environment name (e.g. production)");
  cmd->add_option("--artifact", o->artifact, "Serve this model file instead of a registered model");
  cmd->add_option("--target", o->target, "local (default), batch or k8s");
  cmd->add_option("--strategy", o->strategy, "replace (default), blue-green, canary, shadow, ab or bandit");
  cmd->add_option("--weight", o->weight, "Percent of requests for the canary (default 10) or mirrored to the shadow (100)");
  cmd->add_option("--split", o->split, "How the canary share is picked: deterministic (default) or random; ab: arm B's percent");
  cmd->add_option("--sticky-key", o->sticky_key, "ab: header or JSON body field whose hash keeps each user on one arm");
  cmd->add_option("--runner", o->runner, "Inference runner: native, sklearn, a plugin name (mlo-serve-NAME) or a path");
  cmd->add_option("--host", o->host, "Address the router binds (default 127.0.0.1)");
  cmd->add_option("--port", o->port, "Port of the router (default: a free port)");
  cmd->add_option("--ready-timeout", o->ready_timeout_s, "Seconds to wait for a runner to become ready (default 30)");
  cmd->add_option("--threads", o->threads, "Router worker threads (default 4)");
  cmd->add_option("--input", o->input, "batch: the file to score (CSV; may be a tracked dataset)");
  cmd->add_option("--output", o->output, "batch: where the predictions go (default INPUT.MODEL-VERSION.predictions.csv)");
  cmd->add_option("--outputs", o->outputs, "batch: the model outputs to write, e.g. predict,predict_proba (default predict)")
      ->delimiter(',');
  cmd->add_flag("--apply", o->apply, "k8s: run 'kubectl apply' when kubectl has a context");
  cmd->add_option("--image", o->image, "k8s: container image of the inference runner");
  cmd->add_flag("--strict-env", o->strict_env,
                "Refuse (exit 1) when the serving python differs from the training run's in a package the model needs");
  cmd->callback([&ctx, cmd, o] {
    if (!cmd->get_subcommands().empty()) return;
    ctx.action = [&ctx, o] {
      if (o->env.empty()) throw UsageError("--env is required", "e.g. mlo deploy iris#production --env production");
      json r = deploy::deploy(ctx.repo(), *o).doc;
      if (ctx.global.json) return ctx.print_json(r);
      if (ctx.global.quiet) return;
      std::string target = r["target"];
      if (target == "local" && !r.value("changed", true)) {
        std::cout << r["message"].get<std::string>() << "\n";
      } else if (target == "local") {
        std::cout << "Deployed " << r["model"].get<std::string>() << "@" << r["version"].get<std::string>() << " to '"
                  << r["env"].get<std::string>() << "' (" << r["strategy"].get<std::string>();
        if (!r["candidate"].is_null()) std::cout << ", " << r["weight"].get<int>() << "% of requests";
        std::cout << ") at " << r["url"].get<std::string>() << "\n";
        std::cout << "Try: curl " << r["url"].get<std::string>() << "/v2/health/ready ; mlo deploy status "
                  << r["env"].get<std::string>() << "\n";
      } else if (target == "batch") {
        std::cout << "Scored " << r["rows"] << " rows of " << r["input"].get<std::string>() << " with "
                  << r["model"].get<std::string>() << "@" << r["version"].get<std::string>() << " into "
                  << r["output"].get<std::string>() << " (tracked by " << r["pointer"].get<std::string>() << ")\n";
      } else {
        std::cout << "Rendered " << r["manifest"].get<std::string>() << " (";
        bool first = true;
        for (const auto& k : r["kinds"]) std::cout << (first ? "" : ", ") << k.get<std::string>(), first = false;
        std::cout << ")\n";
        if (r.value("applied", false)) std::cout << r.value("kubectl_output", "");
        else if (r.contains("apply_skipped"))
          std::cout << "Not applied: " << r["apply_skipped"].get<std::string>() << ". Run: " << r["apply_command"].get<std::string>() << "\n";
        else std::cout << "To apply: " << r["apply_command"].get<std::string>() << "\n";
        std::cout << "Once rolled out, delete the ConfigMaps of versions no pod reads: "
                  << r["prune_command"].get<std::string>() << "\n";
      }
    };
  });

  auto* ls = add_command(*cmd, "ls", "List deployments");
  ctx.on_run(ls, [&ctx] {
    json rows = deploy::list_deployments(ctx.repo());
    if (ctx.global.json) return ctx.print_json(rows);
    if (rows.empty()) {
      if (!ctx.global.quiet) std::cout << "No deployments. Start one with 'mlo deploy MODEL --env ENV'.\n";
      return;
    }
    std::printf("%-16s %-8s %-28s %-24s %-24s\n", "ENV", "STATE", "URL", "PRIMARY", "CANDIDATE");
    for (const auto& r : rows) {
      std::string cand = r["candidate"].is_null() ? "-" : brief(r["candidate"]) + " (" + std::to_string(r.value("weight", 0)) + "%)";
      std::printf("%-16s %-8s %-28s %-24s %-24s\n", r["env"].get<std::string>().c_str(),
                  r.value("running", false) ? "running" : "stopped",
                  r["url"].is_null() ? "-" : r["url"].get<std::string>().c_str(), brief(r["primary"]).c_str(), cand.c_str());
    }
  });

  auto env = std::make_shared<std::string>();
  auto* status = add_command(*cmd, "status", "Versions, weights, health, request/error counts and latency of an environment");
  status->add_option("env", *env, "Environment")->required();
  ctx.on_run(status, [&ctx, env] {
    json st = deploy::deploy_status(ctx.repo(), *env);
    if (ctx.global.json) return ctx.print_json(st);
    print_status(ctx, st);
    if (st.value("running", false) && !st.value("healthy", false)) ctx.exit_code = 1;
  });

  auto lines = std::make_shared<int>(20);
  auto* logs = add_command(*cmd, "logs", "Show the router's and runners' logs of an environment");
  logs->add_option("env", *env, "Environment")->required();
  logs->add_option("-n,--lines", *lines, "Lines from the end of each log (default 20; 0: all)");
  ctx.on_run(logs, [&ctx, env, lines] {
    for (const auto& f : deploy::deployment_logs(ctx.repo(), *env)) {
      std::string text = read_file(f);
      if (*lines > 0) {
        std::size_t pos = text.size();
        if (pos && text.back() == '\n') --pos;
        for (int i = 0; i < *lines && pos != std::string::npos && pos > 0; ++i) pos = text.rfind('\n', pos - 1);
        if (pos != std::string::npos && pos < text.size()) text = text.substr(pos == 0 ? 0 : pos + 1);
      }
      std::cout << ctx.paint("==> " + f.string() + " <==", "bold") << "\n" << text;
      if (!text.empty() && text.back() != '\n') std::cout << "\n";
    }
  });

  auto simple = [&](const char* name, const char* summary, auto fn, const char* verb) {
    auto* sub = add_command(*cmd, name, summary);
    sub->add_option("env", *env, "Environment")->required();
    ctx.on_run(sub, [&ctx, env, fn, verb] {
      json r = fn(ctx.repo(), *env);
      if (ctx.global.json) return ctx.print_json(r);
      if (ctx.global.quiet) return;
      std::string e = *env;
      if (std::string(verb) == "stopped") {
        std::cout << (r.value("was_running", false) ? "Stopped '" + e + "' (router and runners)\n"
                                                     : "'" + e + "' was not running\n");
      } else {
        std::cout << verb << " '" << e << "': now serving " << brief(r["primary"]);
        if (!r["candidate"].is_null()) std::cout << " with " << brief(r["candidate"]) << " at " << r.value("weight", 0) << "%";
        std::cout << "\n";
      }
    });
  };
  simple("stop", "Stop an environment's router and runners", deploy::stop_deployment, "stopped");
  simple("promote", "Give the canary/shadow all traffic (or finish a blue-green switch)", deploy::promote_deployment, "Promoted");
  simple("rollback", "Back to the previous version (aborts a canary/shadow)", deploy::rollback_deployment, "Rolled back");

  auto weight = std::make_shared<int>(-1);
  auto* traffic = add_command(*cmd, "traffic", "Change the canary's (or shadow's) share of requests");
  traffic->add_option("env", *env, "Environment")->required();
  traffic->add_option("--weight", *weight, "Percent 0..100")->required();
  ctx.on_run(traffic, [&ctx, env, weight] {
    json r = deploy::set_traffic(ctx.repo(), *env, *weight);
    if (ctx.global.json) return ctx.print_json(r);
    if (!ctx.global.quiet)
      std::cout << "'" << *env << "': " << brief(r["candidate"]) << " now gets " << *weight << "% of requests\n";
  });

  auto hist_env = std::make_shared<std::string>();
  auto* history = add_command(*cmd, "history", "Deployment events (deploy, traffic, promote, rollback, stop)");
  history->add_option("env", *hist_env, "Only this environment");
  ctx.on_run(history, [&ctx, hist_env] {
    auto events = deploy::list_deploy_events(ctx.repo(), *hist_env);
    if (ctx.global.json) {
      json a = json::array();
      for (const auto& e : events) a.push_back(deploy::to_json(e));
      return ctx.print_json(a);
    }
    for (const auto& e : events)
      std::printf("%s  %-12s %-15s %s\n", e.ts.c_str(), e.env.c_str(), e.action.c_str(), event_what(e).c_str());
  });

  register_deploy_experiment(*cmd, ctx);

  // Internal: the long-lived router process that `mlo deploy` starts.
  auto host = std::make_shared<std::string>("127.0.0.1");
  auto port = std::make_shared<int>(0);
  auto threads = std::make_shared<int>(2);
  auto* serve = add_command(*cmd, "serve-router", "Run an environment's router in the foreground (started by mlo deploy)");
  serve->group("");  // hidden from help
  serve->add_option("env", *env, "Environment")->required();
  serve->add_option("--host", *host, "Bind address");
  serve->add_option("--port", *port, "Port (0: any free port)");
  serve->add_option("--threads", *threads, "Worker threads");
  ctx.on_run(serve, [&ctx, env, host, port, threads] {
    ctx.exit_code = deploy::serve_router(ctx.repo(), *env, *host, *port, *threads);
  });
}

}  // namespace
MLO_REGISTER_COMMANDS(70, register_deploy,
                      {"deploy", "Serve a model version (local router, batch scoring, Kubernetes manifests)"});
}  // namespace mlo::cli
