// mlo ui: the read-only local web app (lib/ui/server.h).
#include <optional>

#include "command.h"
#include "core/progress.h"
#include "ui/server.h"

namespace mlo::cli {
namespace {

void register_ui(CLI::App& app, Context& ctx) {
  auto* cmd = add_command(app, "ui");
  auto o = std::make_shared<ui::UiOptions>();
  cmd->add_option("-p,--port", o->port, "Port to listen on (default 8765; 0: any free port)")->check(CLI::Range(0, 65535));
  cmd->add_option("--host", o->host,
                  "Address to bind (default 127.0.0.1); any other than loopback requires the token printed at start");
  ctx.on_run(cmd, [&ctx, o] {
    if (!ui::is_loopback_host(o->host)) o->token = ui::new_token();
    Repo& repo = ctx.repo();
    // Opening the index and binding can take a moment on a big repository.
    std::optional<ProgressPhase> starting(std::in_place, "mlo ui: starting", 0, 0, "");
    ui::serve_ui(repo, *o, [&ctx, o, &starting](const std::string& url) {
      starting.reset();  // the line is erased before the URL is printed
      if (ctx.global.json) {
        ctx.print_json({{"url", url}, {"token", o->token.empty() ? nlohmann::json(nullptr) : nlohmann::json(o->token)}});
      } else {
        std::cout << "mlo ui: serving " << url << "\n";
        if (!o->token.empty())
          std::cout << "A token is required on " << o->host << ": open the URL above (it sets a cookie), or send "
                    << "'Authorization: Bearer " << o->token << "'.\n";
        std::cout << "Read-only. Ctrl-C stops it.\n";
      }
      std::cout.flush();
    });
  });
}

}  // namespace
MLO_REGISTER_COMMANDS(46, register_ui, {"ui", "Browse runs, plots, models, lineage, deployments and monitors in a local web app"});
}  // namespace mlo::cli
