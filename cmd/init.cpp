// mlo init
#include "command.h"
#include "core/log.h"

namespace mlo::cli {
namespace {

void register_init(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<InitOptions>();
  auto* cmd = add_command(app, "init");
  cmd->add_flag("--git", opts->create_git, "Run 'git init' first when there is no git repository");
  cmd->add_flag("-f,--force", opts->force, "Rewrite .mlo/config.yaml with the defaults");
  ctx.on_run(cmd, [&ctx, opts] {
    InitResult r = init_repo(".", *opts);
    if (ctx.global.json) {
      ctx.print_json({{"root", r.root.string()},
                      {"already_initialized", r.already_initialized},
                      {"created_git", r.created_git}});
      return;
    }
    if (ctx.global.quiet) return;
    if (r.created_git) std::cout << "Initialized empty git repository in " << r.root.string() << "\n";
    if (r.already_initialized && !opts->force)
      std::cout << "mlo is already set up in " << r.root.string() << " (nothing changed)\n";
    else
      std::cout << (r.already_initialized ? "Reinitialized" : "Initialized") << " mlo in "
                << (r.root / ".mlo").string() << "\n"
                << "Next: 'mlo data add PATH' to version data, then 'git commit'.\n";
  });
}

}  // namespace
MLO_REGISTER_COMMANDS(10, register_init,
                      {"init", "Set up mlo in a git repository"});
}  // namespace mlo::cli
